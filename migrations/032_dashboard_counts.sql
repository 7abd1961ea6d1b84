-- The admin dashboard's sessions by risk level probed risk_assessments once per session for its
-- latest assessment (6.2 s at 500,000 sessions, about a minute at 5 M), and counted every row of
-- session_activity for the number of sessions.
--
-- Each session's latest risk level is now kept on its row, written with the assessment (the
-- refresh path's batch of assessments sets it where it changed; a sign-in's when its assessment
-- is attached to the session), and the sessions are counted by level as rows come, change level
-- and go (session_counts, by statement triggers: one upsert per statement, whatever its rows).
ALTER TABLE session_activity ADD COLUMN risk_level text;
-- Once, for the sessions already there: one pass over the assessments, not a probe per session.
UPDATE session_activity a SET risk_level = r.level
  FROM (SELECT DISTINCT ON (session_uid) session_uid, level FROM risk_assessments
        WHERE session_uid IS NOT NULL ORDER BY session_uid, at DESC, id DESC) r
  WHERE a.session_uid = r.session_uid;
-- The admin sessions list filtered by a level walks the sessions newest first until its page is
-- full: for the rare levels, an index of those sessions only (a level changes rarely; the updates
-- of last_seen_at were never HOT, it is indexed already).
CREATE INDEX session_activity_risky ON session_activity (risk_level, last_seen_at DESC, session_uid DESC)
  WHERE risk_level IN ('medium', 'high');

-- Sessions by risk level ('none': no assessment yet, or the risk engine off). A level's count is
-- the sum of its shards: concurrent sign-ins mostly update different rows.
CREATE TABLE session_counts (
  risk_level text NOT NULL,
  shard smallint NOT NULL,
  sessions bigint NOT NULL,
  PRIMARY KEY (risk_level, shard)
);
INSERT INTO session_counts (risk_level, shard, sessions)
  SELECT coalesce(risk_level, 'none'), 0, count(*) FROM session_activity GROUP BY 1;

-- Adds deltas by level, each to a shard picked at random, in the order of the levels (two
-- statements locking rows of session_counts lock them in the same order: no deadlock).
CREATE FUNCTION session_counts_add(levels text[], deltas bigint[]) RETURNS void LANGUAGE sql AS $$
  INSERT INTO session_counts AS c (risk_level, shard, sessions)
  SELECT level, floor(random() * 16)::smallint, delta FROM unnest(levels, deltas) AS d(level, delta) WHERE delta <> 0 ORDER BY level
  ON CONFLICT (risk_level, shard) DO UPDATE SET sessions = c.sessions + EXCLUDED.sessions
$$;

CREATE FUNCTION session_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    DELETE FROM session_counts;
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM session_counts_add(array_agg(level), array_agg(n)) FROM (
      SELECT coalesce(risk_level, 'none') AS level, count(*) AS n FROM new_rows GROUP BY 1) changes;
  ELSIF TG_OP = 'DELETE' THEN
    PERFORM session_counts_add(array_agg(level), array_agg(n)) FROM (
      SELECT coalesce(risk_level, 'none') AS level, -count(*) AS n FROM old_rows GROUP BY 1) changes;
  ELSE
    PERFORM session_counts_add(array_agg(level), array_agg(n)) FROM (
      SELECT level, sum(n)::bigint AS n FROM (
        SELECT coalesce(risk_level, 'none') AS level, 1 AS n FROM new_rows
        UNION ALL SELECT coalesce(risk_level, 'none'), -1 FROM old_rows) moved
      GROUP BY level HAVING sum(n) <> 0) changes;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER session_counts_insert AFTER INSERT ON session_activity
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_counts_track();
CREATE TRIGGER session_counts_update AFTER UPDATE ON session_activity
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION session_counts_track();
CREATE TRIGGER session_counts_delete AFTER DELETE ON session_activity
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION session_counts_track();
CREATE TRIGGER session_counts_truncate AFTER TRUNCATE ON session_activity
  FOR EACH STATEMENT EXECUTE FUNCTION session_counts_track();

-- The dashboard's decisions of the last 24 hours read every assessment of the day (65,000 rows,
-- 121 ms at 500,000 grants; ten times that at 5 M). Decisions are counted by hour (UTC, from
-- the epoch) as assessments are stored, in the statement that stores them; the dashboard adds up
-- the whole hours and reads the assessments of the first, partial hour only.
CREATE TABLE risk_decision_counts (
  hour timestamptz NOT NULL,
  action text NOT NULL,
  decisions bigint NOT NULL,
  PRIMARY KEY (hour, action)
);
-- Once: the last two days (what the dashboard reads), through the index on the assessments' time.
INSERT INTO risk_decision_counts (hour, action, decisions)
  SELECT date_bin('1 hour', at, 'epoch'::timestamptz), decision->>'action', count(*) FROM risk_assessments
  WHERE at >= now() - interval '2 days' GROUP BY 1, 2;

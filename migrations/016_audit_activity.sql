-- What the admin overview counts per hour and per day (src/admin/activity.ts): each audit entry's
-- kind of activity, or NULL. A stored column, so that the counts are an index-only scan of the
-- index below (an expression index cannot serve one, and the planner preferred audit_log_at's
-- range over it, reading every refresh and page view of the window). Adding it rewrites
-- audit_log once. The hash chain does not cover it: it is derived from what the chain covers.
ALTER TABLE audit_log ADD COLUMN activity text GENERATED ALWAYS AS (CASE
  WHEN action = 'login' AND outcome = 'success' THEN 'sign_in'
  WHEN action = 'login' AND outcome = 'denied' THEN 'denial'
  WHEN action IN ('risk.login', 'risk.refresh') AND details->'decision'->>'action' IN ('mfa', 'step_up') THEN 'challenge'
  WHEN action IN ('revocation.session', 'revocation.grant', 'revocation.account', 'revocation.client')
    AND (details->'sessions' <> '[]'::jsonb OR details->'grants' <> '[]'::jsonb OR details->'tokens' > '0'::jsonb) THEN 'revocation'
END) STORED;

-- Only those entries: a small fraction of a trail full of refreshes and page views.
CREATE INDEX audit_log_activity ON audit_log (at) INCLUDE (activity) WHERE activity IS NOT NULL;

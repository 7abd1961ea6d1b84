-- The admin overview's activity charts count four kinds of audit entry per hour or day
-- (src/admin/activity.ts, ACTIVITY_KIND_SQL: the expression below must stay identical to it, or
-- the planner no longer proves the index's predicate and reads the whole trail's time range).
-- A partial index: only these entries, a small fraction of a trail full of refreshes and page views.
CREATE INDEX audit_log_activity ON audit_log (at, (CASE
  WHEN action = 'login' AND outcome = 'success' THEN 'sign_in'
  WHEN action = 'login' AND outcome = 'denied' THEN 'denial'
  WHEN action IN ('risk.login', 'risk.refresh') AND details->'decision'->>'action' IN ('mfa', 'step_up') THEN 'challenge'
  WHEN action IN ('revocation.session', 'revocation.grant', 'revocation.account', 'revocation.client')
    AND (details->'sessions' <> '[]'::jsonb OR details->'grants' <> '[]'::jsonb OR details->'tokens' > '0'::jsonb) THEN 'revocation'
END))
WHERE (CASE
  WHEN action = 'login' AND outcome = 'success' THEN 'sign_in'
  WHEN action = 'login' AND outcome = 'denied' THEN 'denial'
  WHEN action IN ('risk.login', 'risk.refresh') AND details->'decision'->>'action' IN ('mfa', 'step_up') THEN 'challenge'
  WHEN action IN ('revocation.session', 'revocation.grant', 'revocation.account', 'revocation.client')
    AND (details->'sessions' <> '[]'::jsonb OR details->'grants' <> '[]'::jsonb OR details->'tokens' > '0'::jsonb) THEN 'revocation'
END) IS NOT NULL;

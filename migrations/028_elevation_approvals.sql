-- Who approved an elevation, with what sign-in. One approval per approver and request; the
-- requester never approves their own (checked by the service, kept here too).
CREATE TABLE elevation_approvals (
  elevation_id text NOT NULL REFERENCES elevations (id) ON DELETE CASCADE,
  approver_id text NOT NULL,
  acr text NOT NULL,
  approved_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (elevation_id, approver_id)
);

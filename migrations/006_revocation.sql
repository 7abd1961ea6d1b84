-- Back-channel logout tokens owed to relying parties of ended sessions (OpenID Back-Channel
-- Logout 1.0). A durable queue: a revocation adds rows and returns; every instance's worker
-- delivers the due ones (FOR UPDATE SKIP LOCKED, so each is sent by one worker at a time),
-- retrying with backoff; the admin console shows the failures.
CREATE TABLE backchannel_logouts (
  id bigserial PRIMARY KEY,
  client_id text NOT NULL,
  account_id text NOT NULL,
  session_uid text NOT NULL,
  sid text NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);
CREATE INDEX backchannel_logouts_due ON backchannel_logouts (next_attempt_at) WHERE status = 'pending';
CREATE INDEX backchannel_logouts_created ON backchannel_logouts (created_at);
CREATE INDEX backchannel_logouts_client ON backchannel_logouts (client_id, created_at DESC);

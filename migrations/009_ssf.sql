-- Shared Signals (OpenID SSF 1.0). Vigil as a transmitter: one event stream per relying party
-- (ssf_streams), the subjects it asked for (ssf_stream_subjects), and a durable outbox of the
-- Security Event Tokens owed to it (ssf_events), written in the path of the change itself.
-- Push streams are drained by a worker (FOR UPDATE SKIP LOCKED, retries with backoff, as
-- backchannel_logouts); poll streams keep their rows pending until the receiver acknowledges them.
CREATE TABLE ssf_streams (
  id text PRIMARY KEY,
  client_id text NOT NULL UNIQUE,
  audience text NOT NULL,
  delivery_method text NOT NULL CHECK (delivery_method IN ('urn:ietf:rfc:8935', 'urn:ietf:rfc:8936')),
  endpoint_url text,
  authorization_sealed text,
  events_requested text[] NOT NULL DEFAULT '{}',
  events_delivered text[] NOT NULL DEFAULT '{}',
  description text,
  status text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'paused', 'disabled')),
  status_reason text,
  all_subjects boolean NOT NULL DEFAULT false,
  last_verification_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ssf_stream_subjects (
  stream_id text NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
  account_id text NOT NULL,
  PRIMARY KEY (stream_id, account_id)
);
CREATE INDEX ssf_stream_subjects_account ON ssf_stream_subjects (account_id);

CREATE TABLE ssf_events (
  id bigserial PRIMARY KEY,
  stream_id text NOT NULL REFERENCES ssf_streams (id) ON DELETE CASCADE,
  jti text NOT NULL UNIQUE,
  event_type text NOT NULL,
  -- The SET's claims but iss, aud, iat and jti (added when it is signed, at delivery).
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);
CREATE INDEX ssf_events_due ON ssf_events (next_attempt_at) WHERE status = 'pending';
CREATE INDEX ssf_events_stream ON ssf_events (stream_id, id) WHERE status = 'pending';
CREATE INDEX ssf_events_created ON ssf_events (created_at);

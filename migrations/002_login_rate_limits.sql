-- Failed sign-in counters shared by every instance in Postgres-only mode (rate-limiter-flexible's layout).
CREATE TABLE login_rate_limits (
  key varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);

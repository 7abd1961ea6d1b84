export const USAGE = `usage: vigil <command> [options] [--json]

  migrate                                   apply pending database migrations
  user create --email E [--password P] [--name N] [--role R]...
  user list
  user disable --email E                    (also revokes every grant and session it holds)
  user set-roles --email E (--role R... | --clear)   (a CAEP token-claims-change goes to its streams)
  user require-step-up --email E [--acr ACR] [--reason TEXT]
  user invite EMAIL [--name N] [--role R]...   mail EMAIL a link to set up an account (docs/admin-api.md, Invitations)
  invitation list [--all]                   pending invitations (--all: used, revoked and expired ones too)
  invitation revoke ID                      the link stops working at once
  client create --name N [--redirect-uri U]... [--public] [--grant-type G]...
                [--application-type web|native] [--post-logout-redirect-uri U]...
                [--backchannel-logout-uri U] [--allow-resource URI]... [--introspect-any]
                [--default-acr ACR] [--forward-end-user] [--authzen-claims JSON]
                [--resource-server [--resource URI] [--scope S]... [--token-format jwt|opaque]
                 [--access-token-ttl SECONDS]]
  registration-token create [--expires-in SECONDS]
  scim-token create --client ID [--expires-in DAYS]   a long-lived SCIM provisioning token (default 365 days, at most 730), shown once
  scim-token list                           provisioning tokens: id, client, status, expiry, last use (never the token)
  scim-token revoke ID                      the token stops working at once
  keys rotate | keys list
  audit verify
  mail list                                 mail kept in the outbox (no VIGIL_SMTP_URL): time, to, subject, id
  mail show --id ID                         one message of the outbox, its text (and links) included
  role eligible EMAIL ROLE [--withdraw]     who may ask for an elevatable role (VIGIL_ELEVATION_FILE; docs/elevation.md)
  elevation request --email E --role R (--minutes M | --seconds S) --reason TEXT
  elevation approve ID --as APPROVER_EMAIL  (the approver holds the role's approver role; never the requester)
  elevation deny ID --reason TEXT | elevation revoke ID --reason TEXT
  elevation list [--status pending|active|denied|revoked|expired] [--email E]
  federation seal PROVIDER FIELD            seal a secret of the federation file (read from standard input), e.g. client_secret
  federation test PROVIDER                  fetch the provider's discovery / metadata (or bind): exit 0 with what it found
  federation list                           the providers of VIGIL_FEDERATION_FILE
  risk replay --input events.jsonl [--policy FILE] [--access-policy PATH]...
                                            (no database needed; format in docs/risk.md)
  policy check [--policy PATH]...           validate the access policy (VIGIL_ACCESS_POLICY unless named; docs/policy.md)
  policy test FILE [--policy PATH]...       run a fixture of requests with expected decisions; exit 1 on a mismatch

Uses the same settings (environment, config/vigil.json) as the server. With the embedded
database and the server running, the server carries out the command (docs/architecture.md).`;

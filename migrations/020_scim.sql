-- SCIM 2.0 provisioning: what a provisioning client stored about an account beyond accounts'
-- own columns (externalId, name, emails, the enterprise extension), and whether it deleted it.
CREATE TABLE scim_users (
  account_id text PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
  external_id text,
  attributes jsonb NOT NULL DEFAULT '{}',
  deleted boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Groups a provisioning client pushes, and their members (accounts); a mapping in configuration
-- (VIGIL_SCIM_GROUP_ROLES) turns membership into roles.
CREATE TABLE scim_groups (
  id text PRIMARY KEY,
  display_name text NOT NULL,
  external_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX scim_groups_display_name_key ON scim_groups (lower(display_name));
CREATE TABLE scim_group_members (
  group_id text NOT NULL REFERENCES scim_groups (id) ON DELETE CASCADE,
  account_id text NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, account_id)
);
CREATE INDEX scim_group_members_account ON scim_group_members (account_id);

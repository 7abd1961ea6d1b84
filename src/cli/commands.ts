import { randomBytes } from 'node:crypto';
import type { ClientMetadata } from 'oidc-provider';
import type { Core } from '../core.ts';
import { ACR, ACR_VALUES, type AcrValue } from '../config/index.ts';
import { AccountError, changeRoles, passwordProblem } from '../identity/index.ts';
import { listSigningKeys, loadJwks, rotateSigningKeys, resourceIdentifierSchema, scopeTokenSchema } from '../oidc/index.ts';
import { requirePersonStepUp } from '../sessions/index.ts';
import { parse, positiveInt, required, UsageError } from './args.ts';
import { ADMIN_READ_SCOPE, ADMIN_SCOPE, adminResource } from '../admin/index.ts';

export interface Output {
  /** Machine-readable result (printed as JSON with --json). */
  data: unknown;
  /** What a person reads. */
  text: string;
}

type Command = (core: Core, argv: string[]) => Promise<Output>;

const GRANT_TYPES = new Set(['authorization_code', 'refresh_token', 'client_credentials']);

async function userCreate(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { email: { type: 'string' }, password: { type: 'string' }, name: { type: 'string' }, role: { type: 'string', multiple: true } });
  const email = required(a.email, '--email');
  if (a.password !== undefined) {
    const problem = passwordProblem(a.password);
    if (problem) throw new UsageError(`--password ${problem}`);
  }
  const generated = a.password === undefined ? randomBytes(18).toString('base64url') : undefined;
  const account = await core.accounts.create({ email, password: a.password ?? generated, displayName: a.name, roles: a.role ?? [] });
  await core.audit.append({ actor: 'cli', action: 'account.created', subject: account.id, outcome: 'success', details: { email: account.email, roles: account.roles } });
  return {
    data: { id: account.id, email: account.email, name: account.displayName, roles: account.roles, ...(generated ? { password: generated } : {}) },
    text: `created ${account.email} (${account.id})${account.roles.length ? ` roles: ${account.roles.join(', ')}` : ''}${generated ? `\npassword (shown once): ${generated}` : ''}`,
  };
}

async function userList(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  const accounts = await core.accounts.list();
  return {
    data: accounts.map((x) => ({ id: x.id, email: x.email, name: x.displayName, roles: x.roles, disabled: x.disabled, createdAt: x.createdAt.toISOString() })),
    text: accounts.map((x) => `${x.email}\t${x.roles.join(',') || '-'}\t${x.disabled ? 'disabled' : 'active'}\t${x.id}`).join('\n') || '(no accounts)',
  };
}

async function userRequireStepUp(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { email: { type: 'string' }, acr: { type: 'string' }, reason: { type: 'string' } });
  const email = required(a.email, '--email');
  const acr = a.acr ?? ACR.twoFactor;
  if (!ACR_VALUES.includes(acr as AcrValue)) throw new UsageError(`--acr must be one of ${ACR_VALUES.join(', ')}`);
  const account = await core.accounts.findByEmail(email);
  if (!account) throw new UsageError(`no account with email ${email}`);
  const reason = a.reason ?? 'required by an administrator';
  const owed = await requirePersonStepUp(core, account.id, acr, reason);
  await core.audit.append({
    actor: 'cli', action: 'account.step_up_required', subject: account.id, outcome: 'success', details: { acr: owed.acr, reason, grants: owed.grants, sessions: owed.sessions },
  });
  const since = new Date(owed.since * 1000).toISOString();
  return {
    data: { id: account.id, email: account.email, acr: owed.acr, since, grants: owed.grants, sessions: owed.sessions },
    text: `${account.email} must sign in again at ${owed.acr}: refreshes from sign-ins before ${since} are refused for the ${owed.grants} grant(s) `
      + `they hold (with a live session or not); ${owed.sessions} live session(s) will be asked for the step-up`,
  };
}

async function userDisable(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { email: { type: 'string' } });
  const email = required(a.email, '--email');
  const account = await core.accounts.setDisabled(email, true);
  if (!account) throw new UsageError(`no account with email ${email}`);
  // A disabled account keeps nothing: its grants, tokens and sessions end now.
  await core.audit.append({ actor: 'cli', action: 'account.disabled', subject: account.id, outcome: 'success' });
  const revoked = await core.revocations.account(account.id, { initiator: 'admin', actor: 'cli', reason: 'account disabled' });
  return {
    data: { id: account.id, email: account.email, disabled: true, grantsRevoked: revoked.grants.length, sessionsEnded: revoked.sessions.length },
    text: `disabled ${account.email}; ended ${revoked.sessions.length} session(s) and revoked ${revoked.grants.length} grant(s)`,
  };
}

async function userSetRoles(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { email: { type: 'string' }, role: { type: 'string', multiple: true }, clear: { type: 'boolean' } });
  const email = required(a.email, '--email');
  const roles = a.role ?? [];
  if (roles.length === 0 && !a.clear) throw new UsageError('name the roles with --role (repeatable), or --clear to remove them all');
  if (roles.length > 0 && a.clear) throw new UsageError('--clear and --role exclude each other');
  const found = await core.accounts.findByEmail(email);
  if (!found) throw new UsageError(`no account with email ${email}`);
  const done = await changeRoles({ accounts: core.accounts, securityEvents: core.ssf.outbox }, found.id, roles, 'admin', 'roles changed with the CLI');
  if (!done) throw new UsageError(`no account with email ${email}`);
  await core.audit.append({
    actor: 'cli', action: 'account.roles_changed', subject: found.id, outcome: 'success', details: { previous: done.previous, roles: done.account.roles },
  });
  return {
    data: { id: found.id, email: done.account.email, roles: done.account.roles, previous: done.previous, changed: done.changed },
    text: done.changed ? `${done.account.email}: roles ${done.account.roles.join(', ') || '(none)'} (were ${done.previous.join(', ') || '(none)'})` : `${done.account.email}: roles unchanged`,
  };
}

async function clientCreate(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, {
    name: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
    'post-logout-redirect-uri': { type: 'string', multiple: true },
    'backchannel-logout-uri': { type: 'string' },
    'application-type': { type: 'string' },
    public: { type: 'boolean' },
    'grant-type': { type: 'string', multiple: true },
    'resource-server': { type: 'boolean' },
    resource: { type: 'string' },
    scope: { type: 'string', multiple: true },
    'token-format': { type: 'string' },
    'access-token-ttl': { type: 'string' },
    'allow-resource': { type: 'string', multiple: true },
    'introspect-any': { type: 'boolean' },
    'forward-end-user': { type: 'boolean' },
    'admin-tool': { type: 'boolean' },
    'default-acr': { type: 'string' },
  });
  const name = required(a.name, '--name');
  if (a['default-acr'] && !ACR_VALUES.includes(a['default-acr'] as AcrValue)) throw new UsageError(`--default-acr must be one of ${ACR_VALUES.join(', ')}`);
  const redirectUris = a['redirect-uri'] ?? [];
  const grantTypes = a['grant-type'] ?? (redirectUris.length ? ['authorization_code', 'refresh_token'] : ['client_credentials']);
  for (const g of grantTypes) if (!GRANT_TYPES.has(g)) throw new UsageError(`--grant-type ${g} is not one of ${[...GRANT_TYPES].join(', ')}`);
  if (grantTypes.includes('authorization_code') && redirectUris.length === 0) throw new UsageError('--redirect-uri is required for the authorization_code grant');
  if (a.public && grantTypes.includes('client_credentials')) throw new UsageError('--public clients cannot use client_credentials');
  const applicationType = a['application-type'] ?? 'web';
  if (!['web', 'native'].includes(applicationType)) throw new UsageError('--application-type must be web or native');
  const tokenFormat = a['token-format'] ?? 'jwt';
  if (!['jwt', 'opaque'].includes(tokenFormat)) throw new UsageError('--token-format must be jwt or opaque');
  if (!a['resource-server'] && (a.resource || a['token-format'] || a['access-token-ttl'])) {
    throw new UsageError('--resource, --token-format and --access-token-ttl go with --resource-server');
  }
  // With --resource-server, --scope names the new resource's scopes; with --allow-resource, the scopes the client may get.
  if (a.scope && !a['resource-server'] && !a['allow-resource']) throw new UsageError('--scope goes with --resource-server (its scopes) or --allow-resource (the scopes the client may get)');
  const allowedScopes = a['resource-server'] ? undefined : a.scope;
  for (const s of a.scope ?? []) if (!scopeTokenSchema.safeParse(s).success) throw new UsageError(`--scope ${JSON.stringify(s)} is not a valid scope token`);

  const clientId = randomBytes(16).toString('base64url');
  const secret = a.public ? undefined : randomBytes(32).toString('base64url');
  const metadata: ClientMetadata = {
    client_id: clientId,
    client_name: name,
    application_type: applicationType as 'web' | 'native',
    grant_types: grantTypes,
    response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
    redirect_uris: redirectUris,
    token_endpoint_auth_method: a.public ? 'none' : 'client_secret_basic',
    ...(secret ? { client_secret: secret } : {}),
    ...(a['post-logout-redirect-uri'] ? { post_logout_redirect_uris: a['post-logout-redirect-uri'] } : {}),
    ...(a['backchannel-logout-uri'] ? { backchannel_logout_uri: a['backchannel-logout-uri'], backchannel_logout_session_required: true } : {}),
    ...(a['default-acr'] ? { default_acr_values: [a['default-acr']] } : {}),
    ...(a['introspect-any'] ? { vigil_introspection: true } : {}),
    ...(a['allow-resource'] ? { vigil_allowed_resources: a['allow-resource'] } : {}),
    ...(allowedScopes ? { vigil_allowed_scopes: allowedScopes } : {}),
    ...(a['forward-end-user'] ? { vigil_forwards_end_user: true } : {}),
    ...(a['admin-tool'] ? { vigil_admin_tool: true } : {}),
  };
  const resource = a['resource-server'] ? (a.resource ?? `urn:vigil:rs:${clientId}`) : undefined;
  if (resource && !resourceIdentifierSchema.safeParse(resource).success) throw new UsageError('--resource must be an absolute https, http or urn URI without a fragment');
  const ttl = a['access-token-ttl'] === undefined ? undefined : positiveInt(a['access-token-ttl'], '--access-token-ttl', 300, 86400);

  // The provider's own schema validates the metadata exactly as it will when the client is used.
  const provider = core.buildProvider((await loadJwks(core.stores.sql, core.keys)).keys);
  try {
    await provider.Client.validate(metadata);
  } catch (err) {
    const e = err as { error?: string; error_description?: string; message: string };
    throw new UsageError(`invalid client: ${e.error_description ?? e.message}`);
  }
  if (resource && await core.resourceServers.find(resource)) throw new UsageError(`--resource ${resource} is already registered`);
  const offered = new Set<string>();
  for (const allowed of a['allow-resource'] ?? []) {
    const rs = await core.resourceServers.find(allowed);
    if (!rs) throw new UsageError(`--allow-resource ${allowed} is not a registered resource server`);
    for (const s of rs.scopes) offered.add(s);
    // Administration is never granted by default: the scope (admin or admin:read) must be named.
    if (allowed === adminResource(core.config) && !allowedScopes) throw new UsageError(`--allow-resource ${allowed} needs --scope ${ADMIN_SCOPE} or --scope ${ADMIN_READ_SCOPE}`);
  }
  for (const s of allowedScopes ?? []) if (!offered.has(s)) throw new UsageError(`--scope ${s} is not a scope of the allowed resources`);
  if (a['allow-resource'] && !grantTypes.includes('client_credentials')) throw new UsageError('--allow-resource is for clients with the client_credentials grant');
  if (a['forward-end-user'] && (a.public || !grantTypes.includes('refresh_token'))) throw new UsageError('--forward-end-user is for confidential clients that refresh tokens (a public client\'s own address is the person\'s)');
  await core.adapters.for('Client').upsert(clientId, metadata);
  if (resource) await core.resourceServers.register({ identifier: resource, clientId, scopes: a.scope ?? [], tokenFormat: tokenFormat as 'jwt' | 'opaque', accessTokenTtl: ttl });
  await core.audit.append({ actor: 'cli', action: 'client.created', subject: clientId, outcome: 'success', details: { name, grantTypes, resource: resource ?? null } });
  const { client_secret: _hidden, ...shown } = metadata;
  return {
    data: { ...shown, ...(secret ? { client_secret: secret } : {}), ...(resource ? { resource, scopes: a.scope ?? [], token_format: tokenFormat } : {}) },
    text: [`client_id: ${clientId}`, secret ? `client_secret (shown once): ${secret}` : 'public client (no secret)', resource ? `resource: ${resource} (${tokenFormat} access tokens)` : ''].filter(Boolean).join('\n'),
  };
}

async function registrationTokenCreate(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { 'expires-in': { type: 'string' } });
  const expiresIn = positiveInt(a['expires-in'], '--expires-in', 86400, 365 * 86400);
  const provider = core.buildProvider((await loadJwks(core.stores.sql, core.keys)).keys);
  const token = await new provider.InitialAccessToken({ expiresIn }).save();
  const expiresAt = new Date(Date.now() + expiresIn * 1000).toISOString();
  await core.audit.append({ actor: 'cli', action: 'registration_token.created', outcome: 'success', details: { expiresAt } });
  return { data: { initial_access_token: token, expires_at: expiresAt }, text: `initial access token (shown once): ${token}\nexpires: ${expiresAt}` };
}

async function keysRotate(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  const { config } = core;
  // Retired keys stay published until every token they may have signed has expired.
  const { rows } = await core.stores.sql.query<{ ttl: number | null }>('SELECT max(access_token_ttl) AS ttl FROM resource_servers');
  const keep = Math.max(config.VIGIL_ACCESS_TOKEN_TTL, config.VIGIL_ID_TOKEN_TTL, config.VIGIL_CLIENT_CREDENTIALS_TTL, rows[0]?.ttl ?? 0) + 3600;
  const kids = await rotateSigningKeys(core.stores.sql, core.keys, config.VIGIL_KEY_PUBLISH_SECONDS, keep);
  await core.audit.append({ actor: 'cli', action: 'keys.rotated', outcome: 'success', details: { kids, publishSeconds: config.VIGIL_KEY_PUBLISH_SECONDS } });
  const keys = await listSigningKeys(core.stores.sql);
  return { data: { new: kids, keys }, text: `published ${kids.join(', ')}; they sign from ${keys.find((k) => k.kid === kids[0])?.signsFrom}` };
}

async function keysList(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  const keys = await listSigningKeys(core.stores.sql);
  return { data: keys, text: keys.map((k) => `${k.kid}\t${k.alg}\t${k.state}\tsigns from ${k.signsFrom}`).join('\n') };
}

async function auditVerify(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  const result = await core.audit.verify();
  if (!result.ok) return { data: result, text: `audit chain BROKEN at entry ${result.brokenAt} (${result.entries} entries)` };
  return { data: result, text: `audit chain intact (${result.entries} entries)` };
}

async function migrateCommand(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  // Opening the core applies pending migrations; this reports what it did.
  const { applied, current } = core.migrations;
  return { data: { applied, current }, text: applied.length ? `applied ${applied.join(', ')}` : `up to date (${current})` };
}

export const COMMANDS: Record<string, Command> = {
  'migrate': migrateCommand,
  'user create': userCreate,
  'user list': userList,
  'user disable': userDisable,
  'user set-roles': userSetRoles,
  'user require-step-up': userRequireStepUp,
  'client create': clientCreate,
  'registration-token create': registrationTokenCreate,
  'keys rotate': keysRotate,
  'keys list': keysList,
  'audit verify': auditVerify,
};

export { AccountError };

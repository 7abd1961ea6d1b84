import { randomBytes } from 'node:crypto';
import type { Core } from '../core.ts';
import { ACR, ACR_VALUES, type AcrValue } from '../config/index.ts';
import { AccountError, changeRoles, disableAccount, passwordProblem } from '../identity/index.ts';
import {
  ClientSettingsError, createRegistrationToken, listSigningKeys, loadJwks, registerClient, rotateSigningKeys, withDefaults,
  type ClientSettings, type ResourceServerSettings,
} from '../oidc/index.ts';
import { requirePersonStepUp } from '../sessions/index.ts';
import { parse, parseWithOperand, positiveInt, required, UsageError } from './args.ts';
import { invitationView, type Invitation } from '../invitations/index.ts';
import { clientSettingsDeps } from '../admin/index.ts';
import { ProvisioningTokens, provisioningRefusal, provisioningTokenView } from '../scim/index.ts';
import { ELEVATION_COMMANDS } from './elevation-commands.ts';

export interface Output {
  /** Machine-readable result (printed as JSON with --json). */
  data: unknown;
  /** What a person reads. */
  text: string;
}

type Command = (core: Core, argv: string[]) => Promise<Output>;

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
  // A disabled account keeps nothing: its grants, tokens and sessions end now.
  const done = await disableAccount({ accounts: core.accounts, revocations: core.revocations, securityEvents: core.ssf.outbox }, email,
    { initiator: 'admin', actor: 'cli', reason: 'account disabled' });
  if (!done) throw new UsageError(`no account with email ${email}`);
  const { account } = done;
  await core.audit.append({ actor: 'cli', action: 'account.disabled', subject: account.id, outcome: 'success' });
  return {
    data: { id: account.id, email: account.email, disabled: true, grantsRevoked: done.grants, sessionsEnded: done.sessions },
    text: `disabled ${account.email}; ended ${done.sessions} session(s) and revoked ${done.grants} grant(s)`,
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

const invitationLine = (i: Invitation) => `${i.email}\t${i.status}\texpires ${i.expiresAt.toISOString()}\t${i.roles.join(',') || '-'}\t${i.id}`;

async function userInvite(core: Core, argv: string[]): Promise<Output> {
  const a = parseWithOperand(argv, { name: { type: 'string' }, role: { type: 'string', multiple: true } }, 'email to invite');
  const invitation = await core.invitations.invite({ email: a.operand, name: a.name, roles: a.role ?? [] }, 'cli');
  await core.audit.append({ actor: 'cli', action: 'invitation.created', subject: invitation.id, outcome: 'success', details: { email: invitation.email, roles: invitation.roles } });
  return { data: invitationView(invitation), text: `invited ${invitation.email} (${invitation.id}); the link was mailed${core.config.VIGIL_SMTP_URL ? '' : ` to the outbox (vigil mail list)`} and expires ${invitation.expiresAt.toISOString()}` };
}

async function invitationList(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { all: { type: 'boolean' } });
  const invitations = await core.invitations.list({ pending: !a.all });
  return { data: invitations.map(invitationView), text: invitations.map(invitationLine).join('\n') || (a.all ? '(no invitations)' : '(no pending invitations)') };
}

async function invitationRevoke(core: Core, argv: string[]): Promise<Output> {
  const a = parseWithOperand(argv, {}, 'invitation id');
  const revoked = await core.invitations.revoke(a.operand);
  if (!revoked) throw new UsageError(`no invitation with id ${a.operand}`);
  await core.audit.append({ actor: 'cli', action: 'invitation.revoked', subject: revoked.id, outcome: 'success', details: { email: revoked.email } });
  return { data: invitationView(revoked), text: `revoked the invitation of ${revoked.email} (${revoked.id})` };
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
    'authzen-claims': { type: 'string' },
  });
  const name = required(a.name, '--name');
  if (!a['resource-server'] && (a.resource || a['token-format'] || a['access-token-ttl'])) {
    throw new UsageError('--resource, --token-format and --access-token-ttl go with --resource-server');
  }
  // With --resource-server, --scope names the new resource's scopes; with --allow-resource, the scopes the client may get.
  if (a.scope && !a['resource-server'] && !a['allow-resource']) throw new UsageError('--scope goes with --resource-server (its scopes) or --allow-resource (the scopes the client may get)');
  const tokenFormat = a['token-format'] ?? 'jwt';
  const settings = withDefaults({
    name,
    redirectUris: a['redirect-uri'],
    ...(a['post-logout-redirect-uri'] ? { postLogoutRedirectUris: a['post-logout-redirect-uri'] } : {}),
    ...(a['backchannel-logout-uri'] ? { backchannelLogoutUri: a['backchannel-logout-uri'] } : {}),
    applicationType: (a['application-type'] ?? 'web') as ClientSettings['applicationType'],
    public: a.public ?? false,
    grantTypes: a['grant-type'],
    ...(a['default-acr'] ? { defaultAcr: a['default-acr'] } : {}),
    ...(a['resource-server'] ? {
      resourceServer: {
        resource: a.resource, scopes: a.scope ?? [], tokenFormat: tokenFormat as ResourceServerSettings['tokenFormat'],
        accessTokenTtl: a['access-token-ttl'] === undefined ? undefined : positiveInt(a['access-token-ttl'], '--access-token-ttl', 300, 86400),
      },
    } : {}),
    ...(a['allow-resource'] ? { allowedResources: a['allow-resource'] } : {}),
    ...(!a['resource-server'] && a.scope ? { allowedScopes: a.scope } : {}),
    introspectAny: a['introspect-any'], forwardEndUser: a['forward-end-user'], adminTool: a['admin-tool'],
    ...(a['authzen-claims'] ? { authzenClaims: jsonArray(a['authzen-claims'], '--authzen-claims') } : {}),
  });
  let created;
  try {
    created = await registerClient(clientSettingsDeps(core, core.buildProvider((await loadJwks(core.stores.sql, core.keys)).keys)), settings);
  } catch (err) {
    if (!(err instanceof ClientSettingsError)) throw err;
    if (err.field === 'metadata') throw new UsageError(err.message);
    throw new UsageError(`${CLIENT_FLAGS[err.field]} ${err.problem}`);
  }
  const { clientId, clientSecret: secret, metadata, resourceServer: rs } = created;
  await core.audit.append({ actor: 'cli', action: 'client.created', subject: clientId, outcome: 'success', details: { name, grantTypes: settings.grantTypes, resource: rs?.identifier ?? null } });
  return {
    data: { ...metadata, ...(secret ? { client_secret: secret } : {}), ...(rs ? { resource: rs.identifier, scopes: rs.scopes, token_format: rs.tokenFormat } : {}) },
    text: [`client_id: ${clientId}`, secret ? `client_secret (shown once): ${secret}` : 'public client (no secret)', rs ? `resource: ${rs.identifier} (${rs.tokenFormat} access tokens)` : ''].filter(Boolean).join('\n'),
  };
}

/** The flag that sets each client setting, for the CLI's messages. */
const CLIENT_FLAGS: Record<keyof ClientSettings, string> = {
  name: '--name', redirectUris: '--redirect-uri', postLogoutRedirectUris: '--post-logout-redirect-uri', backchannelLogoutUri: '--backchannel-logout-uri',
  applicationType: '--application-type', public: '--public', grantTypes: '--grant-type', defaultAcr: '--default-acr', resourceServer: '--resource-server:',
  allowedResources: '--allow-resource', allowedScopes: '--scope', introspectAny: '--introspect-any', forwardEndUser: '--forward-end-user', adminTool: '--admin-tool',
  authzenClaims: '--authzen-claims',
};

function jsonArray(text: string, flag: string): unknown[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`${flag} must be a JSON array`);
  }
  if (!Array.isArray(value)) throw new UsageError(`${flag} must be a JSON array`);
  return value;
}

async function registrationTokenCreate(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { 'expires-in': { type: 'string' } });
  const expiresIn = positiveInt(a['expires-in'], '--expires-in', 86400, 365 * 86400);
  const created = await createRegistrationToken(core.buildProvider((await loadJwks(core.stores.sql, core.keys)).keys), expiresIn);
  const token = created.token;
  const expiresAt = created.expiresAt.toISOString();
  await core.audit.append({ actor: 'cli', action: 'registration_token.created', outcome: 'success', details: { expiresAt } });
  return { data: { initial_access_token: token, expires_at: expiresAt }, text: `initial access token (shown once): ${token}\nexpires: ${expiresAt}` };
}

async function scimTokenCreate(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { client: { type: 'string' }, 'expires-in': { type: 'string' } });
  const clientId = required(a.client, '--client');
  const days = positiveInt(a['expires-in'], '--expires-in', 365, 730);
  const refusal = await provisioningRefusal(core.buildProvider((await loadJwks(core.stores.sql, core.keys)).keys), clientId, core.config);
  if (refusal) throw new UsageError(refusal);
  const { token, record } = await new ProvisioningTokens(core.stores.sql).create(clientId, days);
  const view = provisioningTokenView(record);
  await core.audit.append({ actor: 'cli', action: 'scim_token.created', subject: record.id, outcome: 'success', details: { clientId, expiresAt: view.expires_at } });
  return {
    data: { ...view, token },
    text: `provisioning token for ${clientId} (shown once): ${token}\nid: ${record.id}\nexpires: ${view.expires_at}`,
  };
}

async function scimTokenList(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  const tokens = (await new ProvisioningTokens(core.stores.sql).list()).map((t) => provisioningTokenView(t));
  return {
    data: tokens,
    text: tokens.map((t) => `${t.id}\t${t.client_id}\t${t.status}\texpires ${t.expires_at}\tlast used ${t.last_used_at ?? 'never'}`).join('\n') || '(no provisioning tokens)',
  };
}

async function scimTokenRevoke(core: Core, argv: string[]): Promise<Output> {
  const a = parseWithOperand(argv, {}, 'provisioning token id');
  const revoked = await new ProvisioningTokens(core.stores.sql).revoke(a.operand);
  if (!revoked) throw new UsageError(`no provisioning token with id ${a.operand}`);
  await core.audit.append({ actor: 'cli', action: 'scim_token.revoked', subject: revoked.id, outcome: 'success', details: { clientId: revoked.clientId } });
  return { data: provisioningTokenView(revoked), text: `revoked provisioning token ${revoked.id} of ${revoked.clientId}` };
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
  const removed = result.removed ? `; ${result.removed} older entries removed by retention, checked from their checkpoint` : '';
  return { data: result, text: `audit chain intact (${result.entries} entries${removed})` };
}

async function migrateCommand(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  // Opening the core applies pending migrations; this reports what it did.
  const { applied, current } = core.migrations;
  return { data: { applied, current }, text: applied.length ? `applied ${applied.join(', ')}` : `up to date (${current})` };
}

async function mailList(core: Core, argv: string[]): Promise<Output> {
  parse(argv, {});
  const mails = await core.mail.outbox.list();
  return {
    data: mails,
    text: mails.map((m) => `${m.createdAt}\t${m.to}\t${m.subject}\t${m.id}`).join('\n') || `(no mail in ${core.mail.outbox.dir})`,
  };
}

/** The whole message, links included: for the operator of a first run without SMTP. */
async function mailShow(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { id: { type: 'string' } });
  const id = required(a.id, '--id');
  const mail = await core.mail.outbox.read(id);
  if (!mail) throw new UsageError(`no mail with id ${id} in ${core.mail.outbox.dir}`);
  return { data: mail, text: `Date: ${mail.createdAt}\nFrom: ${mail.from}\nTo: ${mail.to}\nSubject: ${mail.subject}\n\n${mail.text}` };
}

export const COMMANDS: Record<string, Command> = {
  'migrate': migrateCommand,
  'user create': userCreate,
  'user list': userList,
  'user disable': userDisable,
  'user set-roles': userSetRoles,
  'user require-step-up': userRequireStepUp,
  'user invite': userInvite,
  'invitation list': invitationList,
  'invitation revoke': invitationRevoke,
  'client create': clientCreate,
  'registration-token create': registrationTokenCreate,
  'scim-token create': scimTokenCreate,
  'scim-token list': scimTokenList,
  'scim-token revoke': scimTokenRevoke,
  'keys rotate': keysRotate,
  'keys list': keysList,
  'audit verify': auditVerify,
  'mail list': mailList,
  'mail show': mailShow,
  ...ELEVATION_COMMANDS,
};

export { AccountError };

import * as oidc from 'openid-client';
import { queryDatabase } from '../support/services.ts';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { signIn } from '../support/browserless.ts';
import { browserAt, clientAt } from '../support/from-address.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { loadRiskPolicy } from '../../src/verification/index.ts';
import { decide, type Signal } from '../../src/risk/index.ts';

const PASSWORD = 'correct horse battery staple 9';
const LONDON = '88.97.0.1';
const SYDNEY = '1.120.0.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
/** What a relying party's back end sends as its own agent. */
const SERVER_AGENT = 'relying-party-backend/2.1 (node)';

let stack: Stack;
let vigil: VigilProcess;
let env: Record<string, string>;
let spa: ClientOut;
/** Confidential, no --forward-end-user: its refreshes come from its servers. */
let web: ClientOut;
/** Confidential, created with --forward-end-user. */
let forwarding: ClientOut;
let redirectUri: string;
const accounts: Record<string, string> = {};

/**
 * The relying party's configuration (as `client`, the SPA by default), its requests coming from
 * `ip` (through the trusted loopback proxy) with `userAgent`, plus `headers`.
 */
function from(ip: string, userAgent = FIREFOX, client: ClientOut = spa, headers: Record<string, string> = {}): Promise<oidc.Configuration> {
  return clientAt(vigil.issuer, client, ip, userAgent, headers);
}

/** Signs `email` in through the pages from a Firefox at `ip`, for `client`; the code is redeemed by the client. */
async function signedIn(email: string, ip: string, client: ClientOut = spa) {
  const config = await discover(vigil.issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const browser = browserAt(ip, FIREFOX);
  const callback = await signIn(browser, request.url, email, PASSWORD, redirectUri);
  const tokens = await request.redeem(callback);
  expect(tokens.refresh_token).toBeTruthy();
  return { config, tokens, browser };
}

beforeAll(async () => {
  const port = await freePort();
  redirectUri = `http://127.0.0.1:${port}/cb`;
  stack = await startStack({ TRUST_PROXY: '127.0.0.1/32' });
  ({ vigil, env } = stack);
  // One account per test, so that each starts from an empty history.
  const people = ['ada', 'grace', 'edsger', 'barbara', 'donald', 'frances', 'alan', 'ken'];
  const [created, spaOut, webOut, forwardingOut] = await Promise.all([
    Promise.all(people.map((p) => vigilCli<{ id: string }>(env, ['user', 'create', '--email', `${p}@vigil.test`, '--password', PASSWORD]))),
    vigilCli(env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', redirectUri]),
    vigilCli(env, ['client', 'create', '--name', 'Web back end', '--redirect-uri', redirectUri]),
    vigilCli(env, ['client', 'create', '--name', 'Forwarding back end', '--redirect-uri', redirectUri, '--forward-end-user']),
  ]);
  people.forEach((p, i) => { accounts[p] = created[i].id; });
  spa = spaOut as unknown as ClientOut;
  web = webOut as unknown as ClientOut;
  forwarding = forwardingOut as unknown as ClientOut;
  expect(web.client_secret).toBeTruthy();
  expect(forwarding.client_secret).toBeTruthy();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

interface AssessmentRow {
  type: string;
  level: string;
  ip: string;
  ip_is_user: boolean;
  score: number;
  client_id: string;
  account_id: string;
  session_uid: string | null;
  decision: { action: string; acr?: string };
  rules: string[];
  signals: Signal[];
}

const query = <T>(sql: string, params: unknown[] = []) => queryDatabase<T>(env.DATABASE_URL, sql, params);

/** Allowed refreshes' assessments are written behind, in batches every ~200 ms: give them time to land. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 700));

async function assessments(accountId?: string): Promise<AssessmentRow[]> {
  await settle();
  return accountId === undefined
    ? query<AssessmentRow>('SELECT * FROM risk_assessments ORDER BY at, id')
    : query<AssessmentRow>('SELECT * FROM risk_assessments WHERE account_id = $1 ORDER BY at, id', [accountId]);
}

const refreshesOf = async (accountId: string) => (await assessments(accountId)).filter((a) => a.type === 'refresh');
const signalNames = (a: AssessmentRow) => a.signals.map((s) => s.name);

interface AuditRow { actor: string; action: string; subject: string | null; ip: string | null; outcome: string; details: Record<string, unknown> }

/** Audit entries of allowed events are written in batches a little later: waits until `count` are there. */
async function auditEntries(action: string, actor: string, count: number, timeoutMs = 5_000): Promise<AuditRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await query<AuditRow>('SELECT actor, action, subject, ip, outcome, details FROM audit_log WHERE action = $1 AND actor = $2 ORDER BY seq', [action, actor]);
    if (rows.length >= count || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('London then Sydney minutes later: the refresh is refused as impossible travel and the session is revoked', async () => {
  const { tokens } = await signedIn('ada@vigil.test', LONDON);
  const inLondon = await oidc.refreshTokenGrant(await from(LONDON), tokens.refresh_token!);
  expect(inLondon.access_token).toBeTruthy();
  const err = await oidc.refreshTokenGrant(await from(SYDNEY), inLondon.refresh_token!).catch((e) => e);
  expect(err).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/ended by the risk policy/) });
  // Revoked everywhere: the grant's tokens are gone, so even a refresh back in London fails.
  await expect(oidc.refreshTokenGrant(await from(LONDON), inLondon.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  const last = (await assessments()).filter((a) => a.type === 'refresh').at(-1)!;
  expect(last.ip).toBe(SYDNEY);
  expect(last.decision).toEqual({ action: 'revoke' });
  expect(last.signals.find((s) => s.name === 'impossible_travel')?.reason).toMatch(/km\/h/);
});

/** The account's sessions: the level kept on the row, and the level of their latest assessment. */
const sessionLevels = (accountId: string) => query<{ kept: string | null; latest: string | null }>(
  `SELECT a.risk_level AS kept, (SELECT level FROM risk_assessments r WHERE r.session_uid = a.session_uid ORDER BY at DESC, id DESC LIMIT 1) AS latest
   FROM session_activity a WHERE a.account_id = $1`, [accountId]);

/** Sessions by level as the admin dashboard reads them, and as counting the rows gives them. */
const sessionCounts = async () => ({
  kept: Object.fromEntries((await query<{ risk_level: string; n: string }>('SELECT risk_level, sum(sessions) AS n FROM session_counts GROUP BY 1'))
    .filter((r) => Number(r.n) !== 0).map((r) => [r.risk_level, Number(r.n)])),
  counted: Object.fromEntries((await query<{ level: string; n: string }>("SELECT coalesce(risk_level, 'none') AS level, count(*) AS n FROM session_activity GROUP BY 1"))
    .map((r) => [r.level, Number(r.n)])),
});

test('a stolen refresh token used from another browser and OS (same address) is refused, and the session cannot refresh any more', async () => {
  const { tokens, browser } = await signedIn('grace@vigil.test', LONDON);
  // The sign-in's assessment is attached to its session just after the authorization response: its level is the session's.
  for (let waited = 0; waited < 5_000 && (await sessionLevels(accounts.grace))[0]?.kept == null; waited += 50) await new Promise((r) => setTimeout(r, 50));
  const [signedInSession] = await sessionLevels(accounts.grace);
  expect(signedInSession.kept).toMatch(/^(low|medium|high)$/);
  expect(signedInSession.kept).toBe(signedInSession.latest);
  // The legitimate app refreshes from Firefox on Linux: that is the session's agent.
  const legit = await oidc.refreshTokenGrant(await from(LONDON, FIREFOX), tokens.refresh_token!);
  expect(legit.access_token).toBeTruthy();
  // The next refresh token turns up in Chrome on Windows, from the same address.
  const err = await oidc.refreshTokenGrant(await from(LONDON, CHROME_WINDOWS), legit.refresh_token!).catch((e) => e);
  expect(err).toBeInstanceOf(oidc.ResponseBodyError);
  expect(err.error).toBe('invalid_grant');

  const [first, stolen] = await refreshesOf(accounts.grace);
  expect(first.decision).toEqual({ action: 'allow' });
  expect(signalNames(stolen)).toContain('session_agent_changed');
  expect(stolen.signals.find((s) => s.name === 'session_agent_changed')!.reason).toMatch(/Firefox.*→.*Chrome/);
  // What the shipped policy makes of it: session_agent_changed (45) and a refresh moments after
  // the previous one (rapid_refresh, 15) put the score at 60 or more, below the revocation
  // threshold (85): a step-up to a phishing-resistant sign-in (the "score ≥ 60" rule).
  expect(signalNames(stolen)).toContain('rapid_refresh');
  expect(stolen.score).toBeGreaterThanOrEqual(60);
  expect(stolen.score).toBeLessThan(85);
  expect(stolen.decision).toEqual({ action: 'step_up', acr: 'urn:vigil:acr:phr' });
  expect(stolen.decision).toEqual(decide(loadRiskPolicy(), 'refresh', spa.client_id, stolen.score, stolen.signals).decision);
  expect(err.error_description).toMatch(/^step-up authentication required/);
  // The session's level is the step-up's; the dashboard's counts are the rows'; every refresh token row names its client.
  expect(await sessionLevels(accounts.grace)).toEqual([{ kept: stolen.level, latest: stolen.level }]);
  const counts = await sessionCounts();
  expect(counts.kept).toEqual(counts.counted);
  const [tokenClients] = await query<{ n: string; other: string }>(
    "SELECT count(*) AS n, count(*) FILTER (WHERE client_id IS DISTINCT FROM $2) AS other FROM oidc_payloads WHERE model = 'RefreshToken' AND account_id = $1",
    [accounts.grace, spa.client_id]);
  // The code exchange's and the allowed refresh's (the refused refresh issued none).
  expect([Number(tokenClients.n), Number(tokenClients.other)]).toEqual([2, 0]);

  // The session now owes a stronger sign-in: the token is no good even back in the legitimate app.
  const again = await oidc.refreshTokenGrant(await from(LONDON, FIREFOX), legit.refresh_token!).catch((e) => e);
  expect(again).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^step-up authentication required/) });

  // Back in her browser, the application asks nothing special: the page says the check is Vigil's, not the application's.
  const request = await pkceAuthorization(await discover(vigil.issuer, spa), { redirect_uri: redirectUri, scope: 'openid' });
  const page = await browser.follow(request.url, (url) => url.startsWith(redirectUri));
  expect(page.url).toMatch(/\/interaction\//);
  expect(page.body).toContain('<h1>Confirm it is you</h1>');
  expect(page.body).toMatch(/Something about this session looked unusual: confirm it is you/);
  expect(page.body).not.toMatch(/needs a stronger sign-in|This application needs/);
});

test('a stolen refresh token replayed with the same agent from another network: the session moved, the person must sign in again', async () => {
  const { tokens } = await signedIn('ken@vigil.test', LONDON);
  // The app refreshes from her computer in Kensington: the session's place is recorded with it.
  const legit = await oidc.refreshTokenGrant(await from(LONDON, FIREFOX), tokens.refresh_token!);
  expect(legit.access_token).toBeTruthy();
  // The next token turns up from another network, same browser and OS (an info-stealer copied the agent too).
  const err = await oidc.refreshTokenGrant(await from('88.97.8.1', FIREFOX), legit.refresh_token!).catch((e) => e);
  expect(err).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^step-up authentication required/) });

  const [first, moved] = await refreshesOf(accounts.ken);
  expect(first.decision).toEqual({ action: 'allow' });
  expect(signalNames(first)).not.toContain('session_moved');
  const signal = moved.signals.find((s) => s.name === 'session_moved')!;
  expect(signal.reason).toMatch(/^Session moved to another network .*: Kensington \(88\.97\.0\.0\/24\) → Twickenham \(88\.97\.8\.0\/24\); no computer session of this account on record yet, computers usually stay put$/);
  expect(signal.contribution).toBeGreaterThanOrEqual(30);
  expect(moved.decision).toMatchObject({ action: 'step_up' });
  // The history keeps where each session was (its refreshes carry the session).
  const [profile] = await query<{ history: { events: { sessionId?: string; ipPrefix: string }[] } }>('SELECT history FROM risk_profiles WHERE account_id = $1', [accounts.ken]);
  expect(profile.history.events.filter((e) => e.sessionId !== undefined).map((e) => e.ipPrefix)).toEqual(['88.97.0.0/24']);
});

test('a disabled account cannot refresh', async () => {
  const { tokens } = await signedIn('edsger@vigil.test', LONDON);
  const ok = await oidc.refreshTokenGrant(await from(LONDON), tokens.refresh_token!);
  expect(ok.access_token).toBeTruthy();
  await vigilCli(env, ['user', 'disable', '--email', 'edsger@vigil.test']);
  const err = await oidc.refreshTokenGrant(await from(LONDON), ok.refresh_token!).catch((e) => e);
  expect(err).toBeInstanceOf(oidc.ResponseBodyError);
  expect(err).toMatchObject({ error: 'invalid_grant', status: 400 });
});

test('a confidential client refreshing from its own servers is not the person: London then Sydney is not travel', async () => {
  const { tokens } = await signedIn('barbara@vigil.test', LONDON, web);
  const one = await oidc.refreshTokenGrant(await from(LONDON, SERVER_AGENT, web), tokens.refresh_token!);
  expect(one.access_token).toBeTruthy();
  const two = await oidc.refreshTokenGrant(await from(SYDNEY, SERVER_AGENT, web), one.refresh_token!);
  expect(two.access_token).toBeTruthy();

  const refreshes = await refreshesOf(accounts.barbara);
  expect(refreshes).toHaveLength(2);
  expect(refreshes.map((a) => a.ip)).toEqual([LONDON, SYDNEY]);
  for (const a of refreshes) {
    expect(a.client_id).toBe(web.client_id);
    expect(a.ip_is_user).toBe(false);
    expect(a.decision).toEqual({ action: 'allow' });
    expect(signalNames(a)).toContain('server_address');
    expect(signalNames(a)).not.toContain('impossible_travel');
    expect(signalNames(a)).not.toContain('fast_travel');
  }
});

test('a client allowed to forward the person\'s address: Vigil-End-User-IP London then Sydney is impossible travel; a malformed header is invalid_request', async () => {
  const { tokens } = await signedIn('donald@vigil.test', LONDON, forwarding);
  const person = (ip: string) => ({ 'vigil-end-user-ip': ip, 'vigil-end-user-agent': FIREFOX });
  // The client's servers are somewhere else entirely (here: Perth); the person is in London.
  const one = await oidc.refreshTokenGrant(await from('49.255.0.1', SERVER_AGENT, forwarding, person(LONDON)), tokens.refresh_token!);
  expect(one.access_token).toBeTruthy();

  const malformed = await oidc.refreshTokenGrant(await from('49.255.0.1', SERVER_AGENT, forwarding, { 'vigil-end-user-ip': 'not-an-ip' }), one.refresh_token!).catch((e) => e);
  expect(malformed).toBeInstanceOf(oidc.ResponseBodyError);
  expect(malformed).toMatchObject({ status: 400, error: 'invalid_request', error_description: expect.stringContaining('Vigil-End-User-IP') });

  const err = await oidc.refreshTokenGrant(await from('49.255.0.1', SERVER_AGENT, forwarding, person(SYDNEY)), one.refresh_token!).catch((e) => e);
  expect(err).toMatchObject({ error: 'invalid_grant', error_description: expect.stringMatching(/^the session was ended by the risk policy/) });

  const refreshes = await refreshesOf(accounts.donald);
  // The malformed request was refused before it was assessed.
  expect(refreshes.map((a) => [a.ip, a.ip_is_user, a.decision.action])).toEqual([[LONDON, true, 'allow'], [SYDNEY, true, 'revoke']]);
  expect(signalNames(refreshes[1])).toContain('impossible_travel');
  // Revoked: the grant is gone.
  await expect(oidc.refreshTokenGrant(await from('49.255.0.1', SERVER_AGENT, forwarding, person(LONDON)), one.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

test('a client allowed to forward, refreshing without the headers: its address is not the person\'s', async () => {
  const { tokens } = await signedIn('frances@vigil.test', LONDON, forwarding);
  const one = await oidc.refreshTokenGrant(await from(SYDNEY, SERVER_AGENT, forwarding), tokens.refresh_token!);
  expect(one.access_token).toBeTruthy();
  const [a] = await refreshesOf(accounts.frances);
  expect(a).toMatchObject({ ip: SYDNEY, ip_is_user: false, decision: { action: 'allow' } });
  expect(signalNames(a)).toContain('server_address');
  expect(signalNames(a)).not.toContain('impossible_travel');
});

test('every refresh writes an assessment and an audit entry', async () => {
  const { tokens } = await signedIn('alan@vigil.test', LONDON);
  let refreshToken = tokens.refresh_token!;
  for (let i = 0; i < 3; i++) {
    const next = await oidc.refreshTokenGrant(await from(LONDON), refreshToken);
    refreshToken = next.refresh_token!;
  }
  const refreshes = await refreshesOf(accounts.alan);
  expect(refreshes).toHaveLength(3);
  for (const a of refreshes) {
    expect(a).toMatchObject({ ip: LONDON, ip_is_user: true, client_id: spa.client_id, decision: { action: 'allow' } });
    expect(a.session_uid).toBeTruthy();
  }
  // Allowed refreshes are audited off the response path: poll.
  const audited = await auditEntries('risk.refresh', accounts.alan, 3);
  expect(audited).toHaveLength(3);
  for (const entry of audited) {
    expect(entry).toMatchObject({ subject: spa.client_id, ip: LONDON, outcome: 'info' });
    expect(entry.details).toMatchObject({ decision: { action: 'allow' }, session: refreshes[0].session_uid, forwarded: false });
    expect(entry.details.grant).toEqual(expect.any(String));
  }
  // Each entry keeps the signals' points; their sentences are in the stored assessment.
  const points = (signals: { name: string; contribution: number }[]) => JSON.stringify(Object.fromEntries(signals.map((s) => [s.name, s.contribution])));
  expect(audited.map((e) => JSON.stringify(e.details.signals)).sort()).toEqual(refreshes.map((a) => points(a.signals)).sort());
  // A refused refresh is audited at once, as denied.
  const err = await oidc.refreshTokenGrant(await from(SYDNEY), refreshToken).catch((e) => e);
  expect(err).toMatchObject({ error: 'invalid_grant' });
  expect(await refreshesOf(accounts.alan)).toHaveLength(4);
  const all = await auditEntries('risk.refresh', accounts.alan, 4);
  expect(all).toHaveLength(4);
  expect(all.at(-1)).toMatchObject({ ip: SYDNEY, outcome: 'denied', details: { decision: { action: 'revoke' } } });
});

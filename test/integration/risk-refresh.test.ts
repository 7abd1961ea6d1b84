import * as oidc from 'openid-client';
import pg from 'pg';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';

const PASSWORD = 'correct horse battery staple 9';
const LONDON = '88.97.0.1';
const SYDNEY = '1.120.0.1';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

let stack: Stack;
let vigil: VigilProcess;
let env: Record<string, string>;
let spa: ClientOut;
let redirectUri: string;

/** The relying party's configuration, its requests coming from `ip` (through the trusted loopback proxy) with `userAgent`. */
async function from(ip: string, userAgent = FIREFOX): Promise<oidc.Configuration> {
  const config = await discover(vigil.issuer, spa);
  config[oidc.customFetch] = (url, init) => {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', ip);
    headers.set('user-agent', userAgent);
    return fetch(url, { ...init, headers } as RequestInit);
  };
  return config;
}

async function signedIn(email: string, ip: string) {
  const config = await discover(vigil.issuer, spa);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const browser = new Browser();
  const original = browser.request.bind(browser);
  browser.request = (url, init = {}) => {
    const headers = new Headers(init.headers);
    headers.set('x-forwarded-for', ip);
    headers.set('user-agent', FIREFOX);
    return original(url, { ...init, headers });
  };
  const callback = await signIn(browser, request.url, email, PASSWORD, redirectUri);
  const tokens = await request.redeem(callback);
  return { config, tokens };
}

beforeAll(async () => {
  const port = await freePort();
  redirectUri = `http://127.0.0.1:${port}/cb`;
  stack = await startStack({ TRUST_PROXY: '127.0.0.1/32' });
  ({ vigil, env } = stack);
  await vigilCli(env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD]);
  spa = await vigilCli(env, ['client', 'create', '--name', 'SPA', '--public', '--redirect-uri', redirectUri]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function assessments(): Promise<{ type: string; ip: string; score: number; decision: { action: string }; signals: { name: string; reason: string }[] }[]> {
  const db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  try {
    return (await db.query('SELECT type, ip, score, decision, signals FROM risk_assessments ORDER BY id')).rows;
  } finally {
    await db.end();
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

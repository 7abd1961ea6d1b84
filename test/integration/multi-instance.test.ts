import * as oidc from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, insecure, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';

/**
 * Two Vigil processes behind one issuer (as behind a load balancer): one Postgres database,
 * one Redis database, one master key. Whatever one instance issues, the other honours.
 */

const PASSWORD = 'correct horse battery staple 9';
const API = 'https://api.multi.vigil.test';
const SCOPE = 'openid email offline_access read:things';

let stack: Stack;
let a: VigilProcess;
let b: VigilProcess;
let web: ClientOut;
let rs: ClientOut;
let auditor: ClientOut;
let redirectUri: string;
/** Every request the test sent to instance B (after rewriting), so that we know B served it. */
const servedByB: string[] = [];

/** Requests for the shared issuer (instance A's address) go to instance B instead. */
const toB: oidc.CustomFetch = (url, options) => {
  const target = url.startsWith(a.issuer) ? `${b.url}${url.slice(a.issuer.length)}` : url;
  if (target.startsWith(b.url)) servedByB.push(new URL(target).pathname);
  return fetch(target, options as RequestInit);
};

const onA = (c: ClientOut) => discover(a.issuer, c);
const onB = (c: ClientOut) => discover(a.issuer, c, { ...insecure, [oidc.customFetch]: toB });

/** Signs in on A; the callback and what it is checked against, for a code grant on either instance. */
async function authorizeOnA() {
  const request = await pkceAuthorization(await onA(web), { redirect_uri: redirectUri, scope: SCOPE, resource: API, prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, 'ada@vigil.test', PASSWORD, redirectUri);
  return { callback: new URL(callback), checks: request.checks };
}

beforeAll(async () => {
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  // Both start at once on the empty database, as replicas of one deployment do: they take turns
  // to migrate, to make the signing keys and to create the first administrator.
  stack = await startStack({}, { instances: 2 });
  [a, b] = stack.instances;
  const { env } = stack;
  [, web, rs, auditor] = await Promise.all([
    vigilCli(env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD, '--name', 'Ada']),
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri]),
    // Opaque access tokens, so that introspection (not a local JWT check) is what answers.
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Things API', '--resource-server', '--resource', API, '--scope', 'read:things', '--token-format', 'opaque']),
    // Resource servers see only access tokens for themselves; refresh tokens need the permission.
    vigilCli<ClientOut>(env, ['client', 'create', '--name', 'Token auditor', '--grant-type', 'client_credentials', '--introspect-any']),
  ]);
}, 60_000);

afterAll(() => stack?.stop());

test('both instances serve the same issuer and publish the same signing keys', async () => {
  expect(a.url).not.toBe(b.url);
  const metaA = await (await fetch(`${a.url}/.well-known/openid-configuration`)).json();
  const metaB = await (await fetch(`${b.url}/.well-known/openid-configuration`)).json();
  expect(metaB.issuer).toBe(a.issuer);
  // oidc-provider names its endpoints after the request's host (behind a load balancer that is
  // the same for every instance); apart from that the metadata is identical.
  expect(JSON.parse(JSON.stringify(metaB).replaceAll(b.url, a.url))).toEqual(metaA);
  const jwksA = await (await fetch(`${a.url}/jwks`)).json() as { keys: Array<{ kid: string }> };
  const jwksB = await (await fetch(`${b.url}/jwks`)).json() as { keys: Array<{ kid: string }> };
  expect(jwksA.keys.length).toBe(2);
  expect(jwksB).toEqual(jwksA);
  // Exactly one of them generated keys, migrated, and created the administrator.
  const both = [a.output(), b.output()];
  expect(both.filter((o) => /generated signing keys/.test(o))).toHaveLength(1);
  expect(both.filter((o) => /applied migrations/.test(o))).toHaveLength(1);
  expect(both.filter((o) => /created the first administrator/.test(o))).toHaveLength(1);
});

test('log in on A, exchange the code on B, refresh on B, refresh on A the token B issued', async () => {
  const { callback, checks } = await authorizeOnA();
  const configB = await onB(web);
  servedByB.length = 0;
  const tokens = await oidc.authorizationCodeGrant(configB, callback, checks, { resource: API });
  expect(servedByB).toContain('/token');
  expect(tokens.refresh_token).toBeTruthy();
  expect(tokens.claims()!.iss).toBe(a.issuer);

  // The ID token issued by B verifies against A's JWKS.
  const jwksA = createRemoteJWKSet(new URL(`${a.url}/jwks`));
  await expect(jwtVerify(tokens.id_token!, jwksA, { issuer: a.issuer, audience: web.client_id })).resolves.toBeTruthy();

  const refreshedOnB = await oidc.refreshTokenGrant(configB, tokens.refresh_token!);
  expect(refreshedOnB.refresh_token).toBeTruthy();
  expect(refreshedOnB.refresh_token).not.toBe(tokens.refresh_token);

  // A honours the refresh token that B issued.
  const configA = await onA(web);
  const refreshedOnA = await oidc.refreshTokenGrant(configA, refreshedOnB.refresh_token!);
  expect(refreshedOnA.access_token).toBeTruthy();
  expect(refreshedOnA.claims()!.sub).toBe(tokens.claims()!.sub);

  // B knows the access token A just issued (access tokens live in the shared Redis).
  const seenByB = await oidc.tokenIntrospection(await onB(rs), refreshedOnA.access_token);
  expect(seenByB).toMatchObject({ active: true, sub: tokens.claims()!.sub, aud: API, client_id: web.client_id });
});

test('introspection on A and B agrees; revocation on A is seen by B', async () => {
  const { callback, checks } = await authorizeOnA();
  const configB = await onB(web);
  const tokens = await oidc.authorizationCodeGrant(configB, callback, checks, { resource: API });
  expect(tokens.access_token.split('.')).toHaveLength(1);
  const rsA = await onA(rs);
  const rsB = await onB(rs);
  const auditorA = await onA(auditor);
  const auditorB = await onB(auditor);

  for (const [token, onAConfig, onBConfig] of [[tokens.access_token, rsA, rsB], [tokens.refresh_token!, auditorA, auditorB]] as const) {
    const onAResult = await oidc.tokenIntrospection(onAConfig, token);
    servedByB.length = 0;
    const onBResult = await oidc.tokenIntrospection(onBConfig, token);
    expect(servedByB).toContain('/token/introspection');
    expect(onAResult.active).toBe(true);
    expect(onBResult).toEqual(onAResult);
    expect(onBResult.client_id).toBe(web.client_id);
  }
  expect((await oidc.tokenIntrospection(rsB, tokens.access_token)).aud).toBe(API);

  await oidc.tokenRevocation(await onA(web), tokens.refresh_token!);
  expect((await oidc.tokenIntrospection(auditorB, tokens.refresh_token!)).active).toBe(false);
  expect((await oidc.tokenIntrospection(auditorA, tokens.refresh_token!)).active).toBe(false);
  await expect(oidc.refreshTokenGrant(configB, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });

  // Revoking an access token on B is seen by A.
  await oidc.tokenRevocation(configB, tokens.access_token);
  expect((await oidc.tokenIntrospection(rsA, tokens.access_token)).active).toBe(false);
});

test('a code redeemed on B cannot be replayed on A, and the replay revokes what B issued', async () => {
  const { callback, checks } = await authorizeOnA();
  const configB = await onB(web);
  const tokens = await oidc.authorizationCodeGrant(configB, callback, checks, { resource: API });
  await expect(oidc.authorizationCodeGrant(await onA(web), callback, checks, { resource: API }))
    .rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(oidc.refreshTokenGrant(configB, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  expect((await oidc.tokenIntrospection(await onB(rs), tokens.access_token)).active).toBe(false);
});

test('refresh-token reuse detected on one instance revokes the grant on the other', async () => {
  const { callback, checks } = await authorizeOnA();
  const configA = await onA(web);
  const configB = await onB(web);
  const tokens = await oidc.authorizationCodeGrant(configA, callback, checks, { resource: API });
  const rotated = await oidc.refreshTokenGrant(configA, tokens.refresh_token!);
  await expect(oidc.refreshTokenGrant(configB, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
  await expect(oidc.refreshTokenGrant(configA, rotated.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
});

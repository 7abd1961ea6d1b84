import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { freePort, vigilCli, type VigilProcess } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { clientCredentialsToken } from '../support/json-api.ts';
import { discover, insecure, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';

/**
 * A resource server introspects the JWT access tokens Vigil issued for it (RFC 7662 with RFC 9068
 * tokens), on two instances behind one issuer: the answer follows the grant, the session, the
 * account and the step-ups owed, on both at once; a token it cannot vouch for is `active: false`,
 * never `unsupported_token_type`.
 */

const PASSWORD = 'correct horse battery staple 9';
const API = 'https://api.jwt.vigil.test';
const OTHER_API = 'https://other.jwt.vigil.test';

let stack: Stack;
let a: VigilProcess;
let b: VigilProcess;
let web: ClientOut;
let rs: ClientOut;
let otherRs: ClientOut;
let service: ClientOut;
let ops: ClientOut;
let redirectUri: string;

/** Requests for the shared issuer (instance A's address) go to instance B instead. */
const toB: oidc.CustomFetch = (url, options) => fetch(url.startsWith(a.issuer) ? `${b.url}${url.slice(a.issuer.length)}` : url, options as RequestInit);
const onA = (c: ClientOut) => discover(a.issuer, c);
const onB = (c: ClientOut) => discover(a.issuer, c, { ...insecure, [oidc.customFetch]: toB });

async function signedInTokens(email: string) {
  const config = await onA(web);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access read:things', resource: API, prompt: 'consent' });
  const callback = await signIn(new Browser(), request.url, email, PASSWORD, redirectUri);
  const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), request.checks, { resource: API });
  return { config, tokens };
}

async function person(email: string) {
  await vigilCli(stack.env, ['user', 'create', '--email', email, '--password', PASSWORD]);
}

beforeAll(async () => {
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  stack = await startStack({}, { instances: 2 });
  [a, b] = stack.instances;
  [web, rs, otherRs] = await Promise.all([
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Web App', '--redirect-uri', redirectUri]),
    // JWT access tokens: the resource server's default format.
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Things API', '--resource-server', '--resource', API, '--scope', 'read:things']),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Other API', '--resource-server', '--resource', OTHER_API, '--scope', 'read:other']),
  ]);
  [service, ops] = await Promise.all([
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Batch job', '--grant-type', 'client_credentials', '--allow-resource', API, '--scope', 'read:things']),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Incident script', '--grant-type', 'client_credentials', '--allow-resource', `${a.issuer}/admin/api`, '--scope', 'admin']),
  ]);
  await Promise.all(['ada@jwt.test', 'bob@jwt.test', 'cy@jwt.test', 'dee@jwt.test'].map(person));
}, 90_000);

afterAll(() => stack?.stop());

test('a JWT access token introspects active for its audience on both instances; RFC 7009 revocation on A is seen by B at once', async () => {
  const { config, tokens } = await signedInTokens('ada@jwt.test');
  const jwt = tokens.access_token;
  // Still a JWT a resource server can check locally (RFC 9068), its reference to the grant sealed.
  const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${a.url}/jwks`)), { issuer: a.issuer, audience: API, typ: 'at+jwt' });
  expect(payload.vigil_ref).toEqual(expect.any(String));

  const [rsA, rsB] = [await onA(rs), await onB(rs)];
  const onAResult = await oidc.tokenIntrospection(rsA, jwt);
  expect(onAResult).toMatchObject({
    active: true, sub: tokens.claims()!.sub, aud: API, client_id: web.client_id, scope: 'read:things', iss: a.issuer, token_type: 'Bearer',
    jti: payload.jti, exp: payload.exp, iat: payload.iat,
  });
  expect(onAResult).not.toHaveProperty('vigil_ref');
  // B answers the same (and now keeps a copy of the grant).
  expect(await oidc.tokenIntrospection(rsB, jwt)).toEqual(onAResult);

  // RFC 7662 §4: another resource server learns nothing about it; a tampered or foreign JWT is inactive, not an error.
  expect(await oidc.tokenIntrospection(await onB(otherRs), jwt)).toEqual({ active: false });
  const [head, body] = jwt.split('.');
  const tampered = `${head}.${body}.${Buffer.from('not the signature').toString('base64url')}`;
  expect(await oidc.tokenIntrospection(rsB, tampered)).toEqual({ active: false });
  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT({ ...decodeJwt(jwt) }).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt', kid: decodeJwt(jwt).kid as string }).sign(privateKey);
  expect(await oidc.tokenIntrospection(rsB, forged)).toEqual({ active: false });

  // The app revokes its refresh token on A (RFC 7009): the grant ends, and B, which held a copy, says so at once.
  await oidc.tokenRevocation(config, tokens.refresh_token!);
  expect(await oidc.tokenIntrospection(rsB, jwt)).toEqual({ active: false });
  expect(await oidc.tokenIntrospection(rsA, jwt)).toEqual({ active: false });
});

test('a disabled account and an owed step-up make its JWT access tokens inactive', async () => {
  const rsB = await onB(rs);
  const bob = await signedInTokens('bob@jwt.test');
  expect((await oidc.tokenIntrospection(rsB, bob.tokens.access_token)).active).toBe(true);
  await vigilCli(stack.env, ['user', 'disable', '--email', 'bob@jwt.test']);
  expect(await oidc.tokenIntrospection(rsB, bob.tokens.access_token)).toEqual({ active: false });

  const cy = await signedInTokens('cy@jwt.test');
  const before = await oidc.tokenIntrospection(rsB, cy.tokens.access_token);
  expect(before).toMatchObject({ active: true, acr: 'urn:vigil:acr:1fa', auth_time: expect.any(Number) });
  await new Promise((resolve) => setTimeout(resolve, 1100)); // the requirement's time is in whole seconds
  await vigilCli(stack.env, ['user', 'require-step-up', '--email', 'cy@jwt.test', '--acr', 'urn:vigil:acr:2fa']);
  expect(await oidc.tokenIntrospection(rsB, cy.tokens.access_token)).toEqual({ active: false });
});

test('a client_credentials JWT introspects active while its client may have tokens', async () => {
  const token = await clientCredentialsToken(a.issuer, service, API, 'read:things');
  expect(token.split('.')).toHaveLength(3);
  expect(await oidc.tokenIntrospection(await onB(rs), token)).toMatchObject({ active: true, sub: service.client_id, client_id: service.client_id, aud: API });
});

test('an incident script that lists sessions on B the moment a sign-in\'s tokens arrive from A finds the session, and revokes it', async () => {
  const admin = await clientCredentialsToken(a.issuer, ops, `${a.issuer}/admin/api`, 'admin');
  const listOnB = async (sub: string) => {
    const res = await fetch(`${b.url}/admin/api/sessions?account=${sub}`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: { uid: string; clients: string[] }[] }).items;
  };
  for (let i = 0; i < 5; i += 1) {
    const { tokens } = await signedInTokens('dee@jwt.test');
    const sessions = await listOnB(tokens.claims()!.sub);
    expect(sessions).toHaveLength(i + 1);
  }
  const rsB = await onB(rs);
  const { tokens } = await signedInTokens('dee@jwt.test');
  const newest = (await listOnB(tokens.claims()!.sub)).filter((s) => s.clients.includes(web.client_id));
  expect(newest).toHaveLength(6);
  for (const session of newest) {
    const res = await fetch(`${b.url}/admin/api/sessions/${session.uid}/revoke`, {
      method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'incident 23' }),
    });
    expect(res.status).toBe(200);
  }
  expect(await oidc.tokenIntrospection(rsB, tokens.access_token)).toEqual({ active: false });
});

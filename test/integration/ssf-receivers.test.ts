/**
 * What Shared Signals receivers expect of Vigil as a transmitter, driven as they drive it (their
 * client_credentials tokens, poll requests, ID tokens to match SETs to their own sessions):
 * CAEP session-revoked reaches only the apps of the session that ended, naming that session;
 * a poll without `returnImmediately` is a long poll (RFC 8936), answered when a SET is ready.
 */
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { freePort, vigilCli } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { clientCredentialsToken, jsonCall } from '../support/json-api.ts';
import { pushReceiver } from '../support/push-receiver.ts';

const PASSWORD = 'correct horse battery staple 9';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
const POLL = 'urn:ietf:rfc:8936';
const POLL_WAIT_SECONDS = 2;

/** An RFC 8935 push endpoint on loopback, answering with `status` (202 by default). */
const receiver = pushReceiver();

let stack: Stack;
let issuer: string;
let redirectUri: string;
let mail: ClientOut;
let calendar: ClientOut;
let notes: ClientOut;
let alerts: ClientOut;
let ops: ClientOut;

const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(issuer, method, path, token, body);
const streamToken = (client: ClientOut) => clientCredentialsToken(issuer, client, `${issuer}/ssf`, 'ssf:stream');
const adminToken = () => clientCredentialsToken(issuer, ops, `${issuer}/admin/api`, 'admin');

const rpArgs = (name: string) => ['client', 'create', '--name', name, '--redirect-uri', redirectUri,
  '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--grant-type', 'client_credentials',
  '--allow-resource', `${issuer}/ssf`, '--scope', 'ssf:stream'];

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

/** Signs `email` in to `client` in `browser`; the app's ID token claims. */
async function signInTo(client: ClientOut, email: string, browser = new Browser()) {
  const config = await discover(issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  const tokens = await request.redeem(await signIn(browser, request.url, email, PASSWORD, redirectUri));
  return tokens.claims()!;
}

/** A poll receiver's stream for `client`, following `email`. */
async function pollStream(client: ClientOut, email: string, events = [SESSION_REVOKED]) {
  const token = await streamToken(client);
  const created = await api('POST', '/ssf/stream', token, { delivery: { method: POLL }, events_requested: events });
  expect(created.status).toBe(201);
  const streamId = created.body.stream_id as string;
  expect((await api('POST', '/ssf/subjects/add', token, { stream_id: streamId, subject: { format: 'email', email } })).status).toBe(200);
  return { token, streamId };
}

/** Everything pending on a stream, verified as a receiver verifies it, and acknowledged. */
async function drain(stream: { token: string; streamId: string }) {
  const res = await api('POST', `/ssf/poll/${stream.streamId}`, stream.token, { returnImmediately: true, maxEvents: 100 });
  expect(res.status).toBe(200);
  const sets = Object.entries(res.body.sets as Record<string, string>);
  if (sets.length) await api('POST', `/ssf/poll/${stream.streamId}`, stream.token, { returnImmediately: true, maxEvents: 0, ack: sets.map(([jti]) => jti) });
  const keys = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  return Promise.all(sets.map(async ([, set]) => (await jwtVerify(set, keys, { issuer, typ: 'secevent+jwt' })).payload as Record<string, any>));
}

beforeAll(async () => {
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  await receiver.start();
  stack = await startStack({
    VIGIL_SSF_POLL_WAIT_SECONDS: String(POLL_WAIT_SECONDS), VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${receiver.port}`, VIGIL_SSF_RETRY_SECONDS: '1',
  });
  issuer = stack.vigil.issuer;
  [mail, calendar, notes, alerts, ops] = await Promise.all([
    vigilCli<ClientOut>(stack.env, rpArgs('Mail')),
    vigilCli<ClientOut>(stack.env, rpArgs('Calendar')),
    vigilCli<ClientOut>(stack.env, rpArgs('Notes')),
    vigilCli<ClientOut>(stack.env, rpArgs('Alerts')),
    vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Ops bot', '--grant-type', 'client_credentials', '--allow-resource', `${issuer}/admin/api`, '--scope', 'admin']),
    ...['ada@ssf.test', 'bob@ssf.test'].map((email) => vigilCli(stack.env, ['user', 'create', '--email', email, '--password', PASSWORD])),
  ]);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await receiver.stop();
});

test('CAEP session-revoked: one session ended reaches only its apps, naming the session by their sid; the last one, the person everywhere', async () => {
  // Ada reads mail on her laptop and the calendar on her phone: two sessions, one app each.
  const onLaptop = await signInTo(mail, 'ada@ssf.test');
  const onPhone = await signInTo(calendar, 'ada@ssf.test');
  const [mailStream, calendarStream] = [await pollStream(mail, 'ada@ssf.test'), await pollStream(calendar, 'ada@ssf.test')];
  const admin = await adminToken();
  const sessions = await api('GET', `/admin/api/sessions?account=${onLaptop.sub}`, admin);
  const laptopSession = (sessions.body.items as { uid: string; clients: string[] }[]).find((s) => s.clients.includes(mail.client_id))!;
  expect(laptopSession).toBeDefined();

  expect((await api('POST', `/admin/api/sessions/${laptopSession.uid}/revoke`, admin, { reason: 'laptop stolen' })).status).toBe(200);
  const toMail = await drain(mailStream);
  expect(toMail).toHaveLength(1);
  expect(toMail[0].aud).toBe(mail.client_id);
  expect(toMail[0].sub_id).toEqual({
    format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: onLaptop.sub }, session: { format: 'opaque', id: onLaptop.sid },
  });
  expect(toMail[0].events[SESSION_REVOKED]).toMatchObject({ initiating_entity: 'admin', reason_admin: { en: 'laptop stolen' } });
  // The calendar's session on the phone is untouched: it hears nothing.
  expect(await drain(calendarStream)).toEqual([]);

  // The phone's session was her last: every stream following her hears about the person.
  const phoneSession = (await api('GET', `/admin/api/sessions?account=${onPhone.sub}`, admin)).body.items[0];
  expect((await api('POST', `/admin/api/sessions/${phoneSession.uid}/revoke`, admin, { reason: 'phone lost too' })).status).toBe(200);
  const person = { format: 'iss_sub', iss: issuer, sub: onPhone.sub };
  expect((await drain(calendarStream)).map((s) => s.sub_id)).toEqual([person]);
  expect((await drain(mailStream)).map((s) => s.sub_id)).toEqual([person]);
});

test('RFC 8936: a poll without returnImmediately waits for a SET (answered as it is queued) or for VIGIL_SSF_POLL_WAIT_SECONDS; at most 4 held per stream', async () => {
  const token = await streamToken(notes);
  const created = await api('POST', '/ssf/stream', token, { delivery: { method: POLL }, events_requested: [VERIFICATION] });
  expect(created.status).toBe(201);
  const streamId = created.body.stream_id as string;
  const poll = (body: unknown) => {
    const started = Date.now();
    return api('POST', `/ssf/poll/${streamId}`, token, body).then((res) => ({ ...res, tookMs: Date.now() - started }));
  };

  // Nothing pending: the poll is held for the whole wait, then answers empty.
  const empty = await poll({});
  expect(empty.status).toBe(200);
  expect(empty.body).toEqual({ sets: {} });
  expect(empty.tookMs).toBeGreaterThanOrEqual(POLL_WAIT_SECONDS * 1000 - 50);

  // Four receivers' polls are held; a fifth is refused with Retry-After, not held.
  const held = [poll({}), poll({}), poll({}), poll({ maxEvents: 5 })];
  await new Promise((resolve) => setTimeout(resolve, 300));
  const fifth = await poll({});
  expect(fifth.status).toBe(429);
  expect(fifth.headers.get('retry-after')).toBe('1');
  expect(fifth.body.error).toBe('too_many_requests');

  // A SET queued now wakes them at once, long before their wait is over.
  const askedAt = Date.now();
  expect((await api('POST', '/ssf/verify', token, { stream_id: streamId, state: 'long-poll' })).status).toBe(204);
  for (const answer of await Promise.all(held)) {
    expect(answer.status).toBe(200);
    const sets = Object.values(answer.body.sets as Record<string, string>);
    expect(sets).toHaveLength(1);
    expect(decodeJwt(sets[0]).events).toEqual({ [VERIFICATION]: { state: 'long-poll' } });
    expect(Date.now() - askedAt).toBeLessThan(1000);
  }
  // returnImmediately true still answers at once.
  const now = await poll({ returnImmediately: true, ack: Object.keys((await poll({ returnImmediately: true })).body.sets) });
  expect(now.body).toEqual({ sets: {} });
  expect(now.tookMs).toBeLessThan(1000);
});

test('a push endpoint Vigil may not call is refused at create and update, with the reason; GET shows a failing delivery until one goes through', async () => {
  const token = await streamToken(alerts);
  const push = (host: string) => ({ method: 'urn:ietf:rfc:8935', endpoint_url: `http://${host}:${receiver.port}/events` });
  // 127.0.0.1:port is allowed; the same receiver named localhost would never be reached: refused now, not at every delivery.
  const refused = await api('POST', '/ssf/stream', token, { delivery: push('localhost'), events_requested: [VERIFICATION] });
  expect(refused.status).toBe(400);
  expect(refused.body.error).toBe('invalid_request');
  expect(refused.body.error_description).toMatch(/^delivery\.endpoint_url: localhost:\d+ is a private or loopback address \((127\.0\.0\.1|::1)\) that Vigil may not call: .*VIGIL_ALLOWED_OUTGOING_HOSTS/);
  expect((await api('GET', '/ssf/stream', token)).body).toEqual([]);

  const created = await api('POST', '/ssf/stream', token, { delivery: push('127.0.0.1'), events_requested: [VERIFICATION] });
  expect(created.status).toBe(201);
  const streamId = created.body.stream_id as string;
  for (const method of ['PATCH', 'PUT']) {
    const changed = await api(method, '/ssf/stream', token, { stream_id: streamId, delivery: push('localhost'), events_requested: [VERIFICATION] });
    expect(changed.status).toBe(400);
    expect(changed.body.error_description).toMatch(/VIGIL_ALLOWED_OUTGOING_HOSTS/);
  }
  expect((await api('GET', `/ssf/stream?stream_id=${streamId}`, token)).body.delivery.endpoint_url).toBe(push('127.0.0.1').endpoint_url);

  // The receiver fails: the stream itself says so, while Vigil retries.
  receiver.status = 503;
  expect((await api('POST', '/ssf/verify', token, { stream_id: streamId, state: 'down' })).status).toBe(204);
  let failing: any;
  await until('the failure shown on the stream', async () => {
    failing = (await api('GET', `/ssf/stream?stream_id=${streamId}`, token)).body.last_delivery_error;
    return failing !== undefined;
  });
  expect(failing).toMatchObject({ status: 'retrying', attempts: expect.any(Number), next_attempt_at: expect.any(String) });
  expect(failing.error).toMatch(/503/);
  expect((await api('GET', '/ssf/stream', token)).body[0].last_delivery_error).toMatchObject({ status: 'retrying' });

  // Back up: the retry goes through and the error is gone.
  receiver.status = 202;
  await until('the retried delivery', () => receiver.sets.length === 1);
  await until('the error cleared', async () => (await api('GET', `/ssf/stream?stream_id=${streamId}`, token)).body.last_delivery_error === undefined);
});

test('several streams per client, each managed by its stream_id (at most 5); a stream\'s aud is chosen within the client\'s own names', async () => {
  const token = await streamToken(mail);
  const before = (await api('GET', '/ssf/stream', token)).body as { stream_id: string }[];
  expect(before).toHaveLength(1); // the poll stream of the first test
  const origin = new URL(redirectUri).origin;

  // A push stream beside it, its SETs addressed to the app's origin rather than its client id.
  const pushed = await api('POST', '/ssf/stream', token, {
    delivery: { method: 'urn:ietf:rfc:8935', endpoint_url: `http://127.0.0.1:${receiver.port}/mail` }, events_requested: [VERIFICATION], aud: origin,
  });
  expect(pushed.status).toBe(201);
  expect(pushed.body.aud).toBe(origin);
  const pushId = pushed.body.stream_id as string;
  expect((await api('GET', '/ssf/stream', token)).body.map((s: { stream_id: string }) => s.stream_id)).toEqual([before[0].stream_id, pushId]);

  receiver.sets.length = 0;
  expect((await api('POST', '/ssf/verify', token, { stream_id: pushId, state: 'mine' })).status).toBe(204);
  await until('the pushed SET', () => receiver.sets.length === 1);
  const { payload } = await jwtVerify(receiver.sets[0], createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: origin, typ: 'secevent+jwt' });
  expect(payload.aud).toBe(origin);
  // The poll stream got nothing of it: each stream is its own.
  expect(await drain({ token, streamId: before[0].stream_id })).toEqual([]);

  // Changing one leaves the other as it was; an audience that is not the client's own is refused.
  expect((await api('PATCH', '/ssf/stream', token, { stream_id: pushId, description: 'push', aud: [origin, mail.client_id] })).body)
    .toMatchObject({ stream_id: pushId, description: 'push', aud: [origin, mail.client_id] });
  expect((await api('GET', `/ssf/stream?stream_id=${before[0].stream_id}`, token)).body).toMatchObject({ aud: mail.client_id });
  expect((await api('GET', `/ssf/stream?stream_id=${before[0].stream_id}`, token)).body).not.toHaveProperty('description');
  for (const aud of ['https://other-app.example', calendar.client_id, [origin, 'https://other-app.example']]) {
    const refused = await api('POST', '/ssf/stream', token, { delivery: { method: POLL }, aud });
    expect(refused.status).toBe(400);
    expect(refused.body.error_description).toMatch(/^aud: .* is not an audience of this client/);
  }

  // Up to five; a sixth is a conflict until one is deleted.
  const more = [];
  for (let i = 0; i < 3; i += 1) more.push((await api('POST', '/ssf/stream', token, { delivery: { method: POLL } })).body.stream_id as string);
  const sixth = await api('POST', '/ssf/stream', token, { delivery: { method: POLL } });
  expect(sixth.status).toBe(409);
  expect(sixth.body).toEqual({ error: 'conflict', error_description: 'a client may have at most 5 event streams: delete one first' });
  expect((await api('DELETE', `/ssf/stream?stream_id=${more[0]}`, token)).status).toBe(204);
  expect((await api('GET', '/ssf/stream', token)).body).toHaveLength(4);
  expect((await api('POST', '/ssf/stream', token, { delivery: { method: POLL } })).status).toBe(201);
});

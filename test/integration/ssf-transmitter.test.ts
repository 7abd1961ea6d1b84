/**
 * Vigil as a Shared Signals transmitter, seen by receivers on loopback: each manages its own
 * stream with its client_credentials token; an administrator's revocation reaches a push receiver
 * as a signed CAEP session-revoked SET at once, and a poll receiver when it polls (acknowledged
 * SETs are not returned again); SETs owed to a receiver that is down survive a Vigil restart.
 */
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { freePort, startVigil, vigilCli } from '../support/vigil-process.ts';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { queryDatabase } from '../support/services.ts';
import { jsonCall } from '../support/json-api.ts';

const PASSWORD = 'correct horse battery staple 9';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';
const VERIFICATION = 'https://schemas.openid.net/secevent/ssf/event-type/verification';
const PUSH = 'urn:ietf:rfc:8935';
const POLL = 'urn:ietf:rfc:8936';

/** An RFC 8935 push endpoint on loopback: keeps every SET it receives, answers 202. */
class PushReceiver {
  readonly sets: { set: string; at: number; authorization?: string }[] = [];
  server: Server | undefined;
  port = 0;

  async start(port?: number): Promise<void> {
    this.port = port ?? await freePort();
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        if (req.headers['content-type'] !== 'application/secevent+jwt') return res.writeHead(400, { 'content-type': 'application/json' }).end('{"err":"invalid_request"}');
        this.sets.push({ set: body, at: Date.now(), ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); });
  }

  get uri(): string {
    return `http://127.0.0.1:${this.port}/events`;
  }
}

let stack: Stack;
let issuer: string;
const receiver = new PushReceiver();
let pushRp: ClientOut;
let pollRp: ClientOut;
let redirectUri: string;

const until = async (what: string, check: () => Promise<boolean> | boolean, ms = 10_000) => {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

async function streamToken(client: ClientOut): Promise<string> {
  const res = await fetch(`${stack.vigil.url}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret!)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: `${issuer}/ssf`, scope: 'ssf:stream' }),
  });
  const body = await res.json() as { access_token: string };
  expect(res.status).toBe(200);
  return body.access_token;
}

const api = (method: string, path: string, token: string | undefined, body?: unknown) => jsonCall(stack.vigil.url, method, path, token, body);

/** Signs `email` in to `client` (so that the client may name them as a subject). */
async function signInTo(client: ClientOut, email: string): Promise<void> {
  const config = await discover(issuer, client);
  const request = await pkceAuthorization(config, { redirect_uri: redirectUri, scope: 'openid offline_access', prompt: 'consent' });
  await request.redeem(await signIn(new Browser(), request.url, email, PASSWORD, redirectUri));
}

const rpArgs = (name: string) => ['client', 'create', '--name', name, '--redirect-uri', redirectUri,
  '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--grant-type', 'client_credentials',
  '--allow-resource', `${issuer}/ssf`, '--scope', 'ssf:stream'];

beforeAll(async () => {
  await receiver.start();
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  stack = await startStack({ VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${receiver.port}`, VIGIL_SSF_RETRY_SECONDS: '1' });
  issuer = stack.vigil.issuer;
  [, , pushRp, pollRp] = await Promise.all([
    vigilCli(stack.env, ['user', 'create', '--email', 'grace@vigil.test', '--password', PASSWORD]),
    vigilCli(stack.env, ['user', 'create', '--email', 'alan@vigil.test', '--password', PASSWORD]),
    vigilCli<ClientOut>(stack.env, rpArgs('Push receiver')),
    vigilCli<ClientOut>(stack.env, rpArgs('Poll receiver')),
  ]);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  await receiver.stop();
});

test('transmitter metadata', async () => {
  const res = await api('GET', '/.well-known/ssf-configuration', undefined);
  expect(res.status).toBe(200);
  expect(res.body).toMatchObject({
    spec_version: '1_0', issuer, jwks_uri: `${issuer}/jwks`, delivery_methods_supported: [PUSH, POLL],
    configuration_endpoint: `${issuer}/ssf/stream`, status_endpoint: `${issuer}/ssf/status`,
    add_subject_endpoint: `${issuer}/ssf/subjects/add`, remove_subject_endpoint: `${issuer}/ssf/subjects/remove`,
    verification_endpoint: `${issuer}/ssf/verify`, authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
  });
});

describe('streams', () => {
  let pushToken: string;
  let pollToken: string;
  let pushStream: string;
  let pollStream: string;
  let graceSub: string;

  test('bad stream requests get SSF errors; a client has one stream, and sees and changes only its own', async () => {
    [pushToken, pollToken] = await Promise.all([streamToken(pushRp), streamToken(pollRp)]);
    expect((await api('POST', '/ssf/stream', undefined, { delivery: { method: POLL } })).status).toBe(401);
    expect((await api('POST', '/ssf/stream', 'not-a-token', { delivery: { method: POLL } })).status).toBe(401);
    for (const bad of [
      { delivery: { method: 'urn:example:carrier-pigeon' } },
      { delivery: { method: PUSH } },
      { delivery: { method: PUSH, endpoint_url: 'http://receiver.example/events' } },
      { delivery: { method: POLL }, events_requested: 'all' },
      { delivery: { method: POLL }, description: 42 },
    ]) {
      const res = await api('POST', '/ssf/stream', pushToken, bad);
      expect(res.status).toBe(400);
      expect(res.body.error).toBe('invalid_request');
    }
    const notJson = await fetch(`${stack.vigil.url}/ssf/stream`, { method: 'POST', headers: { authorization: `Bearer ${pushToken}`, 'content-type': 'application/json' }, body: '{' });
    expect(notJson.status).toBe(400);

    const created = await api('POST', '/ssf/stream', pushToken, {
      delivery: { method: PUSH, endpoint_url: receiver.uri, authorization_header: 'Bearer receiver-secret' },
      events_requested: [SESSION_REVOKED, VERIFICATION, 'https://example.com/not-an-event'], description: 'push receiver',
    });
    expect(created.status).toBe(201);
    pushStream = created.body.stream_id;
    expect(created.body).toMatchObject({
      iss: issuer, aud: pushRp.client_id, delivery: { method: PUSH, endpoint_url: receiver.uri },
      events_delivered: [SESSION_REVOKED, VERIFICATION], description: 'push receiver',
    });
    expect(JSON.stringify(created.body)).not.toContain('receiver-secret');
    // A client may have several streams, each its own (this second one is deleted again).
    const second = await api('POST', '/ssf/stream', pushToken, { delivery: { method: POLL } });
    expect(second.status).toBe(201);
    expect((await api('DELETE', `/ssf/stream?stream_id=${second.body.stream_id}`, pushToken)).status).toBe(204);

    const poll = await api('POST', '/ssf/stream', pollToken, { delivery: { method: POLL }, events_requested: [SESSION_REVOKED] });
    expect(poll.status).toBe(201);
    pollStream = poll.body.stream_id;
    expect(poll.body.delivery).toEqual({ method: POLL, endpoint_url: `${issuer}/ssf/poll/${pollStream}` });

    // Another client's stream is not there for this one.
    expect((await api('GET', `/ssf/stream?stream_id=${pushStream}`, pollToken)).status).toBe(404);
    expect((await api('PATCH', '/ssf/stream', pollToken, { stream_id: pushStream, events_requested: [] })).status).toBe(404);
    expect((await api('DELETE', `/ssf/stream?stream_id=${pushStream}`, pollToken)).status).toBe(404);
    expect((await api('POST', '/ssf/status', pollToken, { stream_id: pushStream, status: 'disabled' })).status).toBe(404);
    expect((await api('POST', `/ssf/poll/${pushStream}`, pollToken, {})).status).toBe(404);
    expect((await api('GET', '/ssf/stream', pollToken)).body.map((s: { stream_id: string }) => s.stream_id)).toEqual([pollStream]);
    expect((await api('POST', '/ssf/status', pushToken, { stream_id: pushStream, status: 'sleeping' })).status).toBe(400);
    expect((await api('GET', `/ssf/status?stream_id=${pushStream}`, pushToken)).body).toEqual({ stream_id: pushStream, status: 'enabled' });

    // Verification: a signed SET naming the stream, with the receiver's state.
    expect((await api('POST', '/ssf/verify', pushToken, { stream_id: pushStream, state: 'abc' })).status).toBe(204);
    await until('the verification SET', () => receiver.sets.length === 1);
    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const { payload } = await jwtVerify(receiver.sets[0].set, jwks, { issuer, audience: pushRp.client_id, typ: 'secevent+jwt' });
    expect(payload).toMatchObject({ sub_id: { format: 'opaque', id: pushStream }, events: { [VERIFICATION]: { state: 'abc' } } });
    expect(receiver.sets[0].authorization).toBe('Bearer receiver-secret');
    expect((await api('POST', '/ssf/verify', pushToken, { stream_id: pushStream })).status).toBe(429);
    receiver.sets.length = 0;
  }, 30_000);

  test('an administrator disables an account: the push receiver has a signed session-revoked within a second, the poll receiver when it polls', async () => {
    await Promise.all([signInTo(pushRp, 'grace@vigil.test'), signInTo(pollRp, 'grace@vigil.test')]);
    for (const [token, stream] of [[pushToken, pushStream], [pollToken, pollStream]]) {
      const res = await api('POST', '/ssf/subjects/add', token, { stream_id: stream, subject: { format: 'email', email: 'grace@vigil.test' } });
      expect(res.status).toBe(200);
    }
    // Someone who never used this client is refused (as is someone unknown), not silently ignored.
    const early = await api('POST', '/ssf/subjects/add', pushToken, { stream_id: pushStream, subject: { format: 'email', email: 'alan@vigil.test' } });
    expect(early.status).toBe(400);
    expect(early.body).toEqual({ error: 'invalid_request', error_description: 'subject: names no person who has authorized this client; add them once they have signed in to it' });
    expect((await api('POST', '/ssf/subjects/add', pushToken, { stream_id: pushStream, subject: { format: 'email', email: 'nobody@vigil.test' } })).body).toEqual(early.body);
    expect((await api('POST', '/ssf/subjects/add', pushToken, { stream_id: pushStream, subject: { format: 'phone_number' } })).status).toBe(400);
    expect((await api('POST', '/ssf/subjects/add', pushToken, { stream_id: pushStream, subject: { format: 'complex' } })).status).toBe(400);

    // A person is named by email, Vigil's iss_sub or their account id (opaque), alone or as a complex subject's user.
    const [{ id: graceId }] = await queryDatabase<{ id: string }>(stack.db.url, "SELECT id FROM accounts WHERE email = 'grace@vigil.test'");
    const subjectsOf = async (stream: string) =>
      (await queryDatabase<{ account_id: string }>(stack.db.url, 'SELECT account_id FROM ssf_stream_subjects WHERE stream_id = $1', [stream])).map((r) => r.account_id);
    const subjectCall = (what: 'add' | 'remove', subject: unknown) => api('POST', `/ssf/subjects/${what}`, pollToken, { stream_id: pollStream, subject });
    expect(await subjectsOf(pollStream)).toEqual([graceId]);
    expect((await subjectCall('remove', { format: 'iss_sub', iss: 'https://elsewhere.example', sub: graceId })).status).toBe(204);
    expect(await subjectsOf(pollStream)).toEqual([graceId]);
    expect((await subjectCall('remove', { format: 'iss_sub', iss: issuer, sub: graceId })).status).toBe(204);
    expect(await subjectsOf(pollStream)).toEqual([]);
    expect((await subjectCall('add', { format: 'iss_sub', iss: 'https://elsewhere.example', sub: graceId })).status).toBe(400);
    expect(await subjectsOf(pollStream)).toEqual([]);
    expect((await subjectCall('add', { format: 'opaque', id: graceId })).status).toBe(200);
    expect(await subjectsOf(pollStream)).toEqual([graceId]);
    expect((await subjectCall('remove', { format: 'complex', user: { format: 'email', email: 'GRACE@vigil.test' } })).status).toBe(204);
    expect(await subjectsOf(pollStream)).toEqual([]);
    expect((await subjectCall('remove', { format: 'complex' })).status).toBe(204);
    expect((await subjectCall('add', { format: 'complex', user: { format: 'iss_sub', iss: issuer, sub: graceId } })).status).toBe(200);
    expect(await subjectsOf(pollStream)).toEqual([graceId]);
    expect((await subjectCall('remove', { format: 'opaque', id: graceId })).status).toBe(204);
    expect(await subjectsOf(pollStream)).toEqual([]);
    expect((await subjectCall('add', { format: 'email', email: 'grace@vigil.test' })).status).toBe(200);
    expect(await subjectsOf(pollStream)).toEqual([graceId]);

    await vigilCli(stack.env, ['user', 'disable', '--email', 'alan@vigil.test']);
    await vigilCli(stack.env, ['user', 'disable', '--email', 'grace@vigil.test']);
    const disabledAt = Date.now();
    await until('the pushed SET', () => receiver.sets.length >= 1, 5000);
    expect(receiver.sets[0].at - disabledAt).toBeLessThan(1000);

    const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
    const { payload, protectedHeader } = await jwtVerify(receiver.sets[0].set, jwks, { issuer, audience: pushRp.client_id, typ: 'secevent+jwt' });
    expect(protectedHeader.typ).toBe('secevent+jwt');
    const [grace] = await queryDatabase<{ id: string }>(stack.db.url, "SELECT id FROM accounts WHERE email = 'grace@vigil.test'");
    graceSub = grace.id;
    expect(payload.sub).toBeUndefined();
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.iat).toEqual(expect.any(Number));
    expect(payload.sub_id).toEqual({ format: 'iss_sub', iss: issuer, sub: graceSub });
    expect(payload.events).toEqual({
      [SESSION_REVOKED]: { event_timestamp: expect.any(Number), initiating_entity: 'admin', reason_admin: { en: expect.any(String) } },
    });
    // Alan never signed in to the push receiver's client: nothing about him went out.
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.sets).toHaveLength(1);

    const first = await api('POST', `/ssf/poll/${pollStream}`, pollToken, { maxEvents: 10, returnImmediately: true });
    expect(first.status).toBe(200);
    const jtis = Object.keys(first.body.sets);
    expect(jtis).toHaveLength(1);
    const polled = await jwtVerify(first.body.sets[jtis[0]], jwks, { issuer, audience: pollRp.client_id, typ: 'secevent+jwt' });
    expect(polled.payload).toMatchObject({ jti: jtis[0], sub_id: { format: 'iss_sub', iss: issuer, sub: graceSub }, events: { [SESSION_REVOKED]: { initiating_entity: 'admin' } } });
    // Not acknowledged: returned again.
    expect(Object.keys((await api('POST', `/ssf/poll/${pollStream}`, pollToken, { returnImmediately: true })).body.sets)).toEqual(jtis);
    const acked = await api('POST', `/ssf/poll/${pollStream}`, pollToken, { ack: jtis, returnImmediately: true });
    expect(acked.body).toEqual({ sets: {} });
    expect((await api('POST', `/ssf/poll/${pollStream}`, pollToken, { returnImmediately: true })).body).toEqual({ sets: {} });
    expect((await api('POST', `/ssf/poll/${pollStream}`, pollToken, { maxEvents: -1 })).status).toBe(400);
  }, 60_000);

  test('SETs owed to a receiver that is down survive a Vigil restart and arrive when it is back', async () => {
    const port = receiver.port;
    await receiver.stop();
    receiver.sets.length = 0;
    // A third person who used the push client, revoked while its receiver is down.
    await vigilCli(stack.env, ['user', 'create', '--email', 'ada@vigil.test', '--password', PASSWORD]);
    await signInTo(pushRp, 'ada@vigil.test');
    expect((await api('POST', '/ssf/subjects/add', pushToken, { stream_id: pushStream, subject: { format: 'email', email: 'ada@vigil.test' } })).status).toBe(200);
    await vigilCli(stack.env, ['user', 'disable', '--email', 'ada@vigil.test']);
    await until('a failed attempt recorded', async () => (await queryDatabase<{ last_error: string | null }>(stack.db.url,
      "SELECT last_error FROM ssf_events WHERE status = 'pending' AND event_type = $1", [SESSION_REVOKED])).some((r) => r.last_error !== null));

    const vigilPort = Number(new URL(issuer).port);
    await stack.instances[0].stop();
    const restarted = await startVigil(stack.env, { port: vigilPort });
    stack.instances[0] = restarted;
    stack.vigil = restarted;
    await receiver.start(port);
    await until('the SET after the restart', () => receiver.sets.length === 1, 20_000);
    const { payload } = await jwtVerify(receiver.sets[0].set, createRemoteJWKSet(new URL(`${issuer}/jwks`)), { issuer, audience: pushRp.client_id, typ: 'secevent+jwt' });
    const [ada] = await queryDatabase<{ id: string }>(stack.db.url, "SELECT id FROM accounts WHERE email = 'ada@vigil.test'");
    expect(payload.sub_id).toEqual({ format: 'iss_sub', iss: issuer, sub: ada.id });
    await until('marked delivered', async () => (await queryDatabase<{ status: string }>(stack.db.url,
      "SELECT status FROM ssf_events WHERE jti = $1", [payload.jti])).every((r) => r.status === 'delivered'));
  }, 60_000);
});

/**
 * Vigil as an AuthZEN 1.0 decision point, seen by a resource server: the Todo interop scenario's
 * 40 decisions (openid/authzen) one by one and in one batch, the batch semantics, the discovery
 * document, and the refusals (malformed requests 400 naming the member, no token 401 with a
 * challenge, a token without the scope 403), with a policy reload on SIGHUP.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oidc from 'openid-client';
import { startStack, discover, type ClientOut, type Stack } from '../support/stack.ts';
import { hangUp, tempDir, vigilCli, ROOT } from '../support/vigil-process.ts';
import { jsonCall } from '../support/json-api.ts';

const FIXTURES = join(ROOT, 'test/fixtures/authzen/todo');
const { evaluation: DECISIONS } = JSON.parse(readFileSync(join(FIXTURES, 'decisions-1.0.json'), 'utf8')) as {
  evaluation: { request: { subject: object; action: object; resource: object }; expected: boolean }[];
};

let stack: Stack;
let issuer: string;
let token: string;
let policyDir: string;

const call = (path: string, body: unknown, bearer: string | null = token, headers: Record<string, string> = {}) =>
  fetch(`${stack.vigil.url}${path}`, {
    method: 'POST',
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(async (res) => ({ status: res.status, headers: res.headers, body: await res.json() as any }));

/** A client_credentials token through openid-client, for `scope` at `resource`. */
async function clientToken(client: ClientOut, scope: string, resource: string): Promise<string> {
  const config = await discover(issuer, client);
  return (await oidc.clientCredentialsGrant(config, { scope, resource })).access_token;
}

beforeAll(async () => {
  // A copy of the policy: the reload test breaks it.
  policyDir = tempDir('vigil-authzen-');
  mkdirSync(join(policyDir, 'policy'));
  for (const f of ['todo.cedarschema', 'todo.cedar']) copyFileSync(join(FIXTURES, 'policy', f), join(policyDir, 'policy', f));
  stack = await startStack({
    VIGIL_AUTHZEN_POLICY: join(policyDir, 'policy'), VIGIL_AUTHZEN_ENTITIES: join(FIXTURES, 'entities.json'),
    // Above what the tests before the last one ask (about 70), below what the last one does.
    VIGIL_AUTHZEN_REQUESTS_PER_MINUTE: '150',
  });
  issuer = stack.vigil.issuer;
  const pep = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Todo backend', '--grant-type', 'client_credentials',
    '--allow-resource', `${issuer}/access/v1`, '--scope', 'authzen:evaluate']);
  token = await clientToken(pep, 'authzen:evaluate', `${issuer}/access/v1`);
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

test('discovery: the PDP metadata names the endpoints Vigil serves', async () => {
  const res = await jsonCall(stack.vigil.url, 'GET', '/.well-known/authzen-configuration', undefined);
  expect(res.status).toBe(200);
  expect(res.body).toEqual({
    policy_decision_point: issuer,
    access_evaluation_endpoint: `${issuer}/access/v1/evaluation`,
    access_evaluations_endpoint: `${issuer}/access/v1/evaluations`,
    search_resource_endpoint: `${issuer}/access/v1/search/resource`,
  });
});

test('the Todo scenario: all 40 decisions match, one evaluation at a time', async () => {
  const answers = await Promise.all(DECISIONS.map((d) => call('/access/v1/evaluation', d.request)));
  for (const a of answers) expect(a.status).toBe(200);
  expect(answers.map((a) => a.body.decision)).toEqual(DECISIONS.map((d) => d.expected));
  expect(DECISIONS.filter((d) => d.expected).length).toBeGreaterThan(10);
  expect(DECISIONS.filter((d) => !d.expected).length).toBeGreaterThan(10);
});

test('the Todo scenario in one batch (execute_all), in order; without evaluations a batch is one evaluation', async () => {
  const res = await call('/access/v1/evaluations', { evaluations: DECISIONS.map((d) => d.request) });
  expect(res.status).toBe(200);
  expect(res.body.evaluations.map((e: { decision: boolean }) => e.decision)).toEqual(DECISIONS.map((d) => d.expected));

  const single = await call('/access/v1/evaluations', DECISIONS[12].request);
  expect(single.status).toBe(200);
  expect(single.body.decision).toBe(false);
});

test('batch defaults and the short-circuit semantics', async () => {
  // Morty (editor): read todos yes, update Rick's no, update his own yes.
  const morty = { type: 'user', id: 'CiRmZDE2MTRkMy1jMzlhLTQ3ODEtYjdiZC04Yjk2ZjVhNTEwMGQSBWxvY2Fs' };
  const todo = (owner: string) => ({ type: 'todo', id: 't1', properties: { ownerID: owner } });
  const batch = (semantic?: string) => ({
    subject: morty,
    resource: todo('rick@the-citadel.com'),
    evaluations: [
      { action: { name: 'can_read_todos' } },
      { action: { name: 'can_update_todo' } },
      { action: { name: 'can_update_todo' }, resource: todo('morty@the-citadel.com') },
    ],
    ...(semantic ? { options: { evaluations_semantic: semantic } } : {}),
  });
  const decisions = async (semantic?: string) => {
    const res = await call('/access/v1/evaluations', batch(semantic));
    expect(res.status).toBe(200);
    return res.body.evaluations.map((e: { decision: boolean }) => e.decision);
  };
  expect(await decisions()).toEqual([true, false, true]);
  expect(await decisions('execute_all')).toEqual([true, false, true]);
  expect(await decisions('deny_on_first_deny')).toEqual([true, false]);
  expect(await decisions('permit_on_first_permit')).toEqual([true]);
});

test('malformed requests get 400 with an error naming the member; the request id is echoed', async () => {
  const good = DECISIONS[0].request as Record<string, any>;
  const cases: [unknown, RegExp][] = [
    ['{"subject": ', /not valid JSON/i],
    [[good], /JSON object/i],
    [{ ...good, subject: undefined }, /^subject:/],
    [{ ...good, subject: { type: 'user' } }, /^subject\.id:/],
    [{ ...good, action: { name: 42 } }, /^action\.name:/],
    [{ ...good, resource: 'todo-1' }, /^resource:/],
    [{ ...good, context: [] }, /^context:/],
    [{ ...good, subject: { ...good.subject, type: 'a user' } }, /^subject\.type:/],
  ];
  for (const [body, message] of cases) {
    const res = await call('/access/v1/evaluation', body, token, { 'x-request-id': 'req-authzen-1' });
    expect([res.status, res.body.error]).toEqual([400, 'invalid_request']);
    expect(res.body.error_description).toMatch(message);
    expect(res.headers.get('x-request-id')).toBe('req-authzen-1');
  }
  const batch = await call('/access/v1/evaluations', { subject: good.subject, evaluations: [{ action: good.action }] });
  expect(batch.status).toBe(400);
  expect(batch.body.error_description).toMatch(/^evaluations\.0\.resource: is required/);
  const semantic = await call('/access/v1/evaluations', { ...good, options: { evaluations_semantic: 'first_wins' } });
  expect(semantic.status).toBe(400);
  expect(semantic.body.error_description).toMatch(/^options\.evaluations_semantic:/);
  const search = await call('/access/v1/search/resource', { subject: good.subject, action: good.action, resource: { type: 'todo' }, page: { limit: 0 } });
  expect(search.status).toBe(400);
  expect(search.body.error_description).toMatch(/^page\.limit:/);
});

test('no token: 401 with a Bearer challenge; a bad token 401; a token without the scope 403', async () => {
  const request = DECISIONS[0].request;
  const none = await call('/access/v1/evaluation', request, null);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toMatch(/^Bearer realm="[^"]+\/access\/v1"$/);

  const bad = await call('/access/v1/evaluations', request, 'not-a-token');
  expect(bad.status).toBe(401);
  expect(bad.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

  // A client allowed the decision point's resource but not its scope: its token has no scope there.
  const ssfOnly = await vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Some API', '--grant-type', 'client_credentials',
    '--allow-resource', `${issuer}/access/v1`, '--allow-resource', `${issuer}/ssf`, '--scope', 'ssf:stream']);
  const noScope = await clientToken(ssfOnly, 'ssf:stream', `${issuer}/ssf`);
  const wrongAudience = await call('/access/v1/evaluation', request, noScope);
  expect(wrongAudience.status).toBe(401);
  const unscoped = await clientToken(ssfOnly, '', `${issuer}/access/v1`);
  const forbidden = await call('/access/v1/search/resource', { subject: (request as any).subject, action: (request as any).action, resource: { type: 'todo' } }, unscoped);
  expect(forbidden.status).toBe(403);
  expect(forbidden.headers.get('www-authenticate')).toMatch(/error="insufficient_scope".*scope="authzen:evaluate"/);
});

test('SIGHUP: a broken policy is refused and the one in force kept; a changed one takes effect', async () => {
  const rickDeletes = DECISIONS[6].request;
  expect((await call('/access/v1/evaluation', rickDeletes)).body.decision).toBe(true);
  const policyFile = join(policyDir, 'policy', 'todo.cedar');
  const original = readFileSync(policyFile, 'utf8');
  writeFileSync(policyFile, `${original}\npermit (principal, action == Action::"can_fly", resource);\n`);
  const refused = await hangUp(stack.vigil, 'reload refused');
  expect(refused).toMatch(/VIGIL_AUTHZEN_POLICY: invalid access policy: todo\.cedar:\d+:\d+: .*can_fly/);
  expect((await call('/access/v1/evaluation', rickDeletes)).body.decision).toBe(true);

  writeFileSync(policyFile, `${original}\n@id("nobody-deletes") forbid (principal, action == Action::"can_delete_todo", resource);\n`);
  await hangUp(stack.vigil, 'reloaded the risk policy');
  const denied = await call('/access/v1/evaluation', rickDeletes);
  expect(denied.body).toEqual({ decision: false, context: { reason_admin: { en: 'forbidden by nobody-deletes' } } });
  writeFileSync(policyFile, original);
});

test('a client past its requests per minute gets 429 with Retry-After', async () => {
  const answers = [];
  for (let round = 0; round < 8; round++) {
    answers.push(...await Promise.all(Array.from({ length: 20 }, () => call('/access/v1/evaluation', DECISIONS[0].request))));
  }
  const refused = answers.filter((a) => a.status === 429);
  expect(refused.length).toBeGreaterThan(0);
  expect(answers.filter((a) => a.status === 200).length).toBeGreaterThan(0);
  expect(refused[0].body.error).toBe('too_many_requests');
  expect(Number(refused[0].headers.get('retry-after'))).toBeGreaterThan(0);
});

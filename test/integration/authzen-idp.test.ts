/**
 * Vigil as the IdP of the AuthZEN IdP interop scenario (openid/authzen interop/authzen-idp): at
 * token issuance Vigil asks a decision point's resource search which records each person may
 * delete, and the ID and access tokens carry exactly those. Against Vigil's own decision point and
 * against an external one (a small PDP on loopback that can be made slow or taken down): a
 * fail-closed client is then refused its tokens, a fail-open one gets them without the claim.
 * Also: the live context (risk level, device) changes Vigil's own decisions.
 */
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { Browser, signIn } from '../support/browserless.ts';
import { discover, pkceAuthorization, startStack, type ClientOut, type Stack } from '../support/stack.ts';
import { freePort, ROOT, vigilCli } from '../support/vigil-process.ts';
import { queryDatabase } from '../support/services.ts';

const FIXTURES = join(ROOT, 'test/fixtures/authzen/idp');
const RECORDS = JSON.parse(readFileSync(join(FIXTURES, 'records.json'), 'utf8')) as { id: number; owner: string }[];
const EXPECTED = JSON.parse(readFileSync(join(FIXTURES, 'results.json'), 'utf8')) as Record<string, string[]>;
const PEOPLE = Object.keys(EXPECTED);
const PASSWORD = 'an idp scenario password 7';

/** An AuthZEN PDP answering the scenario's resource search from the records; it can be slowed down or stopped. */
class ExternalPdp {
  server: Server | undefined;
  port = 0;
  delayMs = 0;
  searches = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        if (req.method === 'GET' && req.url === '/.well-known/authzen-configuration') {
          return json(200, { policy_decision_point: this.url, search_resource_endpoint: `${this.url}/access/v1/search/resource` });
        }
        if (req.method !== 'POST' || req.url !== '/access/v1/search/resource') return json(404, {});
        this.searches++;
        const request = JSON.parse(body) as { subject: { id: string }; action: { name: string }; resource: { type: string } };
        const results = request.action.name === 'delete' && request.resource.type === 'record'
          ? RECORDS.filter((r) => r.owner === request.subject.id).map((r) => ({ type: 'record', id: String(r.id) }))
          : [];
        setTimeout(() => json(200, { results }), this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); });
  }
}

let stack: Stack;
let issuer: string;
let redirectUri: string;
const pdp = new ExternalPdp();
const browsers = new Map<string, Browser>();
const clients: Record<'self' | 'externalClosed' | 'externalOpen', ClientOut> = {} as never;

const claimSpec = (pdpId: string, onFailure: 'deny' | 'omit') => JSON.stringify([{
  pdp: pdpId, action: 'delete', resource_type: 'record', claim: 'record', subject_id: 'email_local_part', timeout_ms: 2000, on_failure: onFailure,
}]);

/** `person` signs in to `client` (one browser each: the second client is single sign-on); the token response. */
async function tokensFor(client: ClientOut, person: string): Promise<oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers> {
  let browser = browsers.get(person);
  if (!browser) browsers.set(person, browser = new Browser());
  const request = await pkceAuthorization(await discover(issuer, client), { redirect_uri: redirectUri, scope: 'openid' });
  return request.redeem(await signIn(browser, request.url, `${person}@idp.test`, PASSWORD, redirectUri));
}

/** The `record` claim of the ID token and of the access token (through introspection). */
async function recordClaims(client: ClientOut, tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers) {
  const introspected = await oidc.tokenIntrospection(await discover(issuer, client), tokens.access_token);
  expect(introspected.active).toBe(true);
  return { idToken: tokens.claims()?.record, accessToken: introspected.record };
}

beforeAll(async () => {
  await pdp.start();
  redirectUri = `http://127.0.0.1:${await freePort()}/cb`;
  stack = await startStack({
    VIGIL_AUTHZEN_POLICY: join(FIXTURES, 'policy'), VIGIL_AUTHZEN_ENTITIES: join(FIXTURES, 'entities.json'),
    VIGIL_ALLOWED_OUTGOING_HOSTS: `127.0.0.1:${pdp.port}`,
  });
  issuer = stack.vigil.issuer;
  const rp = (name: string, spec: string) => vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', name, '--redirect-uri', redirectUri,
    '--grant-type', 'authorization_code', '--introspect-any', '--authzen-claims', spec]);
  // Three at a time: each is a process of its own, on a machine shared with other suites.
  const work: (() => Promise<unknown>)[] = [
    async () => { clients.self = await rp('Records app (own PDP)', claimSpec('self', 'deny')); },
    async () => { clients.externalClosed = await rp('Records app (external PDP, fail closed)', claimSpec(pdp.url, 'deny')); },
    async () => { clients.externalOpen = await rp('Records app (external PDP, fail open)', claimSpec(pdp.url, 'omit')); },
    ...PEOPLE.map((p) => () => vigilCli(stack.env, ['user', 'create', '--email', `${p}@idp.test`, '--password', PASSWORD])),
  ];
  await Promise.all([0, 1, 2].map(async () => {
    for (let job = work.shift(); job; job = work.shift()) await job();
  }));
}, 180_000);

afterAll(async () => {
  await stack?.stop();
  await pdp.stop();
});

test('a client\'s AuthZEN claims are checked when it is registered', async () => {
  await Promise.all(([
    ['[{"pdp":"ftp://pdp.example","action":"delete","resource_type":"record","claim":"record","on_failure":"deny"}]', /vigil_authzen_claims: 0\.pdp/],
    ['[{"pdp":"self","action":"delete","resource_type":"record","claim":"sub","on_failure":"omit","timeout_ms":60000}]', /vigil_authzen_claims: 0\.claim: is a claim Vigil sets itself/],
    ['{"pdp":"self"}', /--authzen-claims must be a JSON array/],
  ] as const).map(([spec, problem]) => expect(vigilCli(stack.env, ['client', 'create', '--name', 'Bad', '--redirect-uri', redirectUri, '--authzen-claims', spec]))
    .rejects.toThrow(problem)));
}, 60_000);

test('Vigil\'s own PDP: each person\'s ID and access tokens carry exactly the records they may delete', async () => {
  for (const person of PEOPLE) {
    const claims = await recordClaims(clients.self, await tokensFor(clients.self, person));
    expect([person, claims]).toEqual([person, { idToken: EXPECTED[person], accessToken: EXPECTED[person] }]);
  }
}, 60_000);

test('an external PDP (discovered from its metadata): the same records for each person', async () => {
  const before = pdp.searches;
  for (const person of PEOPLE) {
    const claims = await recordClaims(clients.externalClosed, await tokensFor(clients.externalClosed, person));
    expect([person, claims]).toEqual([person, { idToken: EXPECTED[person], accessToken: EXPECTED[person] }]);
  }
  // One search per token response: the ID token and the access token share the answer.
  expect(pdp.searches - before).toBe(PEOPLE.length);
}, 60_000);

describe('the external PDP slower than the timeout, or down', () => {
  afterEach(async () => {
    pdp.delayMs = 0;
    if (!pdp.server) await pdp.start();
  });

  for (const outage of ['slow', 'down'] as const) {
    test(`${outage}: the fail-closed client is refused its tokens (access_denied), the fail-open one gets them without the claim`, async () => {
      if (outage === 'slow') pdp.delayMs = 5000;
      else await pdp.stop();
      const started = Date.now();
      const refused = await tokensFor(clients.externalClosed, 'alice').then(() => undefined, (err: oidc.ResponseBodyError) => err);
      expect(refused).toBeInstanceOf(oidc.ResponseBodyError);
      expect(refused!.error).toBe('access_denied');
      expect(refused!.error_description).toMatch(/"record" claim .* could not be obtained/);
      // Bounded: the timeout (2 s), not the PDP's 5 s.
      expect(Date.now() - started).toBeLessThan(4500);

      const tokens = await tokensFor(clients.externalOpen, 'alice');
      const claims = await recordClaims(clients.externalOpen, tokens);
      expect(claims).toEqual({ idToken: undefined, accessToken: undefined });
      expect(tokens.claims()?.sub).toBeTruthy();
      // Vigil's own decision point is not affected.
      expect((await recordClaims(clients.self, await tokensFor(clients.self, 'alice'))).idToken).toEqual(EXPECTED.alice);
      // Both are in the audit trail (written behind the responses).
      const audited = () => queryDatabase<{ action: string }>(stack.db.url,
        `SELECT DISTINCT action FROM audit_log WHERE action IN ('token.refused_authzen_claim', 'token.issued_without_authzen_claim') AND details->>'reason' LIKE $1`,
        [outage === 'slow' ? '%did not answer within 2000 ms%' : '%could not be reached%']);
      for (let i = 0; i < 100 && (await audited()).length < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect((await audited()).map((r) => r.action).sort()).toEqual(['token.issued_without_authzen_claim', 'token.refused_authzen_claim']);
    }, 30_000);
  }
});

let pepToken: Promise<string> | undefined;
/** A resource server's token for Vigil's decision point. */
function pdpToken(): Promise<string> {
  pepToken ??= vigilCli<ClientOut>(stack.env, ['client', 'create', '--name', 'Resource server', '--grant-type', 'client_credentials',
    '--allow-resource', `${issuer}/access/v1`, '--scope', 'authzen:evaluate'])
    .then(async (rs) => (await oidc.clientCredentialsGrant(await discover(issuer, rs), { scope: 'authzen:evaluate', resource: `${issuer}/access/v1` })).access_token);
  return pepToken;
}

test('the token_issuance variant: may the application be issued to each person (role and balance sent as properties)', async () => {
  const people = [['alice', 'manager', 110, true], ['bob', 'editor', 60, true], ['carol', 'contractor', 0, false],
    ['dan', 'manager', 60, true], ['erin', 'editor', 110, true], ['felix', 'contractor', 100, false]] as const;
  const res = await fetch(`${stack.vigil.url}/access/v1/evaluations`, {
    method: 'POST', headers: { authorization: `Bearer ${await pdpToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      resource: { type: 'application', id: 'DemoApp' }, action: { name: 'issue' },
      evaluations: people.map(([id, role, balance]) => ({ subject: { type: 'user', id, properties: { role, balance } } })),
    }),
  });
  expect(res.status).toBe(200);
  const { evaluations } = await res.json() as { evaluations: { decision: boolean }[] };
  expect(evaluations.map((e) => e.decision)).toEqual(people.map((p) => p[3]));
});

test('live context: a person\'s high risk level or non-compliant device closes the vault', async () => {
  const token = await pdpToken();
  const open = async (subject: string) => {
    const res = await fetch(`${stack.vigil.url}/access/v1/evaluation`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { type: 'user', id: subject }, action: { name: 'open' }, resource: { type: 'vault', id: 'v1' } }),
    });
    expect(res.status).toBe(200);
    return (await res.json() as { decision: boolean }).decision;
  };
  const [{ id: carol }] = await queryDatabase<{ id: string }>(stack.db.url, 'SELECT id FROM accounts WHERE email = $1', ['carol@idp.test']);
  // A Vigil account, by email or by id; "carol" is no account: no live context, no vault.
  expect([await open('carol@idp.test'), await open(carol), await open('carol')]).toEqual([true, true, false]);

  await queryDatabase(stack.db.url, `INSERT INTO risk_profiles (account_id, history, risk_level) VALUES ($1, '{}'::jsonb, 'high')
    ON CONFLICT (account_id) DO UPDATE SET risk_level = 'high'`, [carol]);
  expect(await open('carol@idp.test')).toBe(false);
  await queryDatabase(stack.db.url, 'UPDATE risk_profiles SET risk_level = \'low\' WHERE account_id = $1', [carol]);
  expect(await open('carol@idp.test')).toBe(true);

  // A registered device that never reported its posture is not compliant.
  await queryDatabase(stack.db.url, `INSERT INTO devices (id, account_id, name, public_jwk, jkt) VALUES ('dev_authzen', $1, 'Laptop', '{}'::jsonb, 'jkt-authzen')`, [carol]);
  expect(await open('carol@idp.test')).toBe(false);
});

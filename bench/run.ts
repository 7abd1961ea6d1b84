/**
 * Load benchmark: a production-mode Vigil on Postgres + Redis, driven by autocannon over
 * loopback. Prints requests/s, p50/p99 latency and the server's memory for each scenario.
 *
 *   npm run bench                       # every scenario, 10 s each
 *   BENCH_SECONDS=5 BENCH_CONNECTIONS=10 npm run bench -- refresh
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import * as oidc from 'openid-client';
import { freshDatabase, freshRedis } from '../test/support/services.ts';
import { newMasterKey, startVigil, vigilCli, type VigilProcess } from '../test/support/vigil-process.ts';
import { Browser, signIn } from '../test/support/browserless.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20);
const only = process.argv.slice(2);

interface Row { scenario: string; requests: number; rps: number; p50: number; p99: number; errors: number; non2xx: number; rssMb: number }

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

async function run(vigil: VigilProcess, scenario: string, options: autocannon.Options): Promise<Row> {
  const result = await autocannon({ connections: CONNECTIONS, ...(options.amount ? {} : { duration: SECONDS }), ...options });
  return {
    scenario,
    requests: result.requests.total,
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    rssMb: rssMb(vigil.pid),
  };
}

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function main() {
  const [db, redis] = await Promise.all([freshDatabase(), freshRedis()]);
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, VIGIL_MASTER_KEY: newMasterKey(), VIGIL_ADMIN_EMAIL: 'root@bench.test', VIGIL_ADMIN_PASSWORD: 'bench admin password', NODE_ENV: 'production', LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn', VIGIL_LOGIN_MAX_FAILURES_PER_IP: '100000' };
  const vigil = await startVigil(env);
  const cliEnv = { ...env, ISSUER: vigil.issuer };
  try {
    const password = 'bench user password 1';
    await vigilCli(cliEnv, ['user', 'create', '--email', 'user@bench.test', '--password', password]);
    const redirect = `${vigil.issuer}/bench-cb`;
    const web = await vigilCli<{ client_id: string; client_secret: string }>(cliEnv, ['client', 'create', '--name', 'bench web', '--redirect-uri', redirect]);
    const rs = await vigilCli<{ client_id: string; client_secret: string }>(cliEnv, ['client', 'create', '--name', 'bench api', '--resource-server', '--resource', 'https://api.bench.test', '--scope', 'read', '--token-format', 'opaque']);
    const machine = await vigilCli<{ client_id: string; client_secret: string }>(cliEnv, ['client', 'create', '--name', 'bench job', '--grant-type', 'client_credentials', '--allow-resource', 'https://api.bench.test']);

    // Refresh tokens are single-use: mint enough of them first, through one signed-in session.
    const config = await oidc.discovery(new URL(vigil.issuer), web.client_id, web.client_secret, undefined, { execute: [oidc.allowInsecureRequests] });
    const refreshTokens: string[] = [];
    const wantRefresh = only.length === 0 || only.includes('refresh');
    const mint = async (browser: Browser) => {
      const verifier = oidc.randomPKCECodeVerifier();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: redirect, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const callback = await signIn(browser, url.toString(), 'user@bench.test', password, redirect);
      const tokens = await oidc.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier });
      refreshTokens.push(tokens.refresh_token!);
    };
    const target = wantRefresh ? Math.min(20000, 400 * SECONDS * 2) : 1;
    const started = Date.now();
    // Eight people, each with a session of their own (concurrent requests within one session race for its grant).
    await Promise.all(Array.from({ length: 8 }, async () => {
      const browser = new Browser();
      do await mint(browser); while (refreshTokens.length < target && Date.now() - started < 60_000);
    }));
    process.stderr.write(`minted ${refreshTokens.length} refresh tokens in ${Date.now() - started} ms\n`);

    const cc = await oidc.clientCredentialsGrant(
      await oidc.discovery(new URL(vigil.issuer), machine.client_id, machine.client_secret, undefined, { execute: [oidc.allowInsecureRequests] }),
      { resource: 'https://api.bench.test', scope: 'read' },
    );

    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const scenarios: Array<[string, autocannon.Options]> = [
      ['discovery', { url: `${vigil.url}/.well-known/openid-configuration` }],
      ['jwks', { url: `${vigil.url}/jwks` }],
      ['client_credentials', { url: `${vigil.url}/token`, method: 'POST', headers: { ...form, authorization: basic(machine.client_id, machine.client_secret) }, body: 'grant_type=client_credentials&resource=https%3A%2F%2Fapi.bench.test&scope=read' }],
      ['introspection', { url: `${vigil.url}/token/introspection`, method: 'POST', headers: { ...form, authorization: basic(rs.client_id, rs.client_secret) }, body: `token=${cc.access_token}` }],
      ['refresh', {
        url: `${vigil.url}/token`, method: 'POST', headers: { ...form, authorization: basic(web.client_id, web.client_secret) }, amount: refreshTokens.length,
        requests: [{ setupRequest: (req) => { const token = refreshTokens.pop(); return token ? { ...req, body: `grant_type=refresh_token&refresh_token=${token}` } : (null as never); } }],
      }],
    ];
    const rows: Row[] = [];
    for (const [name, options] of scenarios) {
      if (only.length && !only.includes(name)) continue;
      rows.push(await run(vigil, name, options));
      process.stderr.write(`${name} done\n`);
    }
    console.log(`\nVigil benchmark: ${CONNECTIONS} connections, ${SECONDS} s per scenario, NODE_ENV=production, Postgres + Redis on loopback`);
    console.table(rows);
    const bad = rows.filter((r) => r.errors > 0 || r.non2xx > 0);
    if (bad.length) console.log(`scenarios with errors or non-2xx answers: ${bad.map((r) => r.scenario).join(', ')}`);
  } finally {
    await vigil.stop();
    await redis.close();
    await db.drop();
  }
}

await main();

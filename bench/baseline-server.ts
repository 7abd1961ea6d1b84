/**
 * The baseline: a bare oidc-provider (the version in node_modules) with an in-memory adapter,
 * the same grants and token formats as the bench asks of Vigil, and a password check with the
 * same argon2id parameters. Started by bench/run.ts as a child process; prints one JSON line
 * (its clients) on stdout once it listens on 127.0.0.1:$PORT. Nothing else: no database, no
 * Redis, no risk engine, no audit. What Vigil costs on top of this is what the bench measures.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { errors, type ClientMetadata } from 'oidc-provider';
import { hashPassword } from '../src/identity/password.ts';
import { benchAccount, RESOURCES, type ClientInfo } from './accounts.ts';
import { memoryAdapterFactory } from './baseline-adapter.ts';
import { interactionHandler, type PasswordBook } from './baseline-interactions.ts';

const PORT = Number(process.env.PORT);
const ACCOUNTS = Number(process.env.BASELINE_ACCOUNTS ?? 50);
const ISSUER = `http://127.0.0.1:${PORT}`;

/** Vigil's keys: an RS256 (2048-bit) key that signs, and an ES256 key published beside it. */
async function signingKeys(): Promise<JWK[]> {
  return Promise.all((['RS256', 'ES256'] as const).map(async (alg) => {
    const { privateKey } = await generateKeyPair(alg, alg === 'RS256' ? { modulusLength: 2048, extractable: true } : { extractable: true });
    return { ...(await exportJWK(privateKey)), kid: randomUUID(), alg, use: 'sig' };
  }));
}

async function passwordBook(): Promise<PasswordBook> {
  const book = new Map<string, { accountId: string; passwordHash: string }>();
  for (let i = 0; i < ACCOUNTS; i += 4) {
    await Promise.all(Array.from({ length: Math.min(4, ACCOUNTS - i) }, async (_, j) => {
      const { email, password } = benchAccount(i + j);
      book.set(email, { accountId: randomUUID(), passwordHash: await hashPassword(password) });
    }));
  }
  return book;
}

const newClient = (): ClientInfo => ({ client_id: randomUUID(), client_secret: randomBytes(32).toString('base64url') });

/** Vigil's defaults (src/config/schema.ts), in seconds. */
const TTL = { AccessToken: 300, ClientCredentials: 300, IdToken: 300, AuthorizationCode: 60, Interaction: 600, Session: 86400, Grant: 30 * 86400, RefreshToken: 14 * 86400 };

async function main() {
  const [keys, people] = await Promise.all([signingKeys(), passwordBook()]);
  const web = newClient();
  const rs = newClient();
  const machine = newClient();
  const redirect = `${ISSUER}/bench-cb`;
  const clients: ClientMetadata[] = [
    { ...web, redirect_uris: [redirect], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
    { ...rs, redirect_uris: [], grant_types: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
    { ...machine, redirect_uris: [], grant_types: ['client_credentials'], response_types: [], token_endpoint_auth_method: 'client_secret_basic' },
  ];
  const resourceServers: Record<string, { scope: string; audience: string; accessTokenFormat: 'jwt' | 'opaque'; accessTokenTTL: number; jwt?: { sign: { alg: 'RS256' } } }> = {
    [RESOURCES.jwt]: { scope: 'read', audience: RESOURCES.jwt, accessTokenFormat: 'jwt', accessTokenTTL: TTL.AccessToken, jwt: { sign: { alg: 'RS256' } } },
    [RESOURCES.opaque]: { scope: 'read', audience: RESOURCES.opaque, accessTokenFormat: 'opaque', accessTokenTTL: TTL.AccessToken },
  };

  const provider = new Provider(ISSUER, {
    adapter: memoryAdapterFactory(),
    clients,
    jwks: { keys: keys as never },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    scopes: ['openid', 'offline_access'],
    ttl: TTL,
    findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
    // Like Vigil: a refresh token for every code exchange of a client allowed the grant, rotated at every use.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const info = resourceServers[indicator];
          if (!info) throw new errors.InvalidTarget(`${indicator} is not a resource server`);
          return info;
        },
      },
    },
  });

  const providerCallback = provider.callback();
  const interactions = interactionHandler(provider, people);
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/interaction/')) {
      interactions(req, res).catch((err: unknown) => {
        process.stderr.write(`interaction failed: ${String(err)}\n`);
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    } else {
      providerCallback(req, res);
    }
  });
  await new Promise<void>((resolve) => server.listen(PORT, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ ready: true, issuer: ISSUER, redirect, web, rs, machine })}\n`);
  process.once('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}

await main();

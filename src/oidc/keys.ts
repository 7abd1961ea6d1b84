import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { KeyRing } from '../crypto/index.ts';
import { ADVISORY_LOCKS, type Queryable, type Sql } from '../store/index.ts';

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;

interface KeyRow {
  kid: string;
  alg: string;
  private_jwk_sealed: string;
  signs_from: Date;
  retired_at: Date | null;
  unpublish_at: Date | null;
  signing: boolean;
}

export interface KeySummary {
  kid: string;
  alg: string;
  state: 'pending' | 'signing' | 'retired';
  signsFrom: string;
  retiredAt?: string;
  unpublishAt?: string;
}

async function newKey(alg: string, keys: KeyRing): Promise<{ kid: string; publicJwk: JWK; sealed: string }> {
  const pair = await generateKeyPair(alg, alg.startsWith('RS') ? { modulusLength: 2048, extractable: true } : { extractable: true });
  const kid = randomUUID();
  const privateJwk = { ...(await exportJWK(pair.privateKey)), kid, alg, use: 'sig' };
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  return { kid, publicJwk, sealed: keys.seal(JSON.stringify(privateJwk), `signing_key:${kid}`) };
}

async function insertKeys(db: Queryable, keys: KeyRing, signsFromSeconds: number): Promise<string[]> {
  const kids: string[] = [];
  for (const alg of SIGNING_ALGS) {
    const key = await newKey(alg, keys);
    await db.query(
      'INSERT INTO signing_keys (kid, alg, public_jwk, private_jwk_sealed, signs_from) VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5))',
      [key.kid, alg, JSON.stringify(key.publicJwk), key.sealed, signsFromSeconds],
    );
    kids.push(key.kid);
  }
  return kids;
}

// Instances starting together on an empty database take turns, so only one set of keys is made.

/** First start: keys that sign at once. */
export async function ensureSigningKeys(db: Sql, keys: KeyRing): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.signingKeys]);
    const { rowCount } = await tx.query('SELECT 1 FROM signing_keys WHERE retired_at IS NULL LIMIT 1');
    return rowCount > 0 ? [] : insertKeys(tx, keys, 0);
  });
}

/**
 * New keys are published at once and sign only after `publishSeconds`, so that relying
 * parties caching the JWKS learn them first. The keys they replace stop signing then and stay
 * published for `keepSeconds` more, until every token they signed has expired.
 */
export async function rotateSigningKeys(db: Queryable, keys: KeyRing, publishSeconds: number, keepSeconds: number): Promise<string[]> {
  await db.query(
    `UPDATE signing_keys SET retired_at = now() + make_interval(secs => $1),
       unpublish_at = now() + make_interval(secs => $1 + $2) WHERE retired_at IS NULL`,
    [publishSeconds, keepSeconds],
  );
  return insertKeys(db, keys, publishSeconds);
}

/**
 * The keystore for oidc-provider: signing keys first; keys that are published but must not
 * sign (pending, retired) carry key_ops ["verify"], which keeps them out of signing.
 */
export async function loadJwks(db: Queryable, keys: KeyRing): Promise<{ keys: JWK[]; fingerprint: string }> {
  const { rows } = await db.query<KeyRow>(
    `SELECT kid, alg, private_jwk_sealed, signs_from, retired_at, unpublish_at,
            (signs_from <= now() AND (retired_at IS NULL OR retired_at > now())) AS signing
     FROM signing_keys WHERE unpublish_at IS NULL OR unpublish_at > now()
     ORDER BY signing DESC, signs_from DESC`,
  );
  const jwks = rows.map((row) => {
    const jwk = JSON.parse(keys.open(row.private_jwk_sealed, `signing_key:${row.kid}`)) as JWK;
    return row.signing ? jwk : { ...jwk, key_ops: ['verify'] };
  });
  const fingerprint = rows.map((r) => `${r.kid}:${r.signing ? 's' : 'v'}`).join(',');
  return { keys: jwks, fingerprint };
}

export async function listSigningKeys(db: Queryable): Promise<KeySummary[]> {
  const { rows } = await db.query<KeyRow>(
    `SELECT kid, alg, signs_from, retired_at, unpublish_at, (signs_from <= now() AND (retired_at IS NULL OR retired_at > now())) AS signing
     FROM signing_keys WHERE unpublish_at IS NULL OR unpublish_at > now() ORDER BY signs_from DESC`,
  );
  const now = Date.now();
  return rows.map((r) => ({
    kid: r.kid,
    alg: r.alg,
    state: r.signing ? 'signing' : new Date(r.signs_from).getTime() > now ? 'pending' : 'retired',
    signsFrom: new Date(r.signs_from).toISOString(),
    retiredAt: r.retired_at ? new Date(r.retired_at).toISOString() : undefined,
    unpublishAt: r.unpublish_at ? new Date(r.unpublish_at).toISOString() : undefined,
  }));
}

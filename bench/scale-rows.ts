/**
 * The rows of a Vigil that has run for a while, generated inside Postgres (`INSERT … SELECT
 * generate_series(…)`): bulk, no row crosses the wire, no dependency beyond `pg`. Each statement
 * writes one table in the shape Vigil itself writes it (src/store/adapter-sql.ts,
 * src/verification/risk-store.ts, src/audit/audit-log.ts, src/sessions/activity.ts).
 */
import { z } from 'zod';
import { DECISION_HOUR } from '../src/verification/index.ts';

const count = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

/** BENCH_SCALE_* settings; docs/performance.md explains each. */
export const scaleSizesSchema = z.object({
  BENCH_SCALE_ACCOUNTS: count(1_000_000),
  BENCH_SCALE_GRANTS: count(5_000_000),
  BENCH_SCALE_AUDIT_DAYS: count(30),
  /** Share of the accounts that sign in on a given day. */
  BENCH_SCALE_ACTIVE_SHARE: z.coerce.number().min(0).max(1).default(0.05),
  /** Refreshes per active person and day: an hour of use, a refresh every 5 min (the access token's lifetime). */
  BENCH_SCALE_REFRESHES_PER_DAY: count(12),
  /** Days of rotated (consumed) refresh tokens kept for replay detection: VIGIL_REFRESH_TOKEN_TTL. */
  BENCH_SCALE_CONSUMED_DAYS: count(14),
}).transform((s) => ({
  accounts: s.BENCH_SCALE_ACCOUNTS,
  grants: s.BENCH_SCALE_GRANTS,
  days: s.BENCH_SCALE_AUDIT_DAYS,
  activeShare: s.BENCH_SCALE_ACTIVE_SHARE,
  refreshesPerDay: s.BENCH_SCALE_REFRESHES_PER_DAY,
  consumedDays: Math.min(s.BENCH_SCALE_CONSUMED_DAYS, s.BENCH_SCALE_AUDIT_DAYS),
}));

export type ScaleSizes = z.infer<typeof scaleSizesSchema>;

/** The sizes from the environment (the edge: a bad value names its setting). */
export function scaleSizes(env: Record<string, string | undefined> = process.env): ScaleSizes {
  const parsed = scaleSizesSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([k, v]) => k.startsWith('BENCH_SCALE_') && v !== '')));
  if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  return parsed.data;
}

/** What the sizes come to: sign-ins and refreshes a day, rows of the audit trail and assessments. */
export function derivedCounts(s: ScaleSizes) {
  const signInsPerDay = Math.round(s.accounts * s.activeShare);
  const refreshesPerDay = signInsPerDay * s.refreshesPerDay;
  return {
    signInsPerDay,
    refreshesPerDay,
    /** Per sign-in: `login` and `risk.login`; per refresh: `risk.refresh`. */
    auditRows: s.days * (2 * signInsPerDay + refreshesPerDay),
    assessments: s.days * (signInsPerDay + refreshesPerDay),
    consumedRefreshTokens: s.consumedDays * refreshesPerDay,
  };
}

/** The loaded people's emails (never a bench account's: those are userNNN@bench.test). */
export const scaleEmail = (n: number) => `person${n}@scale.test`;
/** The clients the loaded grants belong to (public web apps). */
export const SCALE_CLIENTS = 12;

/** A refresh token's value for loaded grant `g` of account `n`, and its stored id (SHA-256, base64url): as the SQL below makes them. */
export const TOKEN_SQL = {
  accountId: (n: string) => `md5('account:' || ${n})::uuid::text`,
  clientId: (n: string) => `'scale-client-' || ((${n}) % ${SCALE_CLIENTS})`,
  // 43 base64url characters, like oidc-provider's ids.
  b64id: (seed: string) => `rtrim(translate(encode(sha256(convert_to(${seed}, 'UTF8')), 'base64'), '+/', '-_'), '=')`,
} as const;

const { accountId, clientId, b64id } = TOKEN_SQL;
const grantId = (n: string, j: string) => b64id(`'grant:' || ${n} || ':' || ${j}`);
const sessionUid = (n: string, j: string) => b64id(`'session:' || ${n} || ':' || ${j}`);
/** A live refresh token's value; its storage id is `b64id` of it. */
export const refreshTokenValueSql = (n: string, j: string) => b64id(`'refresh:' || ${n} || ':' || ${j}`);

const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
];
const PLATFORMS = [
  { browser: 'Chrome', os: 'Windows', deviceType: 'desktop' }, { browser: 'Safari', os: 'iOS', deviceType: 'mobile' },
  { browser: 'Safari', os: 'macOS', deviceType: 'desktop' }, { browser: 'Firefox', os: 'Linux', deviceType: 'desktop' },
  { browser: 'Chrome', os: 'Android', deviceType: 'mobile' },
];
const PLACES = [
  { country: 'DE', region: 'BE', city: 'Berlin', lat: 52.52, lon: 13.405, accuracyKm: 20 },
  { country: 'DE', region: 'BY', city: 'Munich', lat: 48.137, lon: 11.575, accuracyKm: 20 },
  { country: 'GB', region: 'ENG', city: 'London', lat: 51.507, lon: -0.128, accuracyKm: 50 },
  { country: 'FR', region: 'IDF', city: 'Paris', lat: 48.857, lon: 2.352, accuracyKm: 20 },
];
const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;
const pick = (list: readonly string[], index: string) => `(ARRAY[${list.map(sqlText).join(', ')}])[(1 + (${index}) % ${list.length})::int]`;
const agent = (index: string) => pick(AGENTS, index);
const placeJson = (index: string) => `(${pick(PLACES.map((p) => JSON.stringify(p)), index)})::jsonb`;
const ip = (n: string) => `'203.0.' || (((${n}) / 250) % 250) || '.' || ((${n}) % 250 + 1)`;

/**
 * An account's stored history after months of use: the 50 newest events (maxEvents) and the
 * counts per feature, as `historyToJson` writes them. `variant` picks platform and place.
 */
export function profileHistory(variant: number, now = Date.now()): string {
  const platform = PLATFORMS[variant % PLATFORMS.length];
  const place = PLACES[variant % PLACES.length];
  const prefix = `203.0.${variant % 250}.0/24`;
  const devices = [0, 1, 2].map((d) => `brw_${Buffer.from(`device-${variant}-${d}`).toString('base64url').slice(0, 22)}`);
  const events = Array.from({ length: 50 }, (_, i) => {
    const hour = 8 + (i % 10);
    const base = { time: now - (50 - i) * 3 * 3600_000, ipPrefix: prefix, ...place, ...platform, hour };
    // Sign-ins carry the device; refreshes the session they belong to.
    return i % 4 === 0 ? { ...base, deviceId: devices[i % 3] } : { ...base, sessionId: Buffer.from(`session-${variant}-${i % 5}`).toString('base64url').padEnd(43, 'x') };
  });
  const counts = {
    ip: [[prefix, 180], ['198.51.100.0/24', 12]], os: [[platform.os, 192]], hour: Array.from({ length: 10 }, (_, h) => [String(8 + h), 19]),
    agent: [[`${platform.browser}/${platform.os}`, 192]], device: devices.map((d, i) => [d, 40 - i * 10]),
    region: [[`${place.country}/${place.region}`, 192]], browser: [[platform.browser, 192]], country: [[place.country, 192]],
    daypart: [['1', 90], ['2', 102]], deviceType: [[platform.deviceType, 192]],
  };
  return JSON.stringify({ events, stats: { total: 192, counts }, tz: 60 });
}

const PROFILE_VARIANTS = 20;

/** One table's bulk load: its name, and the statement(s). */
export interface TableLoad { table: string; statements: string[] }

/**
 * The statements that load `sizes` into a migrated, otherwise empty database (the bench's own
 * accounts and clients may be there already). Run them in order, on one connection.
 */
export function scaleLoad(sizes: ScaleSizes): TableLoad[] {
  const d = derivedCounts(sizes);
  const avgGrants = sizes.accounts ? sizes.grants / sizes.accounts : 0;
  // Grants per account: uniform over 0..2×average (0–10 for 5 a person), so the total comes near BENCH_SCALE_GRANTS.
  const spread = Math.max(1, Math.round(2 * avgGrants) + 1);
  const daysMs = `${sizes.days} * interval '1 day'`;
  const groupA = 2 + sizes.refreshesPerDay; // audit rows per active person and day
  const groupR = 1 + sizes.refreshesPerDay; // assessments per active person and day
  // The people active in each slot of time, spread over the accounts.
  const activeAccount = (group: string) => `((${group})::bigint * 7919) % ${Math.max(1, sizes.accounts)}`;
  return [
    {
      table: 'accounts',
      statements: [`INSERT INTO accounts (id, email, display_name, roles, password_hash, email_verified, created_at, updated_at)
        SELECT ${accountId('n')}, 'person' || n || '@scale.test', 'Person ' || n, '{}',
          -- one real argon2id hash (of "scale person password"): nobody signs in as a loaded person
          '$argon2id$v=19$m=19456,p=1,t=2$jLIi2WRpz9twjZLUCCau7g$qsIQrZO4vA+VTvpcwl2/OTyXiZAlG2elqpxJ1iIoMd4',
          n % 3 <> 0, now() - (n % 700) * interval '1 day', now() - (n % 30) * interval '1 day'
        FROM generate_series(0, ${sizes.accounts - 1}) AS n`],
    },
    {
      table: 'oidc_payloads (Client)',
      statements: [`INSERT INTO oidc_payloads (model, id, payload)
        SELECT 'Client', ${clientId('c')}, jsonb_build_object('client_id', ${clientId('c')}, 'client_name', 'Scale app ' || c,
          'grant_types', jsonb_build_array('authorization_code', 'refresh_token'), 'redirect_uris', jsonb_build_array('https://app' || c || '.scale.test/cb'),
          'response_types', jsonb_build_array('code'), 'application_type', 'web', 'token_endpoint_auth_method', 'none')
        FROM generate_series(0, ${SCALE_CLIENTS - 1}) AS c`],
    },
    {
      // Grants, then each grant's live refresh token, binding and session: all from one temporary table of grants.
      table: 'oidc_payloads (Grant + live RefreshToken), risk_grant_bindings, session_activity',
      statements: [
        `CREATE TEMPORARY TABLE scale_grants AS
          SELECT row_number() OVER () AS r, n, j, ${grantId('n', 'j')} AS grant_id, ${sessionUid('n', 'j')} AS session_uid, ${accountId('n')} AS account_id, ${clientId('n + j')} AS client_id,
            now() - random() * interval '29 days' AS created, now() - random() * interval '13 days' AS refreshed
          FROM generate_series(0, ${sizes.accounts - 1}) AS n, generate_series(1, least(10, (abs(hashint4(n)::bigint) % ${spread})::int)) AS j`,
        `UPDATE scale_grants SET refreshed = created WHERE refreshed < created`,
        'CREATE INDEX ON scale_grants (r)',
        'ANALYZE scale_grants',
        `INSERT INTO oidc_payloads (model, id, payload, account_id, expires_at, client_id)
          SELECT 'Grant', grant_id, jsonb_build_object('exp', extract(epoch FROM created + interval '30 days')::bigint, 'iat', extract(epoch FROM created)::bigint,
            'jti', grant_id, 'kind', 'Grant', 'openid', jsonb_build_object('scope', 'openid offline_access'), 'clientId', client_id, 'accountId', account_id),
            account_id, created + interval '30 days', client_id
          FROM scale_grants`,
        refreshTokenInsert(`${b64id(refreshTokenValueSql('n', 'j'))}`, 'refreshed', 'NULL', `(extract(epoch FROM now() - created) / 300)::int`, 'scale_grants'),
        `INSERT INTO risk_grant_bindings (grant_id, session_uid, account_id, client_id, user_agent, last_refresh_at, created_at)
          SELECT grant_id, session_uid, account_id, client_id, ${agent('n + j')}, refreshed, created FROM scale_grants`,
        `INSERT INTO session_activity (session_uid, account_id, user_agent, ip, created_at, last_seen_at)
          SELECT session_uid, account_id, ${agent('n + j')}, ${ip('n')}, created, refreshed FROM scale_grants`,
      ],
    },
    {
      // Rotated tokens stay (consumed) until they expire: a replayed one revokes its grant.
      table: 'oidc_payloads (consumed RefreshToken)',
      statements: [refreshTokenInsert(b64id(`'rotated:' || i`), `now() - (i::float8 / ${Math.max(1, d.consumedRefreshTokens)}) * ${sizes.consumedDays} * interval '1 day'`,
        'iat_at + interval \'5 minutes\'', 'i % 100',
        `(SELECT i, g.* FROM generate_series(0, ${d.consumedRefreshTokens - 1}) AS i
           JOIN scale_grants g ON g.r = 1 + (i / ${Math.max(1, sizes.refreshesPerDay)})::bigint * 7919 % (SELECT count(*) FROM scale_grants)) s`)],
    },
    {
      table: 'risk_profiles',
      statements: [
        // The histories parsed once (a cast per row costs ~1.5 ms), then copied to each account.
        `CREATE TEMPORARY TABLE scale_histories AS SELECT v - 1 AS v, (h)::jsonb AS history
          FROM unnest(ARRAY[${Array.from({ length: PROFILE_VARIANTS }, (_, v) => sqlText(profileHistory(v))).join(', ')}]) WITH ORDINALITY AS x(h, v)`,
        `INSERT INTO risk_profiles (account_id, history, version, updated_at, risk_level)
          SELECT DISTINCT ON (n) account_id, h.history, 192, refreshed, 'low'
          FROM scale_grants JOIN scale_histories h ON h.v = n % ${PROFILE_VARIANTS} ORDER BY n`,
        'DROP TABLE scale_histories',
      ],
    },
    {
      // Oldest first, so that seq follows time as it does in a live trail. The hashes chain (each
      // row's prev_hash is the row before's hash) but are not the entries' real HMAC-free hashes:
      // `vigil audit verify` fails on a loaded trail.
      table: 'audit_log',
      statements: [`INSERT INTO audit_log (at, actor, action, subject, ip, outcome, details, prev_hash, hash)
        SELECT now() - ${daysMs} + (i::float8 / ${Math.max(1, d.auditRows)}) * ${daysMs},
          ${accountId(activeAccount(`i / ${groupA}`))},
          CASE i % ${groupA} WHEN 0 THEN 'login' WHEN 1 THEN 'risk.login' ELSE 'risk.refresh' END,
          CASE WHEN i % ${groupA} = 0 THEN NULL ELSE ${clientId(`i / ${groupA}`)} END,
          ${ip(`i / ${groupA}`)}, CASE WHEN i % ${groupA} = 0 THEN 'success' ELSE 'info' END,
          CASE i % ${groupA}
            WHEN 0 THEN jsonb_build_object('acr', 'urn:vigil:acr:1fa', 'amr', jsonb_build_array('pwd'), 'client', ${clientId(`i / ${groupA}`)})
            WHEN 1 THEN jsonb_build_object('level', 'low', 'rules', '[]'::jsonb, 'score', 5, 'decision', jsonb_build_object('action', 'allow'), 'signals', jsonb_build_array(
              jsonb_build_object('name', 'behaviour', 'points', 0, 'reason', 'Sign-in consistent with this account''s history, likelihood ratio 1.84'),
              jsonb_build_object('name', 'known_device', 'points', 0, 'reason', 'Device brw_BtBo… seen on this account 41 times')))
            ELSE jsonb_build_object('grant', ${grantId(activeAccount(`i / ${groupA}`), '1')}, 'level', 'low', 'score', 0, 'device', NULL,
              'session', ${sessionUid(activeAccount(`i / ${groupA}`), '1')}, 'signals', jsonb_build_object('behaviour', 0), 'decision', jsonb_build_object('action', 'allow'), 'forwarded', true)
          END,
          CASE WHEN i = 0 THEN 'genesis' ELSE encode(sha256(convert_to('audit:' || (i - 1), 'UTF8')), 'hex') END,
          encode(sha256(convert_to('audit:' || i, 'UTF8')), 'hex')
        FROM generate_series(0, ${d.auditRows - 1}) AS i`],
    },
    {
      table: 'risk_assessments',
      statements: [`INSERT INTO risk_assessments (at, type, account_id, session_uid, client_id, ip, ip_is_user, place, device_id, score, level, decision, rules, signals)
        SELECT now() - ${daysMs} + (i::float8 / ${Math.max(1, d.assessments)}) * ${daysMs},
          CASE WHEN i % ${groupR} = 0 THEN 'login' ELSE 'refresh' END,
          ${accountId(activeAccount(`i / ${groupR}`))}, ${sessionUid(activeAccount(`i / ${groupR}`), '1')}, ${clientId(`i / ${groupR}`)},
          ${ip(`i / ${groupR}`)}, true, ${placeJson(`i / ${groupR}`)},
          CASE WHEN i % ${groupR} = 0 THEN 'brw_' || left(md5('device:' || (i / ${groupR})), 22) END,
          0, 'low', '{"action": "allow"}'::jsonb, '[]'::jsonb,
          CASE WHEN i % ${groupR} = 0
            THEN '[{"name": "behaviour", "reason": "Sign-in consistent with this account''s history, likelihood ratio 1.84", "contribution": 0}, {"name": "known_device", "reason": "Device seen on this account 41 times", "contribution": 0}]'::jsonb
            ELSE '[{"name": "behaviour", "reason": "Sign-in consistent with this account''s history, likelihood ratio 1.12", "contribution": 0}]'::jsonb
          END
        FROM generate_series(0, ${d.assessments - 1}) AS i`,
        // Each session's latest level on its row, and the decisions by hour, as Vigil keeps them (migration 032).
        `UPDATE session_activity a SET risk_level = r.level
          FROM (SELECT DISTINCT ON (session_uid) session_uid, level FROM risk_assessments
                WHERE session_uid IS NOT NULL ORDER BY session_uid, at DESC, id DESC) r
          WHERE a.session_uid = r.session_uid`,
        `INSERT INTO risk_decision_counts (hour, action, decisions)
          SELECT ${DECISION_HOUR('at')}, decision->>'action', count(*) FROM risk_assessments GROUP BY 1, 2`],
    },
  ];
}

/** A RefreshToken row per row of `source` (columns n, j, grant_id, session_uid, account_id, client_id, created), as the SQL adapter stores one. */
function refreshTokenInsert(storageId: string, issued: string, consumed: string, rotations: string, source: string): string {
  return `INSERT INTO oidc_payloads (model, id, payload, grant_id, account_id, expires_at, consumed_at, client_id)
    SELECT 'RefreshToken', ${storageId}, jsonb_build_object('acr', 'urn:vigil:acr:1fa', 'amr', jsonb_build_array('pwd'),
        'exp', extract(epoch FROM iat_at + interval '14 days')::bigint, 'gty', 'authorization_code refresh_token', 'iat', extract(epoch FROM iat_at)::bigint,
        'sid', session_uid, 'iiat', extract(epoch FROM created)::bigint, 'kind', 'RefreshToken', 'scope', 'openid offline_access',
        'claims', '{"id_token": {"auth_time": {"essential": true}}}'::jsonb, 'grantId', grant_id, 'authTime', extract(epoch FROM created)::bigint,
        'clientId', client_id, 'accountId', account_id, 'rotations', ${rotations}, 'sessionUid', session_uid, 'expiresWithSession', true),
      grant_id, account_id, iat_at + interval '14 days', ${consumed}, client_id
    FROM (SELECT *, ${issued} AS iat_at FROM ${source}) AS t`;
}

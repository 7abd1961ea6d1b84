/**
 * RiskStore against a real, freshly migrated Postgres database (one per file): profiles with
 * compare-and-set, failures per account and address, grant bindings, devices by key thumbprint,
 * stored assessments, the levels and decisions the admin dashboard counts, and purging.
 */
import { randomBytes } from 'node:crypto';
import { ADVISORY_LOCKS, migrate, PostgresSql } from '../../../src/store/index.ts';
import { RiskStore, type StoredAssessment } from '../../../src/verification/index.ts';
import { SessionActivityLog, StepUpRequirements } from '../../../src/sessions/index.ts';
import { AdminQueries } from '../../../src/admin/queries.ts';
import {
  DEFAULT_LIMITS, emptyPopulation, eventFromContext, recordEventInPlace,
  type Assessment, type HistoryLimits, type PopulationStats, type RiskHistory,
} from '../../../src/risk/index.ts';
import { freshDatabase } from '../../support/services.ts';
import { ctx, DAY, historyOf, HOUR, MINUTE, PLACES, routine, T0, UA } from '../risk/fixtures.ts';

let db: { url: string; drop(): Promise<void> };
let sql: PostgresSql;
let store: RiskStore;

beforeAll(async () => {
  db = await freshDatabase();
  sql = new PostgresSql(db.url, 4);
  await migrate(sql);
  store = new RiskStore(sql);
});

afterAll(async () => {
  await sql?.close();
  await db?.drop();
});

const uid = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

/** A new row in `accounts` (risk_profiles and devices reference it). */
async function account(): Promise<string> {
  const id = uid('acct');
  await sql.query('INSERT INTO accounts (id, email) VALUES ($1, $2)', [id, `${id}@example.com`]);
  return id;
}

/** A unique public-looking IPv4 address per call. */
let ipCounter = 0;
const nextIp = () => { ipCounter++; return `203.0.${Math.floor(ipCounter / 250) % 250}.${(ipCounter % 250) + 1}`; };

const ASSESSMENT: Assessment = {
  score: 42,
  level: 'medium',
  decision: { action: 'mfa', acr: 'urn:vigil:acr:2fa' },
  rules: ['login.thresholds[0]'],
  signals: [
    { name: 'new_country', contribution: 30, reason: 'first sign-in from France' },
    { name: 'known_device', contribution: -10, reason: 'a browser seen before' },
  ],
};

function stored(accountId: string, overrides: Partial<StoredAssessment> = {}): StoredAssessment {
  return { time: T0, type: 'login', accountId, clientId: 'webapp', ip: '81.2.69.142', ipIsUser: true, assessment: ASSESSMENT, ...overrides };
}

/** A history of `n` daily logins for the account (population of its own). */
const historyFor = (accountId: string, n = 3, population: PopulationStats = emptyPopulation()): RiskHistory =>
  historyOf(routine(n, { accountId }), population);

describe('load', () => {
  test('an unknown account, address, grant and key: an empty history sharing the population, version undefined', async () => {
    const population = emptyPopulation();
    const state = await store.load(population, { accountId: 'nobody', ip: '192.0.2.1', grantId: 'no-grant', jkt: 'no-jkt' });
    expect(state.version).toBeUndefined();
    expect(state.binding).toBeUndefined();
    expect(state.device).toBeUndefined();
    expect(state.history.populationStats).toBe(population);
    expect(state.history.accountEvents).toEqual([]);
    expect(state.history.accountStats.total).toBe(0);
    expect(state.history.failuresByAccount).toEqual([]);
    expect(state.history.failuresByIp).toEqual([]);
    expect(state.history.lastGoodEvent).toBeUndefined();
    expect(state.history.timezoneOffsetMinutes).toBeUndefined();
  });

  test('without grantId and jkt: no binding, no device', async () => {
    const state = await store.load(emptyPopulation(), { accountId: 'nobody', ip: '192.0.2.1' });
    expect(Object.keys(state).sort()).toEqual(['history', 'owed', 'riskLevel', 'version']);
    expect(state.owed).toEqual([]);
    // An account never assessed is at the lowest level.
    expect(state.riskLevel).toBe('low');
  });

  test('the step-ups owed, in the same statement: the session\'s (when one is named) and the person\'s', async () => {
    const accountId = await account();
    const stepUps = new StepUpRequirements(sql);
    await stepUps.require('sess-judged', accountId, 'urn:vigil:acr:phr', 'risk: unusual agent');
    await stepUps.requireOfAccount(accountId, 'urn:vigil:acr:2fa', 'phished');
    const withSession = await store.load(emptyPopulation(), { accountId, ip: nextIp(), sessionUid: 'sess-judged' });
    expect(withSession.owed.map((o) => [o.acr, o.reason, o.metAt]).sort()).toEqual([
      ['urn:vigil:acr:2fa', 'phished', undefined], ['urn:vigil:acr:phr', 'risk: unusual agent', undefined],
    ]);
    for (const o of withSession.owed) expect(Math.abs(o.since - Date.now() / 1000)).toBeLessThan(60);
    // A grant of no (or another) session still owes the person's.
    expect((await store.load(emptyPopulation(), { accountId, ip: nextIp() })).owed.map((o) => o.acr)).toEqual(['urn:vigil:acr:2fa']);
    expect((await store.load(emptyPopulation(), { accountId, ip: nextIp(), sessionUid: 'sess-other' })).owed.map((o) => o.acr)).toEqual(['urn:vigil:acr:2fa']);
  });
});

describe('save', () => {
  test('nothing to save: no query, resolves', async () => {
    await expect(store.save({})).resolves.toEqual({ profileSaved: false });
  });

  test('assessment, profile and binding in one call; load returns them', async () => {
    const accountId = await account();
    const grantId = uid('grant');
    const history = historyOf([
      ctx({ accountId, time: T0 - 2 * DAY }),
      ctx({ accountId, time: T0 - DAY, geo: PLACES.paris, userAgent: UA.safariMac, deviceId: 'dev-laptop', networkTags: ['corporate'] }),
      ctx({ accountId, time: T0 - 3 * DAY, geo: PLACES.manchester }),
    ]);
    const time = T0 + 1234;
    await store.save({
      assessment: stored(accountId, { time, type: 'refresh', sessionUid: 'sess-1', clientId: 'spa', ip: '90.12.22.32', place: PLACES.paris, deviceId: 'dev-laptop' }),
      profile: { accountId, history, version: undefined },
      binding: { grantId, sessionUid: 'sess-1', accountId, clientId: 'spa', deviceId: 'dev-laptop', userAgent: UA.safariMac, time },
    });

    const population = emptyPopulation();
    const state = await store.load(population, { accountId, ip: '90.12.22.32', grantId });
    expect(state.version).toBe(0);
    expect(state.history.populationStats).toBe(population);
    expect(state.history.accountEvents).toEqual(history.accountEvents);
    expect(state.history.accountEvents[1].networkTags).toEqual(['corporate']);
    expect(state.history.accountStats.total).toBe(3);
    expect(state.history.accountStats.counts).toEqual(history.accountStats.counts);
    // The newest event, not the last one in the list.
    expect(state.history.lastGoodEvent).toEqual(history.accountEvents[1]);
    expect(state.history.timezoneOffsetMinutes).toBe(history.timezoneOffsetMinutes);
    expect(state.history.timezoneOffsetMinutes).toBe(0);
    expect(state.binding).toEqual({ deviceId: 'dev-laptop', userAgent: UA.safariMac, lastRefreshAt: time });

    const [recent] = await store.recent(accountId);
    expect(recent).toEqual({
      time, type: 'refresh', accountId, sessionUid: 'sess-1', clientId: 'spa', ip: '90.12.22.32', ipIsUser: true,
      place: PLACES.paris, deviceId: 'dev-laptop', ...ASSESSMENT,
    });
  });

  test('a non-zero time zone round-trips', async () => {
    const accountId = await account();
    const history = historyOf([ctx({ accountId, geo: PLACES.sydney })]);
    expect(history.timezoneOffsetMinutes).toBe(600);
    await store.save({ profile: { accountId, history, version: undefined } });
    expect((await store.load(emptyPopulation(), { accountId, ip: '1.1.1.1' })).history.timezoneOffsetMinutes).toBe(600);
  });

  test('a profile without located events stores no time zone', async () => {
    const accountId = await account();
    const history = historyOf([ctx({ accountId, geo: undefined })]);
    expect(history.timezoneOffsetMinutes).toBeUndefined();
    await store.save({ profile: { accountId, history, version: undefined } });
    const state = await store.load(emptyPopulation(), { accountId, ip: '1.1.1.1' });
    expect(state.history.timezoneOffsetMinutes).toBeUndefined();
    expect(state.history.accountEvents).toHaveLength(1);
  });

  test('the profile does not carry the population table nor the account\'s failures', async () => {
    const accountId = await account();
    const population = emptyPopulation();
    const history = historyFor(accountId, 2, population);
    history.failuresByAccount = [T0 - 1, T0 - 2];
    history.failuresByIp = [T0 - 3];
    await store.save({ profile: { accountId, history, version: undefined } });
    const { rows } = await sql.query<{ history: Record<string, unknown>; failures: unknown }>('SELECT history, failures FROM risk_profiles WHERE account_id = $1', [accountId]);
    expect(Object.keys(rows[0].history).sort()).toEqual(['events', 'stats', 'tz']);
    expect((rows[0].history.stats as Record<string, unknown>).accounts).toBeUndefined();
    expect(rows[0].failures).toEqual([]);
    // historyToJson must not have mutated the caller's population stats.
    expect(population.accounts).toBe(1);
  });

  describe('profile compare-and-set', () => {
    test('two saves from the same loaded version: the first wins, the second is dropped (and says so)', async () => {
      const accountId = await account();
      await store.save({ profile: { accountId, history: historyFor(accountId, 1), version: undefined } });
      const a = await store.load(emptyPopulation(), { accountId, ip: nextIp() });
      const b = await store.load(emptyPopulation(), { accountId, ip: nextIp() });
      expect(a.version).toBe(0);
      expect(b.version).toBe(0);
      recordEventInPlace(a.history, eventFromContext(ctx({ accountId, time: T0, geo: PLACES.paris }), a.history));
      recordEventInPlace(b.history, eventFromContext(ctx({ accountId, time: T0, geo: PLACES.newYork }), b.history));
      expect(await store.save({ profile: { accountId, history: a.history, version: a.version } })).toEqual({ profileSaved: true });
      expect(await store.save({ profile: { accountId, history: b.history, version: b.version } })).toEqual({ profileSaved: false });
      const after = await store.load(emptyPopulation(), { accountId, ip: nextIp() });
      expect(after.version).toBe(1);
      expect(after.history.accountEvents.map((e) => e.city)).toEqual(['London', 'Paris']);
    });

    test('two first saves (version undefined): the first wins', async () => {
      const accountId = await account();
      expect(await store.save({ profile: { accountId, history: historyOf([ctx({ accountId, geo: PLACES.paris })]), version: undefined } })).toEqual({ profileSaved: true });
      expect(await store.save({ profile: { accountId, history: historyOf([ctx({ accountId, geo: PLACES.lagos })]), version: undefined } })).toEqual({ profileSaved: false });
      const state = await store.load(emptyPopulation(), { accountId, ip: nextIp() });
      expect(state.version).toBe(0);
      expect(state.history.accountEvents.map((e) => e.city)).toEqual(['Paris']);
    });

    test('successive saves from fresh loads each apply and move the version on', async () => {
      const accountId = await account();
      let version: number | undefined;
      for (let i = 0; i < 4; i++) {
        const state = await store.load(emptyPopulation(), { accountId, ip: nextIp() });
        expect(state.version).toBe(version);
        expect(state.history.accountEvents).toHaveLength(i);
        recordEventInPlace(state.history, eventFromContext(ctx({ accountId, time: T0 + i * HOUR }), state.history));
        await store.save({ profile: { accountId, history: state.history, version: state.version } });
        version = version === undefined ? 0 : version + 1;
      }
      expect((await store.load(emptyPopulation(), { accountId, ip: nextIp() })).version).toBe(3);
    });

    test('a fresh profile in a combined save is written, and says so; without a profile nothing is', async () => {
      const accountId = await account();
      const grantId = uid('grant');
      const binding = { grantId, accountId, clientId: 'webapp', userAgent: 'UA', time: T0 };
      expect(await store.save({ assessment: stored(accountId), binding })).toEqual({ profileSaved: false });
      expect(await store.save({ assessment: stored(accountId), binding })).toEqual({ profileSaved: false });
      expect(await store.save({ assessment: stored(accountId), profile: { accountId, history: historyFor(accountId, 1), version: undefined }, binding }))
        .toEqual({ profileSaved: true });
      expect((await store.load(emptyPopulation(), { accountId, ip: nextIp() })).version).toBe(0);
    });

    test('a stale profile in a combined save is dropped while the assessment and binding are still written', async () => {
      const accountId = await account();
      const grantId = uid('grant');
      await store.save({ profile: { accountId, history: historyFor(accountId, 1), version: undefined } });
      await store.save({ profile: { accountId, history: historyFor(accountId, 2), version: 0 } });
      const saved = await store.save({
        assessment: stored(accountId, { time: T0 + 5 }),
        profile: { accountId, history: historyFor(accountId, 5), version: 0 },
        binding: { grantId, accountId, clientId: 'webapp', userAgent: 'UA', time: T0 + 5 },
      });
      expect(saved).toEqual({ profileSaved: false });
      const state = await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId });
      expect(state.version).toBe(1);
      expect(state.history.accountEvents).toHaveLength(2);
      expect(state.binding).toEqual({ userAgent: 'UA', lastRefreshAt: T0 + 5 });
      expect((await store.recent(accountId)).map((r) => r.time)).toEqual([T0 + 5]);
    });
  });

  describe('grant binding upsert', () => {
    type B = { deviceId?: string; userAgent: string; time: number };
    test.each<[string, B, B, { deviceId?: string; userAgent: string; lastRefreshAt: number }]>([
      ['keeps the first device and agent, moves the time on',
        { deviceId: 'dev-1', userAgent: 'UA-1', time: T0 }, { deviceId: 'dev-2', userAgent: 'UA-2', time: T0 + MINUTE },
        { deviceId: 'dev-1', userAgent: 'UA-1', lastRefreshAt: T0 + MINUTE }],
      ['fills a missing device',
        { userAgent: 'UA-1', time: T0 }, { deviceId: 'dev-2', userAgent: 'UA-2', time: T0 + MINUTE },
        { deviceId: 'dev-2', userAgent: 'UA-1', lastRefreshAt: T0 + MINUTE }],
      ['fills an empty agent (the first request was a server\'s)',
        { deviceId: 'dev-1', userAgent: '', time: T0 }, { userAgent: 'UA-2', time: T0 + MINUTE },
        { deviceId: 'dev-1', userAgent: 'UA-2', lastRefreshAt: T0 + MINUTE }],
      ['fills both',
        { userAgent: '', time: T0 }, { deviceId: 'dev-2', userAgent: 'UA-2', time: T0 + HOUR },
        { deviceId: 'dev-2', userAgent: 'UA-2', lastRefreshAt: T0 + HOUR }],
      ['a later request without device or agent changes neither',
        { deviceId: 'dev-1', userAgent: 'UA-1', time: T0 }, { userAgent: '', time: T0 + 1 },
        { deviceId: 'dev-1', userAgent: 'UA-1', lastRefreshAt: T0 + 1 }],
      ['no device ever: none loaded',
        { userAgent: 'UA-1', time: T0 }, { userAgent: 'UA-2', time: T0 + 999 },
        { userAgent: 'UA-1', lastRefreshAt: T0 + 999 }],
    ])('%s', async (_name, first, second, expected) => {
      const accountId = await account();
      const grantId = uid('grant');
      const binding = (b: B) => ({ grantId, accountId, clientId: 'webapp', ...b });
      await store.save({ binding: binding(first) });
      expect((await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId })).binding)
        .toEqual({ ...(first.deviceId ? { deviceId: first.deviceId } : {}), userAgent: first.userAgent, lastRefreshAt: first.time });
      await store.save({ binding: binding(second) });
      expect((await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId })).binding).toEqual(expected);
    });

    test('the agent is cut to 512 characters; the session uid is kept', async () => {
      const accountId = await account();
      const grantId = uid('grant');
      await store.save({ binding: { grantId, sessionUid: 'sess-x', accountId, clientId: 'webapp', userAgent: 'u'.repeat(600), time: T0 } });
      const state = await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId });
      expect(state.binding?.userAgent).toBe('u'.repeat(512));
      const { rows } = await sql.query<{ session_uid: string }>('SELECT session_uid FROM risk_grant_bindings WHERE grant_id = $1', [grantId]);
      expect(rows).toEqual([{ session_uid: 'sess-x' }]);
    });

    test('another grant\'s binding is not loaded', async () => {
      const accountId = await account();
      await store.save({ binding: { grantId: uid('grant'), accountId, clientId: 'webapp', userAgent: 'UA', time: T0 } });
      expect((await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId: uid('grant') })).binding).toBeUndefined();
    });
  });

  describe('touchBindings (write-behind of refresh times)', () => {
    test('moves each grant to its latest time in one call, never back; other grants and unknown grants are left alone', async () => {
      const accountId = await account();
      const [a, b, c] = [uid('grant'), uid('grant'), uid('grant')];
      for (const grantId of [a, b, c]) await store.save({ binding: { grantId, accountId, clientId: 'webapp', userAgent: 'UA', time: T0 + MINUTE } });
      await store.touchBindings([
        { grantId: a, time: T0 + 3 * MINUTE }, { grantId: a, time: T0 + 5 * MINUTE }, { grantId: a, time: T0 + 4 * MINUTE },
        { grantId: b, time: T0 }, // older than what is stored
        { grantId: uid('grant'), time: T0 + 9 * MINUTE },
      ]);
      const at = async (grantId: string) => (await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId })).binding?.lastRefreshAt;
      expect(await at(a)).toBe(T0 + 5 * MINUTE);
      expect(await at(b)).toBe(T0 + MINUTE);
      expect(await at(c)).toBe(T0 + MINUTE);
    });

    test('nothing to touch: no query', async () => {
      await expect(store.touchBindings([])).resolves.toBeUndefined();
    });
  });
});

describe('recordFailure', () => {
  const limits: HistoryLimits = { ...DEFAULT_LIMITS, failureWindowMs: HOUR, maxFailures: 3 };
  let small: RiskStore;
  beforeAll(() => {
    small = new RiskStore(sql, limits);
  });

  const failures = async (accountId: string, ip: string) => {
    const { history } = await small.load(emptyPopulation(), { accountId, ip });
    return { account: history.failuresByAccount, ip: history.failuresByIp };
  };

  test('an unknown account (no id): counted for the address only', async () => {
    const ip = nextIp();
    await small.recordFailure(undefined, ip, T0);
    await small.recordFailure(undefined, ip, T0 + 1);
    const state = await small.load(emptyPopulation(), { accountId: 'nobody', ip });
    expect(state.history.failuresByIp).toEqual([T0, T0 + 1]);
    expect(state.history.failuresByAccount).toEqual([]);
    expect(state.version).toBeUndefined();
  });

  test('a known account without a profile: both counted; the profile is created empty (version 0)', async () => {
    const accountId = await account();
    const ip = nextIp();
    await small.recordFailure(accountId, ip, T0);
    const state = await small.load(emptyPopulation(), { accountId, ip });
    expect(state.version).toBe(0);
    expect(state.history.accountEvents).toEqual([]);
    expect(state.history.accountStats.total).toBe(0);
    expect(state.history.failuresByAccount).toEqual([T0]);
    expect(state.history.failuresByIp).toEqual([T0]);
  });

  test.each<[string, number[], number[]]>([
    ['kept in ascending order', [T0, T0 + 1, T0 + 2], [T0, T0 + 1, T0 + 2]],
    ['out-of-order times are sorted', [T0 + 2, T0, T0 + 1], [T0, T0 + 1, T0 + 2]],
    ['at most maxFailures, the newest kept', [T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4], [T0 + 2, T0 + 3, T0 + 4]],
    ['the window is relative to the failure being recorded', [T0, T0 + 30 * MINUTE, T0 + 61 * MINUTE], [T0 + 30 * MINUTE, T0 + 61 * MINUTE]],
    ['exactly one window old is out; one ms less is in', [T0, T0 + 1, T0 + HOUR], [T0 + 1, T0 + HOUR]],
    ['a long gap forgets everything before it', [T0, T0 + 1, T0 + 2, T0 + DAY], [T0 + DAY]],
    ['an older failure arriving late is kept, in order', [T0 + 61 * MINUTE, T0], [T0, T0 + 61 * MINUTE]],
    ['duplicates are each counted', [T0, T0, T0], [T0, T0, T0]],
  ])('account and address: %s', async (_name, times, expected) => {
    const accountId = await account();
    const ip = nextIp();
    for (const t of times) await small.recordFailure(accountId, ip, t);
    expect(await failures(accountId, ip)).toEqual({ account: expected, ip: expected });
  });

  test('address and account lists are independent', async () => {
    const alice = await account();
    const bob = await account();
    const ipA = nextIp();
    const ipB = nextIp();
    await small.recordFailure(alice, ipA, T0);
    await small.recordFailure(alice, ipB, T0 + 1);
    await small.recordFailure(bob, ipA, T0 + 2);
    await small.recordFailure(undefined, ipA, T0 + 3);
    expect(await failures(alice, ipA)).toEqual({ account: [T0, T0 + 1], ip: [T0, T0 + 2, T0 + 3] });
    expect(await failures(bob, ipB)).toEqual({ account: [T0 + 2], ip: [T0 + 1] });
  });

  test('failures survive a profile save, and a failure does not move the profile version', async () => {
    const accountId = await account();
    const ip = nextIp();
    await small.save({ profile: { accountId, history: historyFor(accountId, 1), version: undefined } });
    const loaded = await small.load(emptyPopulation(), { accountId, ip });
    await small.recordFailure(accountId, ip, T0);
    await small.save({ profile: { accountId, history: historyFor(accountId, 2), version: loaded.version } });
    const state = await small.load(emptyPopulation(), { accountId, ip });
    expect(state.version).toBe(1);
    expect(state.history.accountEvents).toHaveLength(2);
    expect(state.history.failuresByAccount).toEqual([T0]);
  });

  test('the default limits: a day\'s window', async () => {
    const accountId = await account();
    const ip = nextIp();
    await store.recordFailure(accountId, ip, T0);
    await store.recordFailure(accountId, ip, T0 + 23 * HOUR);
    await store.recordFailure(accountId, ip, T0 + 25 * HOUR);
    const { history } = await store.load(emptyPopulation(), { accountId, ip });
    expect(history.failuresByAccount).toEqual([T0 + 23 * HOUR, T0 + 25 * HOUR]);
  });
});

describe('devices by key thumbprint', () => {
  async function device(accountId: string, posture?: Record<string, unknown>, reportAt?: number) {
    const id = uid('dev');
    const jkt = randomBytes(32).toString('base64url');
    await sql.query(
      `INSERT INTO devices (id, account_id, name, public_jwk, jkt, last_posture, last_report_at) VALUES ($1, $2, 'laptop', '{"kty":"OKP"}', $3, $4, $5)`,
      [id, accountId, jkt, posture ? JSON.stringify(posture) : null, reportAt === undefined ? null : new Date(reportAt).toISOString()],
    );
    return { id, jkt };
  }

  const POSTURE = { os: 'macOS', osVersion: '14.5', diskEncryption: true, firewall: true, screenLock: true, edrRunning: false, jailbroken: false };

  test('a device with a posture report: id, account, posture and report time', async () => {
    const accountId = await account();
    const { id, jkt } = await device(accountId, POSTURE, T0 + 789);
    const state = await store.load(emptyPopulation(), { accountId, ip: nextIp(), jkt });
    expect(state.device).toEqual({ id, accountId, lastPosture: POSTURE, lastReportAt: T0 + 789 });
  });

  test('a device that never reported: no posture, no time', async () => {
    const accountId = await account();
    const { id, jkt } = await device(accountId);
    const state = await store.load(emptyPopulation(), { accountId, ip: nextIp(), jkt });
    expect(state.device).toEqual({ id, accountId });
  });

  test('another person\'s device is returned with its own account (the caller compares)', async () => {
    const owner = await account();
    const other = await account();
    const { id, jkt } = await device(owner);
    expect((await store.load(emptyPopulation(), { accountId: other, ip: nextIp(), jkt })).device).toEqual({ id, accountId: owner });
  });

  test('an unknown thumbprint: no device', async () => {
    expect((await store.load(emptyPopulation(), { accountId: 'nobody', ip: nextIp(), jkt: 'unknown' })).device).toBeUndefined();
  });
});

describe('grantsOnDevice and forgetGrants', () => {
  test('lists the grants bound to a device, and forgets only the ones named', async () => {
    const accountId = await account();
    const deviceId = uid('dev');
    const g1 = uid('grant');
    const g2 = uid('grant');
    const g3 = uid('grant');
    const elsewhere = uid('grant');
    await store.save({ binding: { grantId: g1, sessionUid: 'sess-1', accountId, clientId: 'webapp', deviceId, userAgent: 'UA', time: T0 } });
    await store.save({ binding: { grantId: g2, accountId, clientId: 'spa', deviceId, userAgent: 'UA', time: T0 } });
    // Bound to the device at a later refresh (the device was filled in).
    await store.save({ binding: { grantId: g3, accountId, clientId: 'cli', userAgent: '', time: T0 } });
    await store.save({ binding: { grantId: g3, accountId, clientId: 'cli', deviceId, userAgent: 'UA', time: T0 + 1 } });
    await store.save({ binding: { grantId: elsewhere, accountId, clientId: 'webapp', deviceId: uid('dev'), userAgent: 'UA', time: T0 } });

    const byId = (a: { grantId: string }, b: { grantId: string }) => a.grantId.localeCompare(b.grantId);
    expect((await store.grantsOnDevice(deviceId)).sort(byId)).toEqual([
      { grantId: g1, sessionUid: 'sess-1', accountId, clientId: 'webapp' },
      { grantId: g2, accountId, clientId: 'spa' },
      { grantId: g3, accountId, clientId: 'cli' },
    ].sort(byId));
    expect(await store.grantsOnDevice(uid('dev'))).toEqual([]);

    await store.forgetGrants([]);
    expect(await store.grantsOnDevice(deviceId)).toHaveLength(3);
    await store.forgetGrants([g1, g3, uid('grant')]);
    expect(await store.grantsOnDevice(deviceId)).toEqual([{ grantId: g2, accountId, clientId: 'spa' }]);
    expect((await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId: g1 })).binding).toBeUndefined();
    expect((await store.load(emptyPopulation(), { accountId, ip: nextIp(), grantId: elsewhere })).binding).toBeDefined();
  });
});

describe('attachLogin', () => {
  test('names the session of the newest unattached sign-in of the account from that address since the time, and no other', async () => {
    const accountId = await account();
    const other = await account();
    const ip = '81.2.69.142';
    await store.insertAssessments([
      stored(accountId, { time: T0 - 10 * MINUTE }), // too old
      stored(accountId, { time: T0 + 1000 }), // attached below
      stored(accountId, { time: T0 + 500 }), // older than the newest
      stored(accountId, { time: T0 + 2000, ip: '203.0.113.9' }), // another address
      stored(accountId, { time: T0 + 3000, type: 'refresh', sessionUid: 'sess-old' }),
      stored(other, { time: T0 + 4000 }),
    ]);
    await store.attachLogin(accountId, ip, 'sess-new', T0 - MINUTE);
    const rows = await sql.query<{ at: Date; ip: string; account_id: string; session_uid: string | null }>(
      'SELECT at, ip, account_id, session_uid FROM risk_assessments WHERE account_id = ANY($1) ORDER BY at', [[accountId, other]]);
    expect(rows.rows.map((r) => [new Date(r.at).getTime() - T0, r.session_uid])).toEqual([
      [-10 * MINUTE, null], [500, null], [1000, 'sess-new'], [2000, null], [3000, 'sess-old'], [4000, null],
    ]);
    // The session's next authorizations (other clients, SSO) attach nothing more to it.
    await store.attachLogin(accountId, ip, 'sess-new', T0 - MINUTE);
    const again = await sql.query<{ n: string }>("SELECT count(*) AS n FROM risk_assessments WHERE session_uid = 'sess-new'");
    expect(again.rows[0].n).toBe('1');
  });
});

describe('recent', () => {
  test('newest first, limited, only the account\'s, optional fields absent when not stored', async () => {
    const accountId = await account();
    const other = await account();
    for (let i = 0; i < 5; i++) await store.save({ assessment: stored(accountId, { time: T0 + i * MINUTE, ipIsUser: i % 2 === 0 }) });
    await store.save({ assessment: stored(other, { time: T0 + HOUR }) });

    const all = await store.recent(accountId);
    expect(all.map((r) => r.time)).toEqual([4, 3, 2, 1, 0].map((i) => T0 + i * MINUTE));
    expect(all.map((r) => r.ipIsUser)).toEqual([true, false, true, false, true]);
    expect(all[0]).toEqual({ time: T0 + 4 * MINUTE, type: 'login', accountId, clientId: 'webapp', ip: '81.2.69.142', ipIsUser: true, ...ASSESSMENT });
    expect('place' in all[0] || 'deviceId' in all[0] || 'sessionUid' in all[0]).toBe(false);

    expect((await store.recent(accountId, 2)).map((r) => r.time)).toEqual([T0 + 4 * MINUTE, T0 + 3 * MINUTE]);
    expect(await store.recent('nobody')).toEqual([]);
  });

  test('equal times: the one stored last comes first', async () => {
    const accountId = await account();
    await store.save({ assessment: stored(accountId, { clientId: 'first' }) });
    await store.save({ assessment: stored(accountId, { clientId: 'second' }) });
    expect((await store.recent(accountId)).map((r) => r.clientId)).toEqual(['second', 'first']);
  });

  test('a batch stores every field, and what Postgres text cannot hold (a NUL, half a surrogate pair) is stored as U+FFFD, not lost with the batch', async () => {
    const accountId = await account();
    const place = { country: 'FR', city: 'Paris', lat: 48.85, lon: 2.35 } as unknown as StoredAssessment['place'];
    const odd: Assessment = { ...ASSESSMENT, signals: [{ name: 'behaviour', contribution: 5, reason: 'agent "x\u0000y" from \ud800 nowhere' }] };
    await store.insertAssessments([
      stored(accountId, { time: T0, type: 'refresh', sessionUid: 'sess-1', place, deviceId: 'dev-1' }),
      stored(accountId, { time: T0 + 1, clientId: 'c\u0000lient', assessment: odd }),
    ]);
    const [second, first] = await store.recent(accountId);
    expect(first).toEqual({ time: T0, type: 'refresh', accountId, sessionUid: 'sess-1', clientId: 'webapp', ip: '81.2.69.142', ipIsUser: true, place, deviceId: 'dev-1', ...ASSESSMENT });
    expect(second.clientId).toBe('c\uFFFDlient');
    expect(second.signals).toEqual([{ name: 'behaviour', contribution: 5, reason: 'agent "x\uFFFDy" from \uFFFD nowhere' }]);
  });

  test('each decision shape round-trips', async () => {
    const accountId = await account();
    const decisions: Assessment['decision'][] = [
      { action: 'allow' }, { action: 'deny' }, { action: 'revoke' }, { action: 'step_up', acr: 'urn:vigil:acr:phr' },
    ];
    for (const [i, decision] of decisions.entries()) {
      await store.save({ assessment: stored(accountId, { time: T0 + i, assessment: { score: i * 30, level: 'low', decision, rules: [], signals: [] } }) });
    }
    const rows = await store.recent(accountId);
    expect(rows.map((r) => r.decision)).toEqual([...decisions].reverse());
    expect(rows.map((r) => r.score)).toEqual([90, 60, 30, 0]);
  });
});

describe('what the admin dashboard counts', () => {
  const level = (assessmentLevel: Assessment['level'], decision: Assessment['decision'] = { action: 'allow' }): Assessment =>
    ({ score: 10, level: assessmentLevel, decision, rules: [], signals: [] });
  const sessionLevel = async (sessionUid: string) =>
    (await sql.query<{ risk_level: string | null }>('SELECT risk_level FROM session_activity WHERE session_uid = $1', [sessionUid])).rows[0]?.risk_level;
  /** What the dashboard counted before migration 032: each session's latest assessment, read from the assessments. */
  async function countedFromAssessments(): Promise<Record<string, number>> {
    const { rows } = await sql.query<{ level: string | null; n: number }>(
      `SELECT r.level, count(*)::int AS n FROM session_activity a
         LEFT JOIN LATERAL (SELECT level FROM risk_assessments ra WHERE ra.session_uid = a.session_uid ORDER BY ra.at DESC, ra.id DESC LIMIT 1) r ON true
        GROUP BY r.level`);
    const counts: Record<string, number> = { none: 0, low: 0, medium: 0, high: 0 };
    for (const r of rows) counts[r.level ?? 'none'] += r.n;
    return counts;
  }
  const admin = () => new AdminQueries(sql);

  test("a session's level is its latest assessment's through sign-in, refresh and step-up, and the counts follow it", async () => {
    const accountId = await account();
    const activity = new SessionActivityLog(sql);
    const session = uid('sess');
    const ip = nextIp();
    const now = Date.now();
    const before = await admin().sessionRiskCounts();
    const expectCounts = async () => {
      const counts = await admin().sessionRiskCounts();
      expect(counts).toEqual(await countedFromAssessments());
      expect(await admin().activeSessionCount()).toBe(Object.values(counts).reduce((a, b) => a + b, 0));
      return counts;
    };

    // The sign-in is assessed before its session exists; the session is written, then the assessment attached to it.
    await store.save({ assessment: stored(accountId, { time: now - 3000, ip, assessment: level('low') }) });
    await activity.touch(session, accountId, UA.safariMac, ip);
    expect(await sessionLevel(session)).toBeNull();
    expect((await expectCounts()).none).toBe(before.none + 1);
    await store.attachLogin(accountId, ip, session, now - 60_000);
    expect(await sessionLevel(session)).toBe('low');
    expect(await expectCounts()).toEqual({ ...before, low: before.low + 1 });

    // Allowed refreshes are written in batches; the newest of the session's assessments in a batch sets its level.
    await store.insertAssessments([
      stored(accountId, { time: now - 2000, type: 'refresh', sessionUid: session, ip, assessment: level('high') }),
      stored(accountId, { time: now - 1500, type: 'refresh', sessionUid: session, ip, assessment: level('medium') }),
    ]);
    expect(await sessionLevel(session)).toBe('medium');
    expect(await expectCounts()).toEqual({ ...before, medium: before.medium + 1 });
    // A refresh refused for a step-up is stored at once.
    await store.save({ assessment: stored(accountId, { time: now - 1000, type: 'refresh', sessionUid: session, ip, assessment: level('high', { action: 'step_up', acr: 'urn:vigil:acr:phr' }) }) });
    expect(await sessionLevel(session)).toBe('high');
    expect(await expectCounts()).toEqual({ ...before, high: before.high + 1 });
    // The sessions list filters on the level kept on the row.
    expect((await admin().sessions({ accountId, riskLevel: 'high' }, undefined, 10)).map((r) => [r.sessionUid, r.risk?.level])).toEqual([[session, 'high']]);
    expect(await admin().sessions({ accountId, riskLevel: 'medium' }, undefined, 10)).toEqual([]);
    // Signing in again (the step-up) while the session has its sign-in assessment already: the session keeps its latest.
    await store.save({ assessment: stored(accountId, { time: now - 500, ip, assessment: level('low') }) });
    await store.attachLogin(accountId, ip, session, now - 60_000);
    expect(await sessionLevel(session)).toBe('high');

    await activity.forget(session);
    expect(await expectCounts()).toEqual(before);
  });

  test('a batch of allowed refreshes written after a newer refusal of the same session does not take the level back', async () => {
    const accountId = await account();
    const session = uid('sess');
    const now = Date.now();
    await new SessionActivityLog(sql).touch(session, accountId, UA.safariMac, nextIp());
    await store.save({ assessment: stored(accountId, { time: now - 1000, type: 'refresh', sessionUid: session, assessment: level('high', { action: 'step_up', acr: 'urn:vigil:acr:phr' }) }) });
    await store.insertAssessments([stored(accountId, { time: now - 2000, type: 'refresh', sessionUid: session, assessment: level('low') })]);
    expect(await sessionLevel(session)).toBe('high');
    expect(await admin().sessionRiskCounts()).toEqual(await countedFromAssessments());
  });

  test('a sign-in attached after a refresh of its session does not take the level back', async () => {
    const accountId = await account();
    const session = uid('sess');
    const ip = nextIp();
    const now = Date.now();
    await store.save({ assessment: stored(accountId, { time: now - 3000, ip, assessment: level('high') }) });
    await new SessionActivityLog(sql).touch(session, accountId, UA.safariMac, ip);
    await store.insertAssessments([stored(accountId, { time: now - 1000, type: 'refresh', sessionUid: session, ip, assessment: level('low') })]);
    await store.attachLogin(accountId, ip, session, now - 60_000);
    expect(await sessionLevel(session)).toBe('low');
    expect(await admin().sessionRiskCounts()).toEqual(await countedFromAssessments());
  });

  test('decisions since a time count every assessment since then: whole hours from the counts, the first partial hour from the rows', async () => {
    const accountId = await account();
    const now = Date.now();
    const decisions: [number, Assessment['decision']][] = [
      [5, { action: 'allow' }], [50, { action: 'deny' }], [70, { action: 'allow' }], [130, { action: 'step_up', acr: 'urn:vigil:acr:phr' }],
      [23 * 60 + 50, { action: 'revoke' }], [24 * 60 + 30, { action: 'allow' }], [26 * 60, { action: 'deny' }],
    ];
    for (const [minutesAgo, decision] of decisions.slice(0, 3)) {
      await store.save({ assessment: stored(accountId, { time: now - minutesAgo * MINUTE, assessment: level('low', decision) }) });
    }
    await store.insertAssessments(decisions.slice(3).map(([minutesAgo, decision]) => stored(accountId, { time: now - minutesAgo * MINUTE, type: 'refresh', assessment: level('low', decision) })));
    const counted = async (since: number) => Object.fromEntries((await sql.query<{ action: string; n: string }>(
      "SELECT decision->>'action' AS action, count(*) AS n FROM risk_assessments WHERE at >= $1 GROUP BY 1", [new Date(since).toISOString()],
    )).rows.map((r) => [r.action, Number(r.n)]));
    for (const since of [now - DAY, now - 25 * HOUR, now - 90 * MINUTE, now - 10 * MINUTE, now + MINUTE]) {
      expect(await admin().decisionCounts(new Date(since))).toEqual(await counted(since));
    }
    expect((await admin().decisionCounts(new Date(now - DAY))).revoke).toBeGreaterThanOrEqual(1);
  });
});

// Last: purge is global and these tests move "now" far ahead.
describe('purge', () => {
  /** `n` bindings last refreshed at `time`, of one new account; their grant ids. */
  async function bindings(n: number, time: number): Promise<string[]> {
    const accountId = await account();
    const prefix = uid('grant');
    await sql.query(
      `INSERT INTO risk_grant_bindings (grant_id, account_id, client_id, user_agent, last_refresh_at)
       SELECT $1 || '-' || i, $2, 'webapp', $3, $4 FROM generate_series(1, $5) AS i`,
      [prefix, accountId, UA.safariMac, new Date(time).toISOString(), n]);
    return Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
  }
  const remaining = async (table: string, key: string, ids: readonly string[]) =>
    Number((await sql.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE ${key}::text = ANY($1::text[])`, [ids])).rows[0].n);
  async function assessments(accountId: string, times: number[]): Promise<string[]> {
    await store.insertAssessments(times.map((time) => stored(accountId, { time })));
    return (await sql.query<{ id: string }>('SELECT id::text AS id FROM risk_assessments WHERE account_id = $1', [accountId])).rows.map((r) => r.id);
  }

  test('in batches: every row past its time goes, and none that is not, across batches smaller than what there is to remove', async () => {
    const now = Date.now();
    const oldAccount = await account();
    const newAccount = await account();
    const old = await assessments(oldAccount, Array.from({ length: 7 }, (_, i) => now - 10 * DAY - i * MINUTE));
    const recent = await assessments(newAccount, Array.from({ length: 3 }, (_, i) => now - 8 * DAY + i * MINUTE));
    // Enough rows for several pages of the table, idle and fresh interleaved.
    const idle: string[] = [];
    const fresh: string[] = [];
    for (let round = 0; round < 4; round++) {
      idle.push(...await bindings(60, now - 2 * HOUR));
      fresh.push(...await bindings(60, now - 30 * MINUTE));
    }
    const { rows: [size] } = await sql.query<{ pages: string }>("SELECT pg_relation_size('risk_grant_bindings') / 8192 AS pages");
    expect(Number(size.pages)).toBeGreaterThan(3);

    const removed = await store.purge(9, 3600, now, { rows: 2, pages: 1 });
    expect(removed?.assessments).toBeGreaterThanOrEqual(old.length);
    expect(removed?.bindings).toBeGreaterThanOrEqual(idle.length);
    expect(await remaining('risk_assessments', 'id', old)).toBe(0);
    expect(await remaining('risk_assessments', 'id', recent)).toBe(recent.length);
    expect(await remaining('risk_grant_bindings', 'grant_id', idle)).toBe(0);
    expect(await remaining('risk_grant_bindings', 'grant_id', fresh)).toBe(fresh.length);
  });

  test('one instance at a time: while another holds the turn, a purge removes nothing and says so', async () => {
    const now = Date.now();
    const old = await assessments(await account(), [now - 10 * DAY]);
    const idle = await bindings(3, now - 2 * HOUR);
    await sql.transaction(async (other) => {
      await other.query('SELECT pg_advisory_xact_lock($1)', [ADVISORY_LOCKS.riskPurge]);
      expect(await store.purge(9, 3600, now)).toBeUndefined();
    });
    expect(await remaining('risk_assessments', 'id', old)).toBe(1);
    expect(await remaining('risk_grant_bindings', 'grant_id', idle)).toBe(3);
    expect(await store.purge(9, 3600, now)).toMatchObject({ assessments: expect.any(Number) });
    expect(await remaining('risk_assessments', 'id', old)).toBe(0);
    expect(await remaining('risk_grant_bindings', 'grant_id', idle)).toBe(0);
  });
  test('drops old assessments, idle address failures and idle bindings; keeps the rest', async () => {
    const accountId = await account();
    const now = Date.now();
    const ip = nextIp();
    const oldGrant = uid('grant');
    const freshGrant = uid('grant');
    await store.save({ assessment: stored(accountId, { time: now - 10 * DAY, clientId: 'old' }) });
    await store.save({ assessment: stored(accountId, { time: now - 8 * DAY, clientId: 'recent' }) });
    await store.save({ binding: { grantId: oldGrant, accountId, clientId: 'webapp', userAgent: 'UA', time: now - 2 * HOUR } });
    await store.save({ binding: { grantId: freshGrant, accountId, clientId: 'webapp', userAgent: 'UA', time: now - 30 * MINUTE } });
    await store.recordFailure(accountId, ip, now);

    // Retention 9 days, bindings idle for an hour: the failures row was just updated.
    await store.purge(9, 3600, now);
    expect((await store.recent(accountId)).map((r) => r.clientId)).toEqual(['recent']);
    expect((await store.load(emptyPopulation(), { accountId, ip, grantId: oldGrant })).binding).toBeUndefined();
    const state = await store.load(emptyPopulation(), { accountId, ip, grantId: freshGrant });
    expect(state.binding).toBeDefined();
    expect(state.history.failuresByIp).toEqual([now]);

    // A day and more later (the default failure window), the address's failures go; the account's stay in its profile.
    await store.purge(9, 3600, now + DEFAULT_LIMITS.failureWindowMs + MINUTE);
    const later = await store.load(emptyPopulation(), { accountId, ip, grantId: freshGrant });
    expect(later.history.failuresByIp).toEqual([]);
    expect(later.history.failuresByAccount).toEqual([now]);
    expect(later.binding).toBeUndefined();
    expect(await store.recent(accountId)).toEqual([]);
  });
});

/**
 * Step-ups owed by a session (the risk engine's) and by a person (an administrator's, a
 * transmitter's): what is stored, what a sign-in meets, and which authentications pay them.
 */
import { migrate, PgliteSql } from '../../../src/store/index.ts';
import { SignInRequirements, StepUpRequirements } from '../../../src/sessions/index.ts';
import { paysStepUp, unpaidStepUps } from '../../../src/oidc/index.ts';

let sql: PgliteSql;
let stepUps: StepUpRequirements;
let signIns: SignInRequirements;
const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  await sql.query("INSERT INTO accounts (id, email) VALUES ('p1', 'p1@example.com'), ('p2', 'p2@example.com'), ('p3', 'p3@example.com')");
  stepUps = new StepUpRequirements(sql);
  signIns = new SignInRequirements(sql);
}, 30_000);

afterAll(() => sql?.close());

test('a person\'s step-up is owed by every session of theirs and by none of another person\'s; the next sign-in owes it until met', async () => {
  const required = await stepUps.requireOfAccount('p1', TWO, 'phished');
  expect(required).toEqual({ acr: TWO, reason: 'phished', since: expect.any(Number), owedBy: 'person' });
  expect(Math.abs(required.since - Date.now() / 1000)).toBeLessThan(60);
  expect(await stepUps.owed(undefined, 'p1')).toEqual([required]);
  expect(await stepUps.owed('any-session', 'p1')).toEqual([required]);
  expect(await stepUps.owed('any-session', 'p2')).toEqual([]);
  expect(await signIns.find('p1')).toEqual({ requiredAcr: TWO, reason: 'phished', kind: 'step_up' });

  await signIns.met('p1', ONE);
  expect((await stepUps.owed(undefined, 'p1'))[0].metAt).toBeUndefined();
  await signIns.met('p1', TWO);
  const [met] = await stepUps.owed(undefined, 'p1');
  expect(met).toEqual({ ...required, metAt: expect.any(Number) });
  expect(met.metAt).toBeGreaterThanOrEqual(met.since);
  expect(await signIns.find('p1')).toBeUndefined();
});

test('a second requirement never weakens one not met yet, replaces a met one, and is owed again from now', async () => {
  await stepUps.requireOfAccount('p2', PHR, 'first');
  expect((await stepUps.requireOfAccount('p2', TWO, 'second')).acr).toBe(PHR);
  await signIns.met('p2', PHR);
  const again = await stepUps.requireOfAccount('p2', TWO, 'third');
  expect(again).toEqual({ acr: TWO, reason: 'third', since: expect.any(Number), owedBy: 'person' });
  expect(await stepUps.owed(undefined, 'p2')).toEqual([again]);
  await expect(stepUps.requireOfAccount('p2', 'urn:nope', 'x')).rejects.toThrow(/unknown acr/);
});

test('a session\'s step-up and the person\'s are both owed; the sign-in requirement is the strongest', async () => {
  await stepUps.require('s3', 'p3', PHR, 'risk: unusual agent');
  await stepUps.requireOfAccount('p3', TWO, 'admin');
  await signIns.require('p3', TWO, 'credential compromise');
  expect((await stepUps.owed('s3', 'p3')).map((o) => o.acr).sort()).toEqual([TWO, PHR].sort());
  expect((await stepUps.owed('s-other', 'p3')).map((o) => o.acr)).toEqual([TWO]);
  // Who owes each: its page says who asked (the risk engine for this session, or the person's administrator).
  expect(Object.fromEntries((await stepUps.owed('s3', 'p3')).map((o) => [o.acr, o.owedBy]))).toEqual({ [PHR]: 'session', [TWO]: 'person' });
  // Equal levels: the distrusted password is named (its page says why).
  expect(await signIns.find('p3')).toMatchObject({ requiredAcr: TWO, kind: 'password_distrusted' });
  await signIns.met('p3', TWO);
  expect(await signIns.find('p3')).toBeUndefined();
});

describe('which authentications pay', () => {
  const since = 1_000;
  test.each([
    ['at the level, after', TWO, 1_001, { acr: TWO, since }, true],
    ['above the level, at the time', PHR, 1_000, { acr: TWO, since }, true],
    ['below the level', ONE, 1_001, { acr: TWO, since }, false],
    ['before the time, at the level', TWO, 999, { acr: TWO, since }, false],
    ['no time', TWO, undefined, { acr: TWO, since }, false],
    ['met: a later one at any level', ONE, 1_100, { acr: TWO, since, metAt: 1_050 }, true],
    ['met: one below the level before it was met', ONE, 1_020, { acr: TWO, since, metAt: 1_050 }, false],
    ['met: one before the requirement, whatever its level', PHR, 999, { acr: TWO, since, metAt: 1_050 }, false],
  ])('%s', (_name, acr, authTime, owed, pays) => {
    expect(paysStepUp(acr, authTime, owed)).toBe(pays);
  });

  test('every step-up must be paid', () => {
    const owed = [{ acr: TWO, since: 1_000 }, { acr: PHR, since: 900 }];
    expect(unpaidStepUps(TWO, 1_001, owed)).toEqual([{ acr: PHR, since: 900 }]);
    expect(unpaidStepUps(PHR, 1_001, owed)).toEqual([]);
  });
});

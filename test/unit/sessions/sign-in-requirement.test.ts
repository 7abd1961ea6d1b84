/** An account's next sign-in owes an acr until a sign-in reaches it; a second requirement never weakens the first. */
import { migrate, PgliteSql } from '../../../src/store/index.ts';
import { SignInRequirements } from '../../../src/sessions/index.ts';

let sql: PgliteSql;
let requirements: SignInRequirements;
const ONE = 'urn:vigil:acr:1fa';
const TWO = 'urn:vigil:acr:2fa';
const PHR = 'urn:vigil:acr:phr';

beforeAll(async () => {
  sql = await PgliteSql.open(undefined);
  await migrate(sql);
  await sql.query("INSERT INTO accounts (id, email) VALUES ('a1', 'a1@example.com'), ('a2', 'a2@example.com')");
  requirements = new SignInRequirements(sql);
}, 30_000);

afterAll(() => sql?.close());

test('owed until a sign-in reaches it; a weaker sign-in leaves it owed', async () => {
  await requirements.require('a1', TWO, 'credential compromise reported by https://siem.example');
  expect(await requirements.find('a1')).toEqual({ requiredAcr: TWO, reason: 'credential compromise reported by https://siem.example', kind: 'password_distrusted' });
  expect(await requirements.find('a2')).toBeUndefined();
  await requirements.met('a1', ONE);
  expect(await requirements.find('a1')).toMatchObject({ requiredAcr: TWO });
  await requirements.met('a1', PHR);
  expect(await requirements.find('a1')).toBeUndefined();
});

test('a second requirement never weakens the first; an unknown acr is refused', async () => {
  await requirements.require('a2', PHR, 'first');
  await requirements.require('a2', TWO, 'second');
  expect(await requirements.find('a2')).toEqual({ requiredAcr: PHR, reason: 'second', kind: 'password_distrusted' });
  await expect(requirements.require('a2', 'urn:nope', 'x')).rejects.toThrow(/unknown acr/);
});

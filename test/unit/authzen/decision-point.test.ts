/**
 * The decision point without HTTP: batch defaults, the AuthZEN → Cedar mapping (what Vigil knows
 * wins over properties; a caller's own `vigil` context is dropped), paginated search, the PDP
 * metadata URL of an external PDP, and entities/policy loading refusals.
 */
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecisionPoint, EntityStore, loadAuthzenPolicy } from '../../../src/authzen/index.ts';
import { AuthzenRequestError, evaluationsSchema, expandEvaluations } from '../../../src/authzen/schemas.ts';
import { policyQuery } from '../../../src/authzen/mapping.ts';
import { metadataUrl } from '../../../src/authzen/token-claims.ts';

const IDP = join(process.cwd(), 'test/fixtures/authzen/idp');

test('a batch entry takes the top-level members it lacks; a member missing everywhere is named', () => {
  const body = evaluationsSchema.parse({
    subject: { type: 'user', id: 'a' }, action: { name: 'read' },
    evaluations: [{ resource: { type: 'doc', id: '1' } }, { action: { name: 'write' }, resource: { type: 'doc', id: '2' } }],
  });
  expect(expandEvaluations(body).map((e) => [e.subject.id, e.action.name, e.resource.id])).toEqual([['a', 'read', '1'], ['a', 'write', '2']]);
  expect(() => expandEvaluations(evaluationsSchema.parse({ subject: { type: 'user', id: 'a' }, evaluations: [{ action: { name: 'x' } }] })))
    .toThrow(new AuthzenRequestError('evaluations.0.resource: is required (in the evaluation or as a top-level default)'));
});

test('mapping: Vigil\'s facts and the entities file win over request properties; a forged vigil context is dropped', () => {
  const store = new EntityStore([{ uid: { type: 'user', id: 'u1' }, attrs: { roles: ['viewer'] }, parents: [{ type: 'group', id: 'g' }] }]);
  const query = policyQuery({
    subject: { type: 'user', id: 'u1', properties: { roles: ['admin'], dept: 'x' } },
    action: { name: 'read', properties: { urgent: true } },
    resource: { type: 'doc', id: 'd', properties: { owner: 'u1' } },
    context: { ip: '10.0.0.1', vigil: { risk_level: 'low' } },
  }, store, undefined);
  expect(query.entities[0]).toEqual({ uid: { type: 'user', id: 'u1' }, attrs: { roles: ['viewer'], dept: 'x' }, parents: [{ type: 'group', id: 'g' }] });
  expect(query.context).toEqual({ ip: '10.0.0.1', action_properties: { urgent: true } });
  const live = policyQuery({ subject: { type: 'user', id: 'u1' }, action: { name: 'read' }, resource: { type: 'doc', id: 'd' } }, store,
    { attrs: { roles: ['editor'], email: 'a@b' }, live: { risk_level: 'high' } });
  expect(live.entities[0].attrs).toEqual({ roles: ['editor'], email: 'a@b' });
  expect(live.context).toEqual({ vigil: { risk_level: 'high' } });
});

test('search: candidates of the type in file order, a page at a time; a foreign page token is refused', async () => {
  const policy = loadAuthzenPolicy({ VIGIL_AUTHZEN_POLICY: join(IDP, 'policy'), VIGIL_AUTHZEN_ENTITIES: join(IDP, 'entities.json') })!;
  const pdp = new DecisionPoint({ policy: () => policy, live: { of: async () => undefined }, maxCandidates: 1000 });
  const ask = { subject: { type: 'user', id: 'carol' }, action: { name: 'delete' }, resource: { type: 'record' } };
  const first = await pdp.searchResources({ ...ask, page: { limit: 2 } });
  expect(first.results.map((r) => r.id)).toEqual(['103', '109']);
  const rest = await pdp.searchResources({ ...ask, page: { limit: 2, token: first.page!.next_token } });
  expect(rest.results.map((r) => r.id)).toEqual(['115']);
  await expect(pdp.searchResources({ ...ask, page: { token: 'bm9wZQ' } })).rejects.toThrow(/page\.token/);
  const bounded = new DecisionPoint({ policy: () => policy, live: { of: async () => undefined }, maxCandidates: 5 });
  expect((await bounded.searchResources(ask)).results.map((r) => r.id)).toEqual(['103']);
});

test('an external PDP\'s metadata URL puts the well-known segment between host and path', () => {
  expect(metadataUrl('https://pdp.example.com')).toBe('https://pdp.example.com/.well-known/authzen-configuration');
  expect(metadataUrl('https://pdp.example.com/tenant/1/')).toBe('https://pdp.example.com/.well-known/authzen-configuration/tenant/1');
});

test('bad policy directories and entities files are refused naming the setting', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authzen-unit-'));
  mkdirSync(join(dir, 'p'));
  expect(() => loadAuthzenPolicy({ VIGIL_AUTHZEN_POLICY: join(dir, 'p') })).toThrow(/^VIGIL_AUTHZEN_POLICY: .* exactly one schema/);
  writeFileSync(join(dir, 'p', 's.cedarschema'), 'entity user; entity record { owner: user }; action delete appliesTo { principal: user, resource: record };');
  writeFileSync(join(dir, 'p', 'p.cedar'), 'permit (principal, action == Action::"delete", resource) when { resource.owner == principal };');
  writeFileSync(join(dir, 'e.json'), JSON.stringify([{ uid: { type: 'record', id: '1' }, attrs: { owner: 'alice' } }]));
  expect(() => loadAuthzenPolicy({ VIGIL_AUTHZEN_POLICY: join(dir, 'p'), VIGIL_AUTHZEN_ENTITIES: join(dir, 'e.json') })).toThrow(/^VIGIL_AUTHZEN_ENTITIES: /);
  writeFileSync(join(dir, 'e.json'), '[{"uid": {"type": "record"}}]');
  expect(() => loadAuthzenPolicy({ VIGIL_AUTHZEN_POLICY: join(dir, 'p'), VIGIL_AUTHZEN_ENTITIES: join(dir, 'e.json') })).toThrow(/^VIGIL_AUTHZEN_ENTITIES: .*uid\.id/);
  expect(() => loadAuthzenPolicy({ VIGIL_AUTHZEN_ENTITIES: join(dir, 'e.json') })).toThrow(/goes with VIGIL_AUTHZEN_POLICY/);
  writeFileSync(join(dir, 'p', 'p.cedar'), 'permit (principal, action == Action::"fly", resource);');
  expect(() => loadAuthzenPolicy({ VIGIL_AUTHZEN_POLICY: join(dir, 'p') })).toThrow(/^VIGIL_AUTHZEN_POLICY: invalid access policy: p\.cedar:1:/);
});

test('an evaluation is given what it can reach: parents transitively, referred entities, entities the policies name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authzen-unit-'));
  mkdirSync(join(dir, 'p'));
  writeFileSync(join(dir, 'p', 's.cedarschema'), `entity group in [group]; entity user in [group] { manager?: user };
    entity switch { on: Bool }; entity doc; action read appliesTo { principal: user, resource: doc };`);
  writeFileSync(join(dir, 'p', 'p.cedar'), `@id("admins") permit (principal in group::"admins", action, resource) when { switch::"main".on };
    @id("managed") permit (principal, action, resource) when { principal has manager && principal.manager in group::"admins" && switch::"main".on };`);
  writeFileSync(join(dir, 'e.json'), JSON.stringify([
    { uid: { type: 'group', id: 'admins' } }, { uid: { type: 'group', id: 'ops' }, parents: [{ type: 'group', id: 'admins' }] },
    { uid: { type: 'user', id: 'ann' }, parents: [{ type: 'group', id: 'ops' }] },
    { uid: { type: 'user', id: 'bo' }, attrs: { manager: { __entity: { type: 'user', id: 'ann' } } } },
    { uid: { type: 'user', id: 'cy' } },
    { uid: { type: 'switch', id: 'main' }, attrs: { on: true } },
    ...Array.from({ length: 50 }, (_, i) => ({ uid: { type: 'doc', id: `d${i}` } })),
  ]));
  const policy = loadAuthzenPolicy({ VIGIL_AUTHZEN_POLICY: join(dir, 'p'), VIGIL_AUTHZEN_ENTITIES: join(dir, 'e.json') })!;
  const pdp = new DecisionPoint({ policy: () => policy, live: { of: async () => undefined }, maxCandidates: 1000 });
  const read = (who: string) => pdp.evaluate({ subject: { type: 'user', id: who }, action: { name: 'read' }, resource: { type: 'doc', id: 'd1' } });
  expect((await read('ann')).context).toEqual({ reason_admin: { en: 'permitted by admins' } });
  expect((await read('bo')).context).toEqual({ reason_admin: { en: 'permitted by managed' } });
  expect((await read('cy')).decision).toBe(false);
  const docs = await pdp.searchResources({ subject: { type: 'user', id: 'ann' }, action: { name: 'read' }, resource: { type: 'doc' } });
  expect(docs.results).toHaveLength(50);
});

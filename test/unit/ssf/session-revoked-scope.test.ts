import { SecurityEventOutbox } from '../../../src/ssf/outbox.ts';
import type { RevocationEvent } from '../../../src/sessions/index.ts';
import type { Queryable } from '../../../src/store/index.ts';

const ISSUER = 'https://vigil.example';
const SESSION_REVOKED = 'https://schemas.openid.net/secevent/caep/event-type/session-revoked';

/** The SETs a revocation queues: to which client's streams (null: every stream following the person), about whom. */
async function queued(event: Partial<RevocationEvent>, scope: Parameters<SecurityEventOutbox['revoked']>[1]) {
  let params: unknown[] = [];
  const db = { query: async (_sql: string, p: unknown[]) => { params = p; return { rows: [], rowCount: 0 }; } };
  await new SecurityEventOutbox(db as unknown as Queryable, ISSUER).revoked({
    kind: 'account', target: 'acc', accountId: 'acc', sessions: [], grants: [], clients: [], initiator: 'user', actor: 'acc', reason: 'r', at: 0, origin: 'i', ...event,
  }, scope);
  const [types, accounts, payloads, clients] = params as string[][];
  expect(new Set(types)).toEqual(new Set([SESSION_REVOKED]));
  expect(new Set(accounts)).toEqual(new Set(['acc']));
  return payloads.map((p, i) => ({ client: clients[i], subject: JSON.parse(p).sub_id }));
}

const person = { format: 'iss_sub', iss: ISSUER, sub: 'acc' };
const session = (sid: string) => ({ format: 'complex', user: person, session: { format: 'opaque', id: sid } });
const notice = (clientId: string, sid: string) => ({ clientId, sid, accountId: 'acc', sessionUid: `uid-${sid}` });

test('every session ended: about the person, to every stream following them', async () => {
  expect(await queued({}, { signedOut: [notice('mail', 's1')], grantClients: ['tasks'], everySession: true })).toEqual([{ client: null, subject: person }]);
});

test('some sessions ended (a credential change keeps its own): each app of an ended session about that session; an app whose grant alone ended, about the person', async () => {
  expect(await queued({}, { signedOut: [notice('mail', 's1'), notice('calendar', 's2')], grantClients: ['mail', 'tasks'], everySession: false })).toEqual([
    { client: 'mail', subject: session('s1') },
    { client: 'calendar', subject: session('s2') },
    { client: 'tasks', subject: person },
  ]);
});

test('a grant revoked: about the person, to its app only; a revocation naming no account queues nothing', async () => {
  expect(await queued({ kind: 'grant', clients: ['mail'] }, { signedOut: [], everySession: false })).toEqual([{ client: 'mail', subject: person }]);
  let called = false;
  const db = { query: async () => { called = true; return { rows: [], rowCount: 0 }; } };
  await new SecurityEventOutbox(db as unknown as Queryable, ISSUER).revoked({
    kind: 'client', target: 'mail', sessions: [], grants: [], clients: ['mail'], initiator: 'admin', actor: 'a', reason: 'r', at: 0, origin: 'i',
  }, { signedOut: [], everySession: false });
  expect(called).toBe(false);
});

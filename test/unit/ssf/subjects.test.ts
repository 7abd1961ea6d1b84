/** RFC 9493 subjects → the account they name: one reading for received SETs and for stream management. */
import { subjectAccount } from '../../../src/ssf/subjects.ts';

const ISSUER = 'https://vigil.test';
const ADA = { id: 'acc_ada', email: 'ada@vigil.test' };
const lookup = {
  issuer: ISSUER,
  accounts: {
    findByEmail: async (email: string) => (email.toLowerCase() === ADA.email ? ADA : undefined),
    findById: async (id: string) => (id === ADA.id ? ADA : undefined),
  } as never,
};

test.each<[string, unknown, string | undefined, string | undefined]>([
  // [what, subject, as a received SET names it, as a stream request names it (whose schema admits email, iss_sub, opaque and complex only)]
  ['email', { format: 'email', email: 'ADA@vigil.test' }, ADA.id, ADA.id],
  ['unknown email', { format: 'email', email: 'bob@vigil.test' }, undefined, undefined],
  ['acct: URI', { format: 'account', uri: 'acct:ada@vigil.test' }, ADA.id, ADA.id],
  ['URI not acct:', { format: 'account', uri: 'mailto:ada@vigil.test' }, undefined, undefined],
  ["Vigil's iss_sub", { format: 'iss_sub', iss: ISSUER, sub: ADA.id }, ADA.id, ADA.id],
  ["Vigil's iss_sub, unknown sub", { format: 'iss_sub', iss: ISSUER, sub: 'acc_bob' }, undefined, undefined],
  ["another issuer's iss_sub", { format: 'iss_sub', iss: 'https://elsewhere.example', sub: ADA.id }, undefined, undefined],
  ['opaque account id', { format: 'opaque', id: ADA.id }, undefined, ADA.id],
  ['complex with a user', { format: 'complex', user: { format: 'email', email: ADA.email } }, ADA.id, ADA.id],
  ['complex without a user', { format: 'complex', device: { format: 'opaque', id: ADA.id } }, undefined, undefined],
  ['phone number', { format: 'phone_number', phone_number: '+15550100' }, undefined, undefined],
  ['nothing', undefined, undefined, undefined],
])('%s', async (_what, subject, received, streamRequest) => {
  expect(await subjectAccount(lookup, subject as never, false)).toBe(received);
  expect(await subjectAccount(lookup, subject as never, true)).toBe(streamRequest);
});

import type { Core } from '../../src/core.ts';
import { Authenticator } from './authenticator.ts';

/** Enrols an authenticator app for the account through `core`; the app gives a code for each next sign-in. */
export async function enrolTotp(core: Pick<Core, 'totp'>, accountId: string): Promise<Authenticator> {
  const { secret } = await core.totp.begin(accountId, accountId);
  const app = new Authenticator(secret);
  if (await core.totp.confirm(accountId, await app.next()) !== 'ok') throw new Error('the authenticator app was not confirmed');
  return app;
}

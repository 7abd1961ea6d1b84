import { generateSync } from 'otplib';
import type { Core } from '../../src/core.ts';

/** Enrols an authenticator app for the account through `core`; returns a code for each next sign-in (a later time step each). */
export async function enrolTotp(core: Pick<Core, 'totp'>, accountId: string): Promise<() => string> {
  const { secret } = await core.totp.begin(accountId, accountId);
  const step = Math.floor(Date.now() / 30_000);
  const code = (s: number) => generateSync({ secret, epoch: s * 30 + 1 });
  if (await core.totp.confirm(accountId, code(step)) !== 'ok') throw new Error('the authenticator app was not confirmed');
  let next = step;
  return () => code(++next);
}

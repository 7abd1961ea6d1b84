import { generateSync } from 'otplib';

const PERIOD = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A person's authenticator app: a code Vigil accepts now (it takes the step before, the current
 * one and the one after), each step at most once (Vigil accepts a step once), earliest first.
 */
export class AuthenticatorApp {
  #last = -Infinity;
  readonly secret: string;

  constructor(secret: string) {
    this.secret = secret;
  }

  codeAt(step: number): string {
    return generateSync({ secret: this.secret, epoch: step * PERIOD + 1 });
  }

  async next(): Promise<string> {
    for (;;) {
      const now = Date.now() / 1000;
      const current = Math.floor(now / PERIOD);
      // The previous step only with a safe margin before it leaves the window.
      const candidates = [...(now % PERIOD < PERIOD - 5 ? [current - 1] : []), current, current + 1];
      const step = candidates.find((s) => s > this.#last);
      if (step !== undefined) {
        this.#last = step;
        return this.codeAt(step);
      }
      await sleep(((current + 1) * PERIOD - now) * 1000 + 50);
    }
  }
}

/** The key an enrolment page shows to type by hand (in blocks of four), as one string. */
export function enrolmentKey(html: string): string {
  const shown = /id="totp-secret"[^>]*>([^<]+)</.exec(html)?.[1];
  if (!shown) throw new Error('the page shows no authenticator app key');
  return shown.replace(/\s/g, '');
}

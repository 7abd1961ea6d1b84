import { generateSync } from 'otplib';

const PERIOD = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A person's authenticator app: codes for the current 30-second step, the one before or the one
 * after (Vigil accepts ±1 step), each step at most once (Vigil accepts a step once), earliest
 * first so later sign-ins still get one.
 */
export class Authenticator {
  #last = -Infinity;
  readonly secret: string;

  constructor(secret: string) {
    this.secret = secret;
  }

  codeAt(step: number): string {
    return generateSync({ secret: this.secret, epoch: step * PERIOD + 1 });
  }

  /** A code Vigil accepts now and that this account has not used. */
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

  /** Six digits that are no code of the window around now. */
  wrong(): string {
    const current = Math.floor(Date.now() / 1000 / PERIOD);
    const valid = new Set([-2, -1, 0, 1, 2].map((d) => this.codeAt(current + d)));
    for (let n = 123456; ; n = (n + 7919) % 1_000_000) {
      const candidate = String(n).padStart(6, '0');
      if (!valid.has(candidate)) return candidate;
    }
  }
}

/** The key an enrolment page shows to type by hand (in blocks of four), as one string. */
export function enrolmentKey(html: string): string {
  const shown = /id="totp-secret"[^>]*>([^<]+)</.exec(html)?.[1];
  if (!shown) throw new Error('the page shows no authenticator app key');
  return shown.replace(/\s/g, '');
}

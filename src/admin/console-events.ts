/**
 * Live updates for the console's pages: a Server-Sent Events stream of the revocation bus (every
 * instance's revocations), so a revoked session disappears from every open console at once.
 */
import { PassThrough } from 'node:stream';
import type { Context } from 'koa';
import type { RevocationEvent, RevocationListener } from '../sessions/index.ts';

export interface RevocationFeed {
  subscribe(listener: RevocationListener): () => void;
}

/** What a console page needs to know of a revocation. */
function forPage(event: RevocationEvent) {
  return {
    kind: event.kind, target: event.target, accountId: event.accountId ?? null, sessions: event.sessions, clients: event.clients,
    initiator: event.initiator, reason: event.reason, at: new Date(event.at).toISOString(),
  };
}

export class ConsoleEvents {
  readonly #feed: RevocationFeed;
  readonly #checkEveryMs: number;

  /** `checkEveryMs`: how often an open stream re-checks its sign-in (and keeps proxies from closing it). */
  constructor(feed: RevocationFeed, checkEveryMs = 20_000) {
    this.#feed = feed;
    this.#checkEveryMs = checkEveryMs;
  }

  /** Answers `ctx` with the stream; it ends when the browser goes or `stillSignedIn` says no. */
  stream(ctx: Context, stillSignedIn: () => Promise<boolean>): void {
    const out = new PassThrough();
    const send = (event: string, data: unknown) => out.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream; charset=utf-8';
    ctx.set('Cache-Control', 'no-store');
    ctx.set('X-Accel-Buffering', 'no');
    ctx.body = out;
    out.write('retry: 3000\n\n');
    send('ready', { at: new Date().toISOString() });

    const unsubscribe = this.#feed.subscribe((event) => send('revocation', forPage(event)));
    const check = setInterval(() => {
      stillSignedIn().then((yes) => {
        if (yes) {
          out.write(': still here\n\n');
        } else {
          send('signed-out', {});
          out.end();
        }
      }, () => out.write(': check failed\n\n'));
    }, this.#checkEveryMs);
    check.unref();
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      clearInterval(check);
      unsubscribe();
      out.end();
    };
    ctx.req.on('close', close);
    out.on('close', close);
  }
}

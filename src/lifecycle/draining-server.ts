import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';

export interface DrainResult {
  /** Connections still open at the limit, destroyed with whatever they were doing. */
  cut: number;
  /** How long the open connections took to end (or the limit, when some were cut). */
  tookMs: number;
}

/**
 * The HTTP server, with a shutdown that loses no request: `drain()` stops accepting connections,
 * answers every request already sent or still arriving on an open connection with
 * `Connection: close` (the client then opens a new connection for its next request, and is
 * refused), and leaves an idle keep-alive connection to its keep-alive timeout, which the client
 * was told (`Keep-Alive: timeout=5`) and stops reusing the connection before.
 *
 * Node's own `server.close()` destroys idle keep-alive connections at once: a request the client
 * has just sent on one is then reset, and the client cannot tell whether it was carried out
 * (a refresh rotated but never answered is a grant lost).
 */
export class DrainingServer {
  readonly server: Server;
  readonly #unanswered = new Set<ServerResponse>();
  readonly #connections = new Set<Socket>();
  /** Connections no request has come on yet (a browser's preconnect, say): no keep-alive timeout ends them. */
  readonly #unused = new Set<Socket>();
  #draining = false;

  constructor(listener: RequestListener) {
    this.server = createServer((req, res) => {
      this.#unused.delete(req.socket);
      if (this.#draining) {
        res.setHeader('connection', 'close');
      } else {
        this.#unanswered.add(res);
        res.once('close', () => this.#unanswered.delete(res));
      }
      listener(req, res);
    });
    this.server.on('connection', (socket: Socket) => {
      this.#connections.add(socket);
      this.#unused.add(socket);
      socket.once('close', () => {
        this.#connections.delete(socket);
        this.#unused.delete(socket);
      });
    });
  }

  /** Shutting down: no longer accepting, finishing the open connections. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Connections open now (idle keep-alive ones included). */
  get connections(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting and waits until every open connection has ended, at most `limitMs`; then
   * destroys those left. Resolves once none is open.
   */
  drain(limitMs: number): Promise<DrainResult> {
    const started = Date.now();
    this.#draining = true;
    for (const res of this.#unanswered) {
      if (!res.headersSent) res.setHeader('connection', 'close');
    }
    this.#unanswered.clear();
    // An unused connection gets what an idle keep-alive one gets: a request on its way is answered.
    const unusedGrace = setTimeout(() => {
      for (const socket of this.#unused) socket.destroy();
    }, Math.min(this.server.keepAliveTimeout, limitMs));
    return new Promise((resolve) => {
      let cut = 0;
      const limit = setTimeout(() => {
        cut = this.#connections.size;
        for (const socket of this.#connections) socket.destroy();
      }, limitMs);
      // net.Server's close, not http.Server's: the latter would destroy the idle connections now.
      // Its callback runs once the last connection has ended.
      NetServer.prototype.close.call(this.server, () => {
        clearTimeout(limit);
        clearTimeout(unusedGrace);
        resolve({ cut, tookMs: Date.now() - started });
      });
    });
  }
}

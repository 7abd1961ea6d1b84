/** An RFC 8935 push endpoint on loopback for Shared Signals tests: the SETs it accepted, as sent. */
import { createServer, type Server } from 'node:http';
import { freePort } from './vigil-process.ts';

export interface PushReceiver {
  port: number;
  /** What it answers (202 by default); only a 202 keeps the SET. */
  status: number;
  sets: string[];
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function pushReceiver(): PushReceiver {
  let server: Server | undefined;
  const receiver: PushReceiver = {
    port: 0,
    status: 202,
    sets: [],
    async start() {
      receiver.port = await freePort();
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => {
          if (receiver.status === 202) receiver.sets.push(body);
          res.writeHead(receiver.status).end();
        });
      });
      await new Promise<void>((resolve) => server!.listen(receiver.port, '127.0.0.1', resolve));
    },
    async stop() {
      const s = server;
      if (s) await new Promise((resolve) => { s.close(resolve); s.closeAllConnections(); });
    },
  };
  return receiver;
}

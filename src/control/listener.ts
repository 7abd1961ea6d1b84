import { lstatSync, rmSync, statSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import type { Logger } from '../observability/index.ts';
import { controlRequestSchema, controlSocketPath, MAX_REQUEST_BYTES, readToEnd, TooLargeError, type ControlReply } from './protocol.ts';

export interface ControlChannel {
  path: string;
  /** Stops accepting commands, and settles once those running have answered. */
  close(): Promise<void>;
}

export interface ControlChannelOptions {
  dataDir: string;
  /** Carries out a command: the CLI's arguments in, what it prints and exits with out. */
  run(argv: string[]): Promise<ControlReply>;
  logger: Logger;
  /** How long a caller has to send its request. */
  requestTimeoutMs?: number;
}

const refusal = (problem: string): ControlReply => ({ exitCode: 2, stdout: '', stderr: `vigil: control channel: ${problem}\n` });

/**
 * Why the channel must stay closed: a socket other users could reach, or swap for their own.
 * Connecting to a Unix socket takes write permission on it (0600: this user only); the directory
 * must not let anyone else replace it.
 */
function unsafe(dataDir: string, path: string): string | undefined {
  const dir = statSync(dataDir);
  if (typeof process.getuid !== 'function') return 'Unix sockets with owners are needed';
  if (dir.uid !== process.getuid()) return `${dataDir} belongs to another user (uid ${dir.uid})`;
  if (dir.mode & 0o022) return `${dataDir} is writable by other users (mode ${(dir.mode & 0o777).toString(8)}; chmod 700 it)`;
  try {
    if (!lstatSync(path).isSocket()) return `${path} exists and is not a socket`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return undefined;
}

/**
 * The local control channel of the embedded mode: a Unix socket in VIGIL_DATA_DIR (mode 0600)
 * on which the running server carries out `vigil` commands, since the CLI cannot open the
 * database the server holds. Only the server holding the data directory's lock may open it.
 * Undefined (and a warning) when it cannot be opened safely: the server runs without it.
 */
export async function openControlChannel(options: ControlChannelOptions): Promise<ControlChannel | undefined> {
  const { dataDir, run, logger } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const path = controlSocketPath(dataDir);
  if (!path) {
    logger.warn({ dataDir }, 'VIGIL_DATA_DIR: the path is too long for a Unix socket; no control channel (the CLI cannot run beside this server)');
    return undefined;
  }
  const problem = unsafe(dataDir, path);
  if (problem) {
    logger.warn({ problem }, 'VIGIL_DATA_DIR: no control channel (the CLI cannot run beside this server)');
    return undefined;
  }
  // What is there was left by a server that stopped without removing it: this one holds the lock.
  rmSync(path, { force: true });

  const sockets = new Set<Socket>();
  /** The connections whose command is running, and those commands. */
  const busy = new WeakSet<Socket>();
  const commands = new Set<Promise<unknown>>();
  const answer = (socket: Socket, reply: ControlReply) => {
    if (!socket.destroyed) socket.end(JSON.stringify(reply), () => socket.destroy());
  };
  const serve = async (socket: Socket) => {
    socket.setTimeout(requestTimeoutMs, () => answer(socket, refusal(`no complete request within ${requestTimeoutMs / 1000} s`)));
    let text: string;
    try {
      text = await readToEnd(socket, MAX_REQUEST_BYTES);
    } catch (err) {
      if (err instanceof TooLargeError) answer(socket, refusal(`the request is larger than ${MAX_REQUEST_BYTES / 1024} KiB`));
      else socket.destroy();
      return;
    }
    socket.setTimeout(0);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      answer(socket, refusal('the request is not JSON; send {"argv": ["user", "list"]} and end the connection'));
      return;
    }
    const request = controlRequestSchema.safeParse(body);
    if (!request.success) {
      answer(socket, refusal(`the request is not {"argv": [strings]} (${request.error.issues[0].path.join('.') || 'request'}: ${request.error.issues[0].message})`));
      return;
    }
    busy.add(socket);
    const command = run(request.data.argv).catch((err: unknown): ControlReply => {
      logger.error({ err }, 'a vigil command failed');
      return { exitCode: 1, stdout: '', stderr: `vigil: failed: ${(err as Error).message}\n` };
    });
    commands.add(command);
    try {
      answer(socket, await command);
    } finally {
      commands.delete(command);
    }
  };

  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    serve(socket).catch((err: unknown) => {
      logger.warn({ err }, 'control channel connection failed');
      socket.destroy();
    });
  });
  server.maxConnections = 16;
  // The socket is created 0600 (connecting takes write permission): set before it exists, so no
  // other user can connect in between. listen() binds synchronously.
  const umask = process.umask(0o177);
  try {
    server.listen(path);
  } finally {
    process.umask(umask);
  }
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
  } catch (err) {
    logger.warn({ err, path }, 'could not open the control channel (the CLI cannot run beside this server)');
    return undefined;
  }
  server.on('error', (err) => logger.warn({ err }, 'control channel error'));
  logger.info({ path }, 'control channel open for the vigil CLI');

  return {
    path,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(path, { force: true });
      // A command that runs is answered; a caller still sending its request is cut.
      for (const socket of sockets) if (!busy.has(socket)) socket.destroy();
      await Promise.allSettled([...commands]);
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

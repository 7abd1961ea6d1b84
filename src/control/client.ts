import { lstatSync } from 'node:fs';
import { createConnection } from 'node:net';
import { controlReplySchema, controlSocketPath, readToEnd, type ControlReply } from './protocol.ts';

export class ControlChannelError extends Error {
  override name = 'ControlChannelError';
}

const MAX_REPLY_BYTES = 256 * 1024 * 1024;

/**
 * Has the server running on `dataDir` carry out a command: its reply, or undefined when no
 * server listens there (the CLI then opens the database itself). A socket that is not this
 * user's own gets nothing: the arguments may hold a password, and the reply a secret.
 */
export async function sendToRunningServer(dataDir: string, argv: string[], timeoutMs = 120_000): Promise<ControlReply | undefined> {
  const path = controlSocketPath(dataDir);
  if (!path || typeof process.getuid !== 'function') return undefined;
  let found;
  try {
    found = lstatSync(path);
  } catch {
    return undefined;
  }
  if (!found.isSocket()) return undefined;
  if (found.uid !== process.getuid() || (found.mode & 0o077) !== 0) {
    throw new ControlChannelError(`VIGIL_DATA_DIR: ${path} is not this user's own socket (owner uid ${found.uid}, mode ${(found.mode & 0o777).toString(8)}); the command was not sent`);
  }
  const socket = createConnection({ path, allowHalfOpen: true });
  const connected = await new Promise<boolean>((resolve, reject) => {
    socket.once('connect', () => resolve(true));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      // A socket left behind by a server that is gone.
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') resolve(false);
      else reject(new ControlChannelError(`could not reach the running server at ${path}: ${err.message}`));
    });
  });
  if (!connected) return undefined;
  socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
  socket.end(JSON.stringify({ argv }));
  let text: string;
  try {
    text = await readToEnd(socket, MAX_REPLY_BYTES);
  } catch (err) {
    throw new ControlChannelError(`the running server did not answer (${(err as Error).message}); the command may or may not have run`);
  } finally {
    socket.destroy();
  }
  let reply;
  try {
    reply = controlReplySchema.safeParse(JSON.parse(text));
  } catch {
    reply = undefined;
  }
  if (!reply?.success) throw new ControlChannelError('the running server\'s answer is not a reply: is it the same version of Vigil?');
  return reply.data;
}

import { join } from 'node:path';
import type { Socket } from 'node:net';
import { z } from 'zod';

/**
 * The control channel's protocol: one request per connection, the CLI's arguments as JSON, sent
 * and then half-closed; one reply, what the CLI prints and exits with, then the server closes.
 */

export const CONTROL_SOCKET = 'control.sock';
export const MAX_REQUEST_BYTES = 64 * 1024;
/** A Unix socket's path must fit sun_path: 108 bytes with its terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

export const controlRequestSchema = z.strictObject({
  argv: z.array(z.string().max(8192)).min(1).max(256),
});

export const controlReplySchema = z.strictObject({
  exitCode: z.number().int().min(0).max(255),
  stdout: z.string(),
  stderr: z.string(),
});

export type ControlRequest = z.infer<typeof controlRequestSchema>;
export type ControlReply = z.infer<typeof controlReplySchema>;

/** Where the server listens for the CLI, or undefined when the path is too long for a socket. */
export function controlSocketPath(dataDir: string): string | undefined {
  const path = join(dataDir, CONTROL_SOCKET);
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES ? path : undefined;
}

export class TooLargeError extends Error {
  override name = 'TooLargeError';
}

/**
 * Everything the peer sends until it ends its side; past `limit` bytes the rest is read and
 * dropped (the peer still gets an answer, not a reset) and the result is a TooLargeError.
 */
export function readToEnd(socket: Socket, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    socket.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    socket.once('end', () => {
      if (size > limit) reject(new TooLargeError(`larger than ${limit} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the end')));
  });
}

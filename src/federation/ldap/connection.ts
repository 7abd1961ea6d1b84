/**
 * One conversation with the directory: connect (ldaps://, or ldap:// + StartTLS — never a
 * cleartext bind), do the work, close. Every step is bounded in time and the socket is destroyed
 * at the end whatever happened, so a slow or dead directory holds nothing open.
 */
import net from 'node:net';
import tls from 'node:tls';
import { Client, ResultCodeError } from 'ldapts';
import { FederationError } from '../source.ts';
import type { LdapSettings } from './config.ts';

type Transport = Pick<LdapSettings, 'url' | 'start_tls' | 'ca_file' | 'timeout_seconds'>;

export interface Conversation {
  client: Client;
  /** The negotiated TLS version (for `check()`). */
  tlsVersion(): string | undefined;
}

/** The directory answered with a result code: it is there, it said no. */
export const isDirectoryAnswer = (err: unknown): err is ResultCodeError => err instanceof ResultCodeError;

/** Anything that is not an answer (refused, timed out, TLS failed, socket closed) means unreachable. */
export function unreachable(providerId: string, err: unknown): FederationError {
  if (err instanceof FederationError) return err;
  const detail = (err as NodeJS.ErrnoException).code ?? (err as Error).message?.split('\n')[0] ?? String(err);
  return new FederationError('unreachable', `the directory of ${providerId} is unreachable (${detail})`, true);
}

export async function converse<T>(providerId: string, settings: Transport, work: (conversation: Conversation) => Promise<T>): Promise<T> {
  const url = new URL(settings.url);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const timeoutMs = Math.round(settings.timeout_seconds * 1000);
  const tlsOptions: tls.ConnectionOptions = {
    ...(settings.ca_file ? { ca: settings.ca_file.pem } : {}),
    minVersion: 'TLSv1.2',
    // The certificate is checked against this name; SNI carries only names, never addresses.
    host,
    ...(net.isIP(host) ? {} : { servername: host }),
  };
  const sockets = new Set<net.Socket>();
  const track = <S extends net.Socket>(socket: S): S => {
    sockets.add(socket);
    return socket;
  };
  const client = new Client({
    url: `${url.protocol}//${url.host}`,
    timeout: timeoutMs,
    connectTimeout: timeoutMs,
    // ldapts speaks TLS from the first byte whenever tlsOptions are given: only for ldaps://.
    ...(settings.start_tls ? {} : { tlsOptions }),
    createConnection: ((...args: Parameters<typeof net.connect>) => track(net.connect(...args))) as typeof net.connect,
    createSecureConnection: ((...args: Parameters<typeof tls.connect>) => track(tls.connect(...args))) as typeof tls.connect,
  });
  let tlsSocket: tls.TLSSocket | undefined;
  const conversation: Conversation = {
    client,
    tlsVersion: () => {
      tlsSocket ??= [...sockets].find((s): s is tls.TLSSocket => s instanceof tls.TLSSocket);
      return tlsSocket?.getProtocol() ?? undefined;
    },
  };
  let timer: NodeJS.Timeout | undefined;
  // ldapts bounds the TCP connect and each operation, not StartTLS's handshake: this bounds it all.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${2 * settings.timeout_seconds} s`)), 2 * timeoutMs);
  });
  const run = async () => {
    if (settings.start_tls) await client.startTLS({ ...tlsOptions });
    return work(conversation);
  };
  try {
    return await Promise.race([run(), deadline]);
  } catch (err) {
    if (isDirectoryAnswer(err)) {
      throw new FederationError('directory_error', `the directory of ${providerId} answered ${err.constructor.name} (${err.message.split('\n')[0]})`, true);
    }
    throw unreachable(providerId, err);
  } finally {
    clearTimeout(timer);
    await Promise.race([client.unbind().catch(() => {}), new Promise((r) => setTimeout(r, 200).unref())]);
    for (const socket of sockets) socket.destroy();
  }
}

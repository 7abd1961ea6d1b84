/**
 * Whose address and user agent a token request carries. A public client (browser app, native
 * app) calls from the person's device: the request's address (TRUST_PROXY-aware) is theirs. A
 * confidential client calls from its own servers: its address says nothing about the person,
 * unless its registration allows it to forward the person's address and agent in
 * `Vigil-End-User-IP` / `Vigil-End-User-Agent`.
 */
import { isIP } from 'node:net';
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import { clientMetadata } from '../oidc/index.ts';

export const END_USER_IP_HEADER = 'vigil-end-user-ip';
export const END_USER_AGENT_HEADER = 'vigil-end-user-agent';
/** The longest user agent Vigil keeps (longer ones are cut, or refused when a client forwards one). */
export const MAX_USER_AGENT = 512;

export interface EndUser {
  ip: string;
  userAgent: string;
  /** False: `ip` is the client's server, not the person (location signals are not applied). */
  ipIsUser: boolean;
  /** The person's address and agent came from the client's forwarding headers. */
  forwarded: boolean;
}

function plainIp(value: string): string {
  return value.startsWith('::ffff:') && value.includes('.') ? value.slice(7) : value;
}

/** Throws `invalid_request` for a malformed forwarded header from a client allowed to send one. */
export function endUserOf(ctx: KoaContextWithOIDC): EndUser {
  const client = ctx.oidc.client!;
  const ip = String(ctx.state.clientIp ?? ctx.ip);
  const userAgent = ctx.get('user-agent').slice(0, MAX_USER_AGENT);
  if (client.clientAuthMethod === 'none') return { ip, userAgent, ipIsUser: true, forwarded: false };
  if (clientMetadata(client).vigil_forwards_end_user !== true) return { ip, userAgent, ipIsUser: false, forwarded: false };
  const forwardedIp = ctx.get(END_USER_IP_HEADER).trim();
  const forwardedAgent = ctx.get(END_USER_AGENT_HEADER);
  if (forwardedIp === '') return { ip, userAgent, ipIsUser: false, forwarded: false };
  if (isIP(plainIp(forwardedIp)) === 0) {
    throw new errors.InvalidRequest('the Vigil-End-User-IP header must hold one IPv4 or IPv6 address');
  }
  if (forwardedAgent.length > MAX_USER_AGENT) {
    throw new errors.InvalidRequest(`the Vigil-End-User-Agent header must be at most ${MAX_USER_AGENT} characters`);
  }
  return { ip: plainIp(forwardedIp), userAgent: forwardedAgent, ipIsUser: true, forwarded: true };
}

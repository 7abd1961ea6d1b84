import type { ClientInfo } from './accounts.ts';

/** A running OpenID provider the bench drives: a Vigil process, or the bare oidc-provider baseline. */
export interface Target {
  label: string;
  url: string;
  issuer: string;
  pid: number;
  /** The web client's redirect URI. */
  redirect: string;
  /** Confidential web client: authorization_code + refresh_token (rotated). */
  web: ClientInfo;
  /** Resource server allowed to introspect the opaque access tokens issued for it. */
  rs: ClientInfo;
  /** client_credentials client allowed both bench resources. */
  machine: ClientInfo;
  stop(): Promise<void>;
}

export interface VigilTarget extends Target {
  /** The process's environment (DATABASE_URL for reading what the risk engine stored). */
  env: Record<string, string>;
}

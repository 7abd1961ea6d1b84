/** The bench's people: the same emails and passwords on Vigil and on the baseline. */
export const benchAccount = (i: number) => ({ email: `user${String(i).padStart(3, '0')}@bench.test`, password: `bench user password ${i}` });

export interface ClientInfo { client_id: string; client_secret: string }

/** The two resources a machine client may ask tokens for: JWT access tokens, and opaque ones (to introspect). */
export const RESOURCES = { jwt: 'https://jwt.bench.test', opaque: 'https://api.bench.test' } as const;

export const basicAuth = (client: ClientInfo) =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

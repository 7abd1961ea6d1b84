import type { Payload } from './payload-codec.ts';

export interface Adapter {
  upsert(id: string, payload: Payload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<Payload | undefined>;
  findByUid(uid: string): Promise<Payload | undefined>;
  findByUserCode(userCode: string): Promise<Payload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
  /** Removes every record of this model that belongs to the account. */
  destroyByAccountId(accountId: string): Promise<void>;
  /** Removes every record of this model issued to the client (an incident action, not a hot path); how many there were. */
  revokeByClientId(clientId: string): Promise<number>;
  /** The account's live records of this model; for sessions and grants (the models listed per account). */
  findByAccountId(accountId: string): Promise<Payload[]>;
}

/**
 * Called when a consumable record (code, refresh token) is consumed a second time — a replay
 * or a race lost. It must throw the error the client is to receive.
 */
export type DoubleConsumeHandler = (model: string, grantId: string | undefined) => Promise<never>;

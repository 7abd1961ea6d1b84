/**
 * Break-glass accounts: standing accounts named in the elevation file for when everything else
 * fails. They are never refused, but every sign-in is an alarm: an audit entry
 * `break_glass.used`, a SET to the streams following the person, and the console's overview.
 */
import type { AuditEntry } from '../audit/index.ts';
import type { Account, AccountStore } from '../identity/index.ts';
import { breakGlassUsed, type SecurityEventSink } from '../ssf/index.ts';
import type { ElevationSettings } from './settings.ts';

export const BREAK_GLASS_ACTION = 'break_glass.used';

export interface BreakGlassDeps {
  accounts: Pick<AccountStore, 'findById'>;
  audit: { append(entry: AuditEntry): Promise<unknown> };
  securityEvents: SecurityEventSink;
  settings: () => ElevationSettings;
}

export interface BreakGlassUse {
  ip?: string;
  client?: string;
  acr?: string;
  /** `sign-in`, `refresh`. */
  how: string;
}

export class BreakGlass {
  readonly #deps: BreakGlassDeps;

  constructor(deps: BreakGlassDeps) {
    this.#deps = deps;
  }

  isBreakGlass(account: Pick<Account, 'email'>): boolean {
    return this.#deps.settings().breakGlass.has(account.email.toLowerCase());
  }

  /** Raises the alarm when the account is a break-glass one; true when it was. */
  async used(accountId: string, use: BreakGlassUse): Promise<boolean> {
    if (this.#deps.settings().breakGlass.size === 0) return false;
    const account = await this.#deps.accounts.findById(accountId);
    if (!account || !this.isBreakGlass(account)) return false;
    await this.#deps.audit.append({
      actor: accountId, action: BREAK_GLASS_ACTION, subject: account.email, ...(use.ip ? { ip: use.ip } : {}), outcome: 'info',
      details: { how: use.how, client: use.client ?? null, acr: use.acr ?? null },
    });
    await this.#deps.securityEvents.emit([breakGlassUsed(accountId, { ...(use.acr ? { acr: use.acr } : {}), ...(use.client ? { client: use.client } : {}), ...(use.ip ? { ip: use.ip } : {}) })]);
    return true;
  }
}

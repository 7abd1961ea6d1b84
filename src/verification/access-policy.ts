/**
 * The access policy at the token endpoint: which of the scopes asked for (and of the person's roles) a token
 * may carry, decided by the Cedar policy in force on what the continuous check found — risk, device and its
 * posture, network — and the sign-in's acr/amr. Every decision is logged with its determining policies; what
 * is withheld is audited (batched, off the response path) and counted.
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { AuditEntry, PreparedAuditEntry } from '../audit/index.ts';
import type { Account } from '../identity/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { clientMetadata } from '../oidc/index.ts';
import { tokenVerdict, type TokenVerdict } from '../policy/index.ts';
import { tokenFacts } from './token-facts.ts';
import { tablesFor } from '../risk/index.ts';
import type { BatchWriter } from '../store/index.ts';
import type { PolicyFiles } from './settings-files.ts';
import type { TokenRequestState } from './verifier.ts';

export type TokenGrantType = 'authorization_code' | 'refresh_token';

/** What the token being issued rests on: the authorization code or the refresh token. */
export interface TokenSource {
  accountId: string;
  acr?: string | undefined;
  amr?: string[] | undefined;
  grantId?: string | undefined;
}

export interface AccessPolicyDeps {
  files: () => PolicyFiles;
  /** What the continuous check found about this request (undefined with the engine off). */
  state: (ctx: KoaContextWithOIDC, grantType: TokenGrantType, accountId: string) => Promise<TokenRequestState | undefined> | TokenRequestState | undefined;
  auditQueue: BatchWriter<AuditEntry, PreparedAuditEntry>;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

export class AccessPolicyCheck {
  readonly #deps: AccessPolicyDeps;
  readonly #verdicts = new WeakMap<object, TokenVerdict>();

  constructor(deps: AccessPolicyDeps) {
    this.#deps = deps;
  }

  /** The verdict already given for this token request (the roles claim reads it). */
  verdictOf(ctx: KoaContextWithOIDC): TokenVerdict | undefined {
    return this.#verdicts.get(ctx);
  }

  /**
   * Decides the scopes (of `scopes`) and roles the token may carry; throws `invalid_grant` when the policy
   * leaves no scope or a policy marked `@refuse` withholds one. Undefined when no access policy is in force.
   */
  async check(ctx: KoaContextWithOIDC, grantType: TokenGrantType, source: TokenSource, account: Account, scopes: readonly string[]): Promise<TokenVerdict | undefined> {
    const files = this.#deps.files();
    const set = files.access;
    if (!set) return undefined;
    const known = this.#verdicts.get(ctx);
    if (known) return known;
    const client = ctx.oidc.client!;
    // A policy that allows every scope and role outright (the shipped one) needs no facts: no read at a code exchange.
    const outright = set.unconditional.has('Action::receive_scope') && set.unconditional.has('Action::receive_role');
    const state = outright ? undefined : await this.#deps.state(ctx, grantType, account.id);
    const metadata = clientMetadata(client);
    const facts = tokenFacts({
      grantType,
      person: { id: account.id, email: account.email, emailVerified: account.emailVerified, roles: account.roles },
      client: { id: client.clientId, sensitive: tablesFor(files.risk, client.clientId).sensitive, firstParty: metadata.vigil_first_party === true, adminTool: metadata.vigil_admin_tool === true },
      context: state?.context, assessment: state?.assessment, riskLevel: state?.riskLevel,
      acr: source.acr, amr: source.amr, time: (this.#deps.now ?? Date.now)(),
    });
    const started = performance.now();
    const verdict = tokenVerdict(set, facts, scopes);
    this.#deps.metrics?.accessPolicyEvaluation.observe((performance.now() - started) / 1000);
    this.#verdicts.set(ctx, verdict);
    this.#record(ctx, grantType, source, verdict);
    if (verdict.refused) {
      throw Object.assign(new errors.InvalidGrant('refused by the access policy'), {
        error_description: `the access policy does not allow this token now (withheld: ${verdict.withheldScopes.map((w) => w.name).join(' ')})`,
      });
    }
    return verdict;
  }

  #record(ctx: KoaContextWithOIDC, grantType: TokenGrantType, source: TokenSource, verdict: TokenVerdict): void {
    const { metrics, logger, auditQueue } = this.#deps;
    const withheld = verdict.withheldScopes.length + verdict.withheldRoles.length;
    const outcome = verdict.refused ? 'refused' : withheld > 0 ? 'narrowed' : 'allowed';
    metrics?.accessPolicyDecisions.inc({ grant_type: grantType, outcome });
    const clientId = ctx.oidc.client!.clientId;
    const log = {
      account: source.accountId, client: clientId, grantType, outcome, scopes: verdict.scopes, roles: verdict.roles, allowedBy: verdict.allowedBy,
      withheldScopes: verdict.withheldScopes, withheldRoles: verdict.withheldRoles, refusedBy: verdict.refusedBy,
    };
    if (withheld === 0) {
      logger.debug(log, 'access policy allowed the token');
      return;
    }
    logger.info(log, `access policy ${outcome} the token`);
    auditQueue.add({
      actor: source.accountId, action: 'access_policy.withheld', subject: clientId, ip: ctx.state.clientIp, outcome: 'denied',
      details: {
        grantType, outcome, grant: source.grantId ?? null, scopes: verdict.scopes, refusedBy: verdict.refusedBy,
        withheldScopes: verdict.withheldScopes.map((w) => ({ scope: w.name, determining: w.determining, errors: w.errors })),
        withheldRoles: verdict.withheldRoles.map((w) => ({ role: w.name, determining: w.determining, errors: w.errors })),
      },
    });
  }
}

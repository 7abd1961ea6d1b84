/**
 * Vigil as the IdP of the AuthZEN IdP scenario: at token issuance, for each of the client's
 * `vigil_authzen_claims`, the decision point (Vigil's own, in-process, or an external one reached
 * through its discovered `search_resource_endpoint` with the SSRF-guarded fetch) is asked which
 * resources of a type the person may act on, and the ids become a claim of the ID and access
 * tokens. Bounded by the spec's `timeout_ms`; past it (or on any failure) `deny` refuses the token
 * request (access_denied), `omit` issues the tokens without the claim (logged and counted).
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type Provider from 'oidc-provider';
import fetchRequest from 'oidc-provider/lib/helpers/fetch_request.js';
import { z } from 'zod';
import type { Account } from '../identity/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import type { AuditEntry } from '../audit/index.ts';
import { authzenClaimSpecs, clientMetadata, type AuthzenClaimSpec } from '../oidc/index.ts';
import type { DecisionPoint } from './decision-point.ts';
import { authzenPaths } from './discovery.ts';

/** The most ids one claim carries, and the most pages followed to get them. */
export const MAX_CLAIM_IDS = 1000;
const MAX_PAGES = 20;
const MAX_RESPONSE_BYTES = 1024 * 1024;
const METADATA_TTL_MS = 5 * 60_000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface TokenClaimsDeps {
  provider: () => Provider;
  accounts: { findById(id: string): Promise<Account | undefined> };
  /** Vigil's own decision point, when one is configured. */
  self: () => DecisionPoint | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Records a token refused (fail closed) or issued without a claim (fail open), off the response path. */
  audit: (entry: AuditEntry) => void;
}

const searchAnswer = z.object({
  results: z.array(z.object({ type: z.string(), id: z.string() }).loose()).max(MAX_CLAIM_IDS),
  page: z.object({ next_token: z.string().max(2048).optional() }).loose().optional(),
}).loose();
interface SearchPage {
  results: { type: string; id: string }[];
  page?: { next_token?: string };
}

const pdpMetadataAnswer = z.object({
  policy_decision_point: z.string(),
  search_resource_endpoint: z.string().refine((s) => {
    const url = URL.parse(s);
    return url !== null && (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname)));
  }, 'must be an https URL'),
}).loose();

/** A decision point that did not answer usefully: the reason, safe to log and to show. */
class PdpFailure extends Error {
  override name = 'PdpFailure';
}

/** RFC 8414 §3 style: the well-known segment goes between the host and the identifier's path. */
export function metadataUrl(pdp: string): string {
  const url = new URL(pdp);
  const path = url.pathname.replace(/\/$/, '');
  return `${url.origin}${authzenPaths.configuration}${path}`;
}

const sameId = (a: string, b: string) => a.replace(/\/$/, '') === b.replace(/\/$/, '');

function subjectId(spec: AuthzenClaimSpec, account: Account): string {
  if (spec.subject_id === 'account_id') return account.id;
  return spec.subject_id === 'email_local_part' ? account.email.slice(0, account.email.lastIndexOf('@')) : account.email;
}

function within<T>(work: Promise<T>, ms: number, pdp: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PdpFailure(`${pdp} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

export class AuthzenTokenClaims {
  readonly #deps: TokenClaimsDeps;
  /** One answer per token request: the access token and the ID token of a response share it. */
  readonly #perRequest = new WeakMap<object, Promise<Record<string, unknown>>>();
  readonly #endpoints = new Map<string, { endpoint: string; until: number }>();

  constructor(deps: TokenClaimsDeps) {
    this.#deps = deps;
  }

  /** The claims for `accountId`'s tokens to the request's client (none when it has no specs). */
  claimsFor = (ctx: KoaContextWithOIDC, accountId: string): Promise<Record<string, unknown>> => {
    let claims = this.#perRequest.get(ctx);
    if (!claims) this.#perRequest.set(ctx, claims = this.#claims(ctx, accountId));
    return claims;
  };

  async #claims(ctx: KoaContextWithOIDC, accountId: string): Promise<Record<string, unknown>> {
    const client = ctx.oidc?.client;
    if (!client) return {};
    const specs = authzenClaimSpecs(clientMetadata(client) as Record<string, unknown>);
    if (!specs.length) return {};
    const account = await this.#deps.accounts.findById(accountId);
    if (!account) return {};
    const answers = await Promise.all(specs.map((spec) => this.#claim(spec, account, client.clientId, ctx.state.clientIp as string | undefined)));
    return Object.fromEntries(answers.filter((a): a is [string, string[]] => a !== undefined));
  }

  async #claim(spec: AuthzenClaimSpec, account: Account, clientId: string, ip: string | undefined): Promise<[string, string[]] | undefined> {
    const subject = { type: 'user', id: subjectId(spec, account) };
    const pdp = spec.pdp === 'self' ? 'Vigil\'s own decision point' : spec.pdp;
    try {
      const ids = await within(this.#search(spec, subject), spec.timeout_ms, pdp);
      this.#deps.metrics.authzenClaims.inc({ outcome: 'added' });
      return [spec.claim, ids];
    } catch (err) {
      const reason = err instanceof PdpFailure ? err.message : `${pdp} could not be asked: ${(err as Error).message}`;
      this.#deps.logger.warn({ client: clientId, account: account.id, claim: spec.claim, pdp: spec.pdp, onFailure: spec.on_failure, reason }, 'AuthZEN claim not obtained');
      this.#deps.audit({
        actor: account.id, action: spec.on_failure === 'deny' ? 'token.refused_authzen_claim' : 'token.issued_without_authzen_claim', subject: clientId,
        ...(ip ? { ip } : {}), outcome: spec.on_failure === 'deny' ? 'denied' : 'info', details: { claim: spec.claim, pdp: spec.pdp, reason },
      });
      if (spec.on_failure === 'deny') {
        this.#deps.metrics.authzenClaims.inc({ outcome: 'denied' });
        throw new errors.AccessDenied(`the "${spec.claim}" claim this client requires could not be obtained: ${reason}`);
      }
      this.#deps.metrics.authzenClaims.inc({ outcome: 'omitted' });
      return undefined;
    }
  }

  /** Every page of the search's results: the ids of the asked type, as strings. */
  async #search(spec: AuthzenClaimSpec, subject: { type: string; id: string }): Promise<string[]> {
    const request = { subject, action: { name: spec.action }, resource: { type: spec.resource_type } };
    const ask = spec.pdp === 'self' ? this.#askSelf() : await this.#askExternal(spec.pdp);
    const ids: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await ask(token === undefined ? request : { ...request, page: { token } });
      for (const r of answer.results) if (r.type === spec.resource_type && ids.length < MAX_CLAIM_IDS) ids.push(String(r.id));
      token = answer.page?.next_token || undefined;
      if (!token || ids.length >= MAX_CLAIM_IDS) return ids;
    }
    return ids;
  }

  #askSelf(): (body: Record<string, unknown>) => Promise<SearchPage> {
    const pdp = this.#deps.self();
    if (!pdp) throw new PdpFailure('Vigil\'s own decision point is not configured (VIGIL_AUTHZEN_POLICY)');
    return (body) => pdp.searchResources(body as Parameters<DecisionPoint['searchResources']>[0]);
  }

  async #askExternal(pdp: string): Promise<(body: Record<string, unknown>) => Promise<SearchPage>> {
    const endpoint = await this.#endpoint(pdp);
    return async (body) => searchAnswer.parse(await this.#json(endpoint, {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body),
    }, pdp));
  }

  async #endpoint(pdp: string): Promise<string> {
    const cached = this.#endpoints.get(pdp);
    if (cached && cached.until > Date.now()) return cached.endpoint;
    const parsed = pdpMetadataAnswer.safeParse(await this.#json(metadataUrl(pdp), { method: 'GET', headers: { accept: 'application/json' } }, pdp));
    if (!parsed.success) throw new PdpFailure(`${pdp} published no usable metadata (search_resource_endpoint)`);
    if (!sameId(parsed.data.policy_decision_point, pdp)) throw new PdpFailure(`${pdp}'s metadata names another decision point (${parsed.data.policy_decision_point})`);
    this.#endpoints.set(pdp, { endpoint: parsed.data.search_resource_endpoint, until: Date.now() + METADATA_TTL_MS });
    return parsed.data.search_resource_endpoint;
  }

  async #json(url: string, init: RequestInit, pdp: string): Promise<unknown> {
    let response: Response;
    try {
      response = await fetchRequest(this.#deps.provider(), url, { ...init, redirect: 'manual' });
    } catch (err) {
      throw new PdpFailure(`${pdp} could not be reached (${(err as Error).message})`);
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new PdpFailure(`${pdp} answered ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_RESPONSE_BYTES) throw new PdpFailure(`${pdp}'s answer is too large`);
    try {
      return JSON.parse(text);
    } catch {
      throw new PdpFailure(`${pdp}'s answer is not JSON`);
    }
  }
}

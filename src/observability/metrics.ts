import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'status'>;
  readonly latency: Histogram<'route' | 'method'>;
  readonly tokensIssued: Counter<'grant_type'>;
  readonly logins: Counter<'outcome'>;
  readonly riskDecisions: Counter<'type' | 'action'>;
  readonly authzenDecisions: Counter<'endpoint' | 'decision'>;
  readonly authzenClaims: Counter<'outcome'>;
  readonly accessPolicyDecisions: Counter<'grant_type' | 'outcome'>;
  readonly accessPolicyEvaluation: Histogram;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'vigil_' });
    this.requests = new Counter({ name: 'vigil_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'], registers: [this.registry] });
    this.latency = new Histogram({
      name: 'vigil_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['route', 'method'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [this.registry],
    });
    this.tokensIssued = new Counter({ name: 'vigil_tokens_issued_total', help: 'Successful token endpoint responses by grant type', labelNames: ['grant_type'], registers: [this.registry] });
    this.logins = new Counter({ name: 'vigil_logins_total', help: 'Password sign-in attempts by outcome', labelNames: ['outcome'], registers: [this.registry] });
    this.riskDecisions = new Counter({ name: 'vigil_risk_decisions_total', help: 'Risk engine decisions by event type and action', labelNames: ['type', 'action'], registers: [this.registry] });
    this.authzenDecisions = new Counter({ name: 'vigil_authzen_decisions_total', help: 'AuthZEN decisions (evaluation, evaluations) and search results by endpoint and decision', labelNames: ['endpoint', 'decision'], registers: [this.registry] });
    this.authzenClaims = new Counter({ name: 'vigil_authzen_claims_total', help: 'AuthZEN claims at token issuance by outcome (added, denied, omitted)', labelNames: ['outcome'], registers: [this.registry] });
    this.accessPolicyDecisions = new Counter({
      name: 'vigil_access_policy_decisions_total', help: 'Token requests decided by the access policy, by grant type and outcome (allowed, narrowed, refused)',
      labelNames: ['grant_type', 'outcome'], registers: [this.registry],
    });
    this.accessPolicyEvaluation = new Histogram({
      name: 'vigil_access_policy_evaluation_seconds', help: 'Time to decide a token request\'s scopes and roles with the access policy',
      buckets: [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.0025, 0.01], registers: [this.registry],
    });
  }
}

const ROUTES: Array<[RegExp, string]> = [
  [/^\/interaction\/[^/]+$/, '/interaction/:uid'],
  [/^\/interaction\/[^/]+\/[a-z]+$/, '/interaction/:uid/:action'],
  [/^\/interaction\/[^/]+\/webauthn\/(options|verify)$/, '/interaction/:uid/webauthn/:step'],
  [/^\/account\/(passkeys|sessions)\/[^/]+\/[a-z]+$/, '/account/:kind/:id/:action'],
  [/^\/devices\/[^/]+$/, '/devices/:id'],
  [/^\/devices\/[^/]+\/posture$/, '/devices/:id/posture'],
  [/^\/auth\/[^/]+$/, '/auth/:uid'],
  [/^\/reg\/[^/]+$/, '/reg/:clientId'],
  [/^\/assets\/[^/]+$/, '/assets/:file'],
];
const STATIC = new Set([
  '/', '/auth', '/request', '/token', '/me', '/jwks', '/reg', '/token/introspection', '/token/revocation', '/session/end',
  '/session/end/confirm', '/session/end/success', '/.well-known/openid-configuration', '/healthz', '/readyz', '/metrics',
  '/devices', '/.well-known/authzen-configuration', '/access/v1/evaluation', '/access/v1/evaluations', '/access/v1/search/resource', '/account', '/account/', '/account/login', '/account/callback', '/account/signed-out', '/account/logout', '/account/totp/begin',
  '/account/totp/confirm', '/account/totp/remove', '/account/recovery/regenerate', '/account/passkeys/options', '/account/passkeys/verify',
]);

/** A bounded set of route labels: unknown paths count as "other", so labels cannot explode. */
export function routeLabel(path: string): string {
  if (STATIC.has(path)) return path;
  for (const [pattern, label] of ROUTES) if (pattern.test(path)) return label;
  return 'other';
}

/**
 * The AuthZEN Authorization API 1.0 over HTTP (docs/authzen.md): the PDP metadata, access
 * evaluation, access evaluations (batches) and resource search. Bodies are JSON (at most 256 KiB);
 * errors are `{ error, error_description }` (400 naming the member), RFC 6750 challenges for tokens.
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { Config } from '../config/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import type { Logger, Metrics } from '../observability/index.ts';
import { ApiError, BearerError, readJson } from '../http/index.ts';
import { jsonApiErrors } from '../http/api-error.ts';
import { authenticateCaller, authzenResource, type AuthzenAuthDeps } from './auth.ts';
import type { Decision, DecisionPoint } from './decision-point.ts';
import { authzenPaths, pdpMetadata } from './discovery.ts';
import { AuthzenRequestError, evaluationSchema, evaluationsSchema, expandEvaluations, parseRequest, resourceSearchSchema } from './schemas.ts';

export interface AuthzenRouteDeps extends AuthzenAuthDeps {
  config: Pick<Config, 'ISSUER'>;
  /** The decision point, or undefined when no policy is configured (the endpoints are then not served). */
  pdp: () => DecisionPoint | undefined;
  logger: Logger;
  metrics: Metrics;
  /** Requests per calling client. */
  requestLimiter: AttemptLimiter;
  /** Refused access tokens per client address. */
  tokenLimiter: AttemptLimiter;
}

const BODY_LIMIT = 256 * 1024;

export function authzenRoutes(deps: AuthzenRouteDeps): Router {
  const router = new Router();
  const issuer = deps.config.ISSUER;

  router.get(authzenPaths.configuration, (ctx) => {
    if (!deps.pdp()) return;
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = pdpMetadata(issuer);
  });

  const errors = jsonApiErrors(authzenResource(deps.config));

  /** The decision point, to an authenticated caller within its budget, with a readable body. */
  async function caller(ctx: Context, next: Next) {
    const pdp = deps.pdp();
    if (!pdp) return;
    const ip = ctx.state.clientIp as string;
    const refused = await deps.tokenLimiter.check(ip);
    if (refused.locked) throw new ApiError(429, 'too_many_requests', `too many refused access tokens from this address; try again in ${refused.retryAfterSeconds} s`, refused.retryAfterSeconds);
    let clientId: string;
    try {
      clientId = await authenticateCaller(ctx, deps);
    } catch (err) {
      if (err instanceof BearerError && err.status === 401 && err.error) await deps.tokenLimiter.fail(ip);
      throw err;
    }
    const budget = await deps.requestLimiter.reserve(clientId);
    if (!budget.allowed) throw new ApiError(429, 'too_many_requests', `too many requests from this client; try again in ${budget.retryAfterSeconds} s`, budget.retryAfterSeconds);
    ctx.state.authzen = { pdp, clientId, body: await readJson(ctx, BODY_LIMIT) };
    try {
      await next();
    } catch (err) {
      if (err instanceof AuthzenRequestError) throw new ApiError(400, 'invalid_request', err.message);
      throw err;
    }
  }

  const state = (ctx: Context) => ctx.state.authzen as { pdp: DecisionPoint; clientId: string; body: Record<string, unknown> };
  const count = (endpoint: string, decisions: Decision[]) => {
    for (const d of decisions) deps.metrics.authzenDecisions.inc({ endpoint, decision: String(d.decision) });
  };

  router.post(authzenPaths.evaluation, errors, caller, async (ctx) => {
    const { pdp, body } = state(ctx);
    const decision = await pdp.evaluate(parseRequest(evaluationSchema, body));
    count('evaluation', [decision]);
    ctx.body = decision;
  });

  router.post(authzenPaths.evaluations, errors, caller, async (ctx) => {
    const { pdp, body } = state(ctx);
    const request = parseRequest(evaluationsSchema, body);
    const decisions = await pdp.evaluateAll(expandEvaluations(request), request.options?.evaluations_semantic);
    count('evaluations', decisions);
    // Without `evaluations` the request is a single evaluation, and so is its answer.
    ctx.body = request.evaluations?.length ? { evaluations: decisions } : decisions[0];
  });

  router.post(authzenPaths.searchResource, errors, caller, async (ctx) => {
    const { pdp, body } = state(ctx);
    const answer = await pdp.searchResources(parseRequest(resourceSearchSchema, body));
    deps.metrics.authzenDecisions.inc({ endpoint: 'search_resource', decision: 'true' }, answer.results.length);
    ctx.body = answer;
  });

  return router;
}

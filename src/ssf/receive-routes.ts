/**
 * `POST /ssf/receive`: Vigil as a push receiver (RFC 8935). 202 once a SET is verified and
 * applied; 400 `{err, description}` (§2.3) when it is refused, with nothing applied. Every SET,
 * accepted or refused, is audited with its jti, issuer and event types only.
 */
import { FormError, readBody } from '../http/form.ts';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AuditEntry } from '../audit/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import type { Logger } from '../observability/index.ts';
import { planEvents, type ReceivedEventApplier } from './apply.ts';
import { CLOCK_SKEW_SECONDS, peekSet, SetRejection, SetUnverifiable, verifySet, type ReceivedJtis, type SetVerifierDeps } from './receiver.ts';

export const RECEIVE_PATH = '/ssf/receive';
/** SETs are small; a body larger than this is not one. */
const MAX_SET_BYTES = 64 * 1024;

export interface ReceiveRoutesDeps extends SetVerifierDeps {
  jtis: ReceivedJtis;
  applier: ReceivedEventApplier;
  /** Refused SETs per client address (anyone may post here). */
  limiter: AttemptLimiter;
  audit: (entry: AuditEntry) => void;
  logger: Logger;
}

async function readSet(ctx: Context): Promise<string> {
  if (!ctx.is('application/secevent+jwt')) throw new SetRejection('invalid_request', 'the SET must be sent as application/secevent+jwt');
  try {
    return (await readBody(ctx, MAX_SET_BYTES)).trim();
  } catch (err) {
    if (err instanceof FormError) throw new SetRejection('invalid_request', 'the SET is too large');
    throw err;
  }
}

export function receiveRoutes(deps: ReceiveRoutesDeps): Router {
  const router = new Router();

  router.post(RECEIVE_PATH, async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    const ip = ctx.state.clientIp as string;
    const limit = await deps.limiter.check(ip);
    if (limit.locked) {
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      ctx.status = 429;
      ctx.body = { err: 'access_denied', description: `too many refused SETs from this address; try again in ${limit.retryAfterSeconds} s` };
      return;
    }
    let token = '';
    try {
      token = await readSet(ctx);
      const set = await verifySet(token, ctx.get('authorization') || undefined, deps);
      const planned = planEvents(set);
      const from = set.transmitter.issuer;
      if (!await deps.jtis.claim(from, set.jti, (set.iat + set.transmitter.maxAgeSeconds + CLOCK_SKEW_SECONDS) * 1000)) {
        throw new SetRejection('invalid_request', 'this jti was received already');
      }
      let outcomes;
      try {
        outcomes = await deps.applier.apply(set, planned);
      } catch (err) {
        // Not the SET's fault: its retry must be applied, not refused as a replay.
        await deps.jtis.release(from, set.jti).catch(() => undefined);
        throw err;
      }
      deps.audit({
        actor: `ssf:${from}`.slice(0, 200), action: 'ssf.received', subject: set.jti, ip, outcome: 'success',
        details: { iss: from, jti: set.jti, events: outcomes.map((o) => ({ type: o.type, applied: o.applied, note: o.note })) },
      });
      ctx.status = 202;
      // Without a body Koa would send the status text.
      ctx.body = '';
    } catch (err) {
      if (err instanceof SetRejection) {
        await deps.limiter.fail(ip);
        const seen = peekSet(token);
        deps.audit({
          actor: seen.iss ? `ssf:${seen.iss}` : 'unknown', action: 'ssf.rejected', ...(seen.jti ? { subject: seen.jti } : {}), ip, outcome: 'denied',
          details: { ...seen, err: err.code, description: err.message },
        });
        ctx.status = 400;
        ctx.body = { err: err.code, description: err.message };
        return;
      }
      if (err instanceof SetUnverifiable) {
        deps.logger.warn({ error: err.message, iss: peekSet(token).iss }, 'a pushed SET could not be verified now');
        ctx.set('Retry-After', '30');
        ctx.status = 503;
        ctx.body = { err: 'temporarily_unavailable', description: 'the transmitter\'s keys cannot be fetched now; retry later' };
        return;
      }
      throw err;
    }
  });

  return router;
}

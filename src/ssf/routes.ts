/**
 * The transmitter's HTTP side: metadata, stream management (SSF 1.0 §8: configuration, status,
 * subjects, verification) and poll delivery (RFC 8936). A client sees and changes its own stream
 * only; another client's stream id reads as not found.
 */
import { ApiError, jsonApiErrors } from '../http/api-error.ts';
import Router from '@koa/router';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { z } from 'zod';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { ResourceServerStore } from '../oidc/index.ts';
import type { AdapterFactory, Queryable } from '../store/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Logger } from '../observability/index.ts';
import { readJson } from '../http/form.ts';
import { authenticateReceiver, ssfResource } from './auth.ts';
import { EVENTS_SUPPORTED, POLL_METHOD, PUSH_METHOD, type Subject } from './events.ts';
import { ssfPaths, transmitterMetadata } from './metadata.ts';
import type { SecurityEventOutbox } from './outbox.ts';
import { pollEvents, pollRequestSchema, type LongPoll } from './poll.ts';
import { TooManyHeldPolls, type HeldPolls } from './held-polls.ts';
import { pushEndpointProblem } from './endpoint-check.ts';
import {
  createStreamSchema, firstIssue, replaceStreamSchema, statusSchema, streamIdQuery, subjectRequestSchema, updateStreamSchema, verifySchema,
} from './schemas.ts';
import type { SetSigner } from './signer.ts';
import { subjectAccount } from './subjects.ts';
import { StreamLimitError, type Stream, type StreamSettings, type StreamStore } from './streams.ts';

/** Verification events may be asked for at most this often per stream (429 otherwise). */
export const MIN_VERIFICATION_INTERVAL = 10;

export interface SsfRoutesDeps {
  config: Config;
  provider: () => Provider;
  accounts: AccountStore;
  adapters: AdapterFactory;
  db: Queryable;
  streams: StreamStore;
  outbox: SecurityEventOutbox;
  signer: SetSigner;
  audit: AuditLog;
  logger: Logger;
  /** The resource server a client is (a stream may name it as its audience). */
  resourceServers: Pick<ResourceServerStore, 'forClient'>;
  /** Where long polls wait (RFC 8936); without it, every poll answers at once. */
  heldPolls?: HeldPolls;
}

const notFound = () => new ApiError(404, 'not_found', 'no such stream');

export const SUBJECT_NOT_FOLLOWABLE = 'subject: names no person who has authorized this client; add them once they have signed in to it';

function parse<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ApiError(400, 'invalid_request', firstIssue(result.error));
  return result.data;
}

export function ssfRoutes(deps: SsfRoutesDeps): Router {
  const router = new Router();
  const { config, streams, outbox } = deps;
  const issuer = config.ISSUER;

  const view = (s: Stream) => ({
    stream_id: s.id,
    iss: issuer,
    aud: s.audience.length === 1 ? s.audience[0] : s.audience,
    delivery: { method: s.method, endpoint_url: s.method === POLL_METHOD ? `${issuer}${ssfPaths.poll}/${s.id}` : s.endpointUrl },
    events_supported: EVENTS_SUPPORTED,
    events_requested: s.eventsRequested,
    events_delivered: s.eventsDelivered,
    ...(s.description !== null ? { description: s.description } : {}),
    min_verification_interval: MIN_VERIFICATION_INTERVAL,
  });

  /** Refuses, with the reason, a push endpoint Vigil would not be allowed to call. */
  const checkEndpoint = async (delivery: z.infer<typeof createStreamSchema>['delivery']) => {
    if (delivery?.method !== PUSH_METHOD) return;
    const problem = await pushEndpointProblem(delivery.endpoint_url, config.VIGIL_ALLOWED_OUTGOING_HOSTS);
    if (problem) throw new ApiError(400, 'invalid_request', `delivery.endpoint_url: ${problem}`);
  };

  /**
   * The audiences a client's stream may carry: the client id (the default), the resource server
   * the client is, and the origins of its redirect URIs — names of the receiver itself, so that a
   * stream cannot aim its SETs at another party.
   */
  const checkAudience = async (clientId: string, audience: string[] | undefined) => {
    if (!audience) return;
    const allowed = new Set([clientId]);
    const rs = await deps.resourceServers.forClient(clientId);
    if (rs) allowed.add(rs.identifier);
    const client = await deps.provider().Client.find(clientId);
    for (const uri of client?.redirectUris ?? []) {
      const origin = URL.parse(uri)?.origin;
      if (origin && origin !== 'null') allowed.add(origin);
    }
    const refused = audience.find((a) => !allowed.has(a));
    if (refused !== undefined) {
      throw new ApiError(400, 'invalid_request', `aud: ${refused} is not an audience of this client (its client id, the resource it serves, or the origin of one of its redirect URIs)`);
    }
  };

  const settingsOf = (clientId: string, body: z.infer<typeof createStreamSchema>): StreamSettings => {
    const d = body.delivery ?? { method: POLL_METHOD };
    return {
      method: d.method,
      ...(d.method === PUSH_METHOD ? { endpointUrl: d.endpoint_url, ...(d.authorization_header ? { authorizationHeader: d.authorization_header } : {}) } : {}),
      eventsRequested: body.events_requested ?? [],
      ...(body.description !== undefined ? { description: body.description } : {}),
      audience: body.aud ?? [clientId],
    };
  };

  const record = (clientId: string, ctx: Context, action: string, subject: string, details: Record<string, unknown> = {}) =>
    deps.audit.append({ actor: clientId, action, subject, ip: ctx.state.clientIp, outcome: 'success', details })
      .catch((err) => deps.logger.error({ err }, 'audit write failed'));

  async function streamOf(clientId: string, id: string | undefined): Promise<Stream> {
    if (id === undefined) throw new ApiError(400, 'invalid_request', 'stream_id is required');
    // Stream ids are at most 100 characters (the schemas' rule); a path parameter is held to it too.
    if (id.length > 100) throw notFound();
    const stream = await streams.find(clientId, id);
    if (!stream) throw notFound();
    return stream;
  }

  const lookup = { accounts: deps.accounts, issuer };

  /** The account a subject names, if the client may hear about it: it must have authorized the client. */
  async function accountOf(clientId: string, subject: Subject): Promise<string | undefined> {
    if (subject.format === 'complex' && !subject.user) throw new ApiError(400, 'invalid_request', 'a complex subject must name a user');
    const accountId = await subjectAccount(lookup, subject, true);
    if (!accountId) return undefined;
    const grants = await deps.adapters.for('Grant').findByAccountId(accountId);
    return grants.some((g) => (g as { clientId?: string }).clientId === clientId) ? accountId : undefined;
  }

  const errors = jsonApiErrors(ssfResource(config));
  router.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/ssf/') && ctx.path !== '/.well-known/ssf-configuration') return next();
    await errors(ctx, next);
  });

  router.get('/.well-known/ssf-configuration', (ctx) => {
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = transmitterMetadata(issuer);
  });

  const client = (ctx: Context) => authenticateReceiver(ctx, deps);

  router.post(ssfPaths.configuration, async (ctx) => {
    const clientId = await client(ctx);
    const body = parse(createStreamSchema, await readJson(ctx, 16 * 1024));
    await checkEndpoint(body.delivery);
    await checkAudience(clientId, body.aud);
    let stream: Stream;
    try {
      stream = await streams.create(clientId, settingsOf(clientId, body));
    } catch (err) {
      if (err instanceof StreamLimitError) throw new ApiError(409, 'conflict', err.message);
      throw err;
    }
    await record(clientId, ctx, 'ssf.stream_created', stream.id, { method: stream.method, events: stream.eventsDelivered });
    ctx.status = 201;
    ctx.body = view(stream);
  });

  // What the receiver reads back: the configuration, and how its deliveries fare.
  const viewWithStatus = async (s: Stream) => {
    const failure = await streams.lastDeliveryError(s.id);
    return {
      ...view(s),
      ...(failure ? {
        last_delivery_error: {
          error: failure.error, status: failure.status, attempts: failure.attempts,
          ...(failure.nextAttemptAt ? { next_attempt_at: failure.nextAttemptAt.toISOString() } : {}),
        },
      } : {}),
    };
  };

  router.get(ssfPaths.configuration, async (ctx) => {
    const clientId = await client(ctx);
    const { stream_id: id } = parse(streamIdQuery, ctx.query);
    ctx.body = id === undefined
      ? await Promise.all((await streams.listFor(clientId)).map(viewWithStatus))
      : await viewWithStatus(await streamOf(clientId, id));
  });

  const replace = (partial: boolean) => async (ctx: Context) => {
    const clientId = await client(ctx);
    const raw = await readJson(ctx, 16 * 1024);
    const body = partial ? parse(updateStreamSchema, raw) : parse(replaceStreamSchema, raw);
    const current = await streamOf(clientId, body.stream_id);
    await checkEndpoint(body.delivery);
    await checkAudience(clientId, body.aud);
    // PATCH keeps what it does not name (the push authorization header included, unless the delivery changes).
    const settings = settingsOf(clientId, partial ? {
      delivery: body.delivery ?? (current.method === PUSH_METHOD ? { method: PUSH_METHOD, endpoint_url: current.endpointUrl! } : { method: POLL_METHOD }),
      events_requested: body.events_requested ?? current.eventsRequested,
      ...(body.description !== undefined ? { description: body.description } : current.description !== null ? { description: current.description } : {}),
      aud: body.aud ?? current.audience,
    } : body);
    if (partial && !body.delivery && current.hasAuthorization) {
      settings.authorizationHeader = (await streams.byId(current.id))?.authorizationHeader;
    }
    const updated = await streams.update(clientId, current.id, settings);
    if (!updated) throw notFound();
    await record(clientId, ctx, 'ssf.stream_updated', updated.id, { method: updated.method, events: updated.eventsDelivered });
    ctx.body = view(updated);
  };
  router.patch(ssfPaths.configuration, replace(true));
  router.put(ssfPaths.configuration, replace(false));

  router.delete(ssfPaths.configuration, async (ctx) => {
    const clientId = await client(ctx);
    const { stream_id: id } = parse(streamIdQuery, ctx.query);
    const stream = await streamOf(clientId, id);
    if (!await streams.remove(clientId, stream.id)) throw notFound();
    await record(clientId, ctx, 'ssf.stream_deleted', stream.id);
    ctx.status = 204;
  });

  router.get(ssfPaths.status, async (ctx) => {
    const clientId = await client(ctx);
    const stream = await streamOf(clientId, parse(streamIdQuery, ctx.query).stream_id);
    ctx.body = { stream_id: stream.id, status: stream.status, ...(stream.statusReason ? { reason: stream.statusReason } : {}) };
  });

  router.post(ssfPaths.status, async (ctx) => {
    const clientId = await client(ctx);
    const body = parse(statusSchema, await readJson(ctx, 4096));
    const stream = await streams.setStatus(clientId, body.stream_id, body.status, body.reason);
    if (!stream) throw notFound();
    await record(clientId, ctx, 'ssf.stream_status', stream.id, { status: stream.status });
    // Enabled again: what was held goes out now.
    if (stream.status === 'enabled') outbox.onQueued?.();
    ctx.body = { stream_id: stream.id, status: stream.status, ...(stream.statusReason ? { reason: stream.statusReason } : {}) };
  });

  router.post(ssfPaths.addSubject, async (ctx) => {
    const clientId = await client(ctx);
    const body = parse(subjectRequestSchema, await readJson(ctx, 4096));
    const stream = await streamOf(clientId, body.stream_id);
    // Refused rather than ignored, so that a receiver never believes it follows someone it does
    // not. One answer for a person unknown and one who has not authorized the client: nobody
    // learns who has an account.
    const accountId = await accountOf(clientId, body.subject);
    if (!accountId) throw new ApiError(400, 'invalid_request', SUBJECT_NOT_FOLLOWABLE);
    await streams.addSubject(stream.id, accountId);
    ctx.status = 200;
    ctx.body = {};
  });

  router.post(ssfPaths.removeSubject, async (ctx) => {
    const clientId = await client(ctx);
    const body = parse(subjectRequestSchema, await readJson(ctx, 4096));
    const stream = await streamOf(clientId, body.stream_id);
    // Any subject of the stream may be removed, whether or not the client may still hear about it.
    const accountId = await subjectAccount(lookup, body.subject, true);
    if (accountId) await streams.removeSubject(stream.id, accountId);
    ctx.status = 204;
  });

  router.post(ssfPaths.verification, async (ctx) => {
    const clientId = await client(ctx);
    const body = parse(verifySchema, await readJson(ctx, 4096));
    const stream = await streamOf(clientId, body.stream_id);
    if (!await streams.markVerification(stream.id, MIN_VERIFICATION_INTERVAL)) {
      ctx.set('Retry-After', String(MIN_VERIFICATION_INTERVAL));
      throw new ApiError(429, 'too_many_requests', `a verification event may be asked for at most every ${MIN_VERIFICATION_INTERVAL} s`);
    }
    await outbox.verification(stream.id, body.state);
    ctx.status = 204;
  });

  router.post(`${ssfPaths.poll}/:id`, async (ctx) => {
    const clientId = await client(ctx);
    const stream = await streamOf(clientId, ctx.params.id);
    if (stream.method !== POLL_METHOD) throw new ApiError(400, 'invalid_request', 'this stream is delivered by push');
    const body = parse(pollRequestSchema, await readJson(ctx, 256 * 1024));
    let longPoll: LongPoll | undefined;
    if (deps.heldPolls) {
      const ended: (() => void)[] = [];
      const signal = { aborted: false, onAbort: (f: () => void) => { ended.push(f); } };
      ctx.res.once('close', () => { signal.aborted = true; for (const f of ended) f(); });
      longPoll = { held: deps.heldPolls, waitMs: config.VIGIL_SSF_POLL_WAIT_SECONDS * 1000, signal };
    }
    try {
      ctx.body = await pollEvents(deps.db, deps.signer, stream, body, longPoll);
    } catch (err) {
      if (!(err instanceof TooManyHeldPolls)) throw err;
      ctx.set('Retry-After', '1');
      throw new ApiError(429, 'too_many_requests', `${err.message}: poll again when one has answered`);
    }
  });

  return router;
}

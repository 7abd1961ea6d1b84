import Router from '@koa/router';
import { ApiError, jsonApiErrors } from '../http/api-error.ts';
import type { Context } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { AuditLog } from '../audit/index.ts';
import type { Logger } from '../observability/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import { FormError, readJson } from '../http/form.ts';
import {
  authenticateToken, bearerToken, BearerError, DEVICES_MANAGE_SCOPE, DEVICES_SCOPE, devicesResource, requireScope, type Caller,
} from './auth.ts';
import { evaluatePosture, type PosturePolicy } from './policy.ts';
import type { DevicePosture } from '../risk/index.ts';
import { DeviceRegistry, DuplicateDeviceKeyError, TooManyDevicesError, type Device } from './registry.ts';
import { DeviceKeyError, parseMdmReport, PostureReportError, validateDeviceKey, verifyPostureReport, type VerifiedReport } from './report.ts';

export interface DeviceRoutesDeps {
  config: Config;
  provider: () => Provider;
  accounts: AccountStore;
  audit: AuditLog;
  devices: DeviceRegistry;
  /** The current posture policy (reloaded on SIGHUP). */
  policy: () => PosturePolicy;
  logger: Logger;
  /** Told of every accepted report: the continuous check may end the device's sessions at once. */
  onPosture?: (device: Device, posture: DevicePosture, previous: DevicePosture) => Promise<void>;
  /** Rejected posture reports per client address (anyone may post one: it is a credential check). */
  reportLimiter: AttemptLimiter;
  /** Epoch ms; tests may pin it. */
  now?: () => number;
}

const DEVICE_ID = /^dev_[A-Za-z0-9_-]{22}$/;
const NAME = /^[^\p{Cc}]{1,100}$/u;

const notFound = () => new ApiError(404, 'not_found', 'no such device');

/** /devices: a person's registered devices and their posture; MDM clients manage any device. */
export function deviceRoutes(deps: DeviceRoutesDeps): Router {
  const router = new Router({ prefix: '/devices' });
  const { devices, audit } = deps;
  const now = deps.now ?? Date.now;
  const realm = devicesResource(deps.config);

  const view = (d: Device) => ({
    id: d.id,
    name: d.name,
    accountId: d.accountId,
    jkt: d.jkt,
    publicJwk: d.publicJwk,
    createdAt: d.createdAt.toISOString(),
    lastReportAt: d.lastReportAt === undefined ? null : new Date(d.lastReportAt).toISOString(),
    lastReportSource: d.lastReportSource ?? null,
    lastReport: d.lastReport ?? null,
    posture: evaluatePosture(d.lastReport, d.lastReportAt, now(), deps.policy(), d.externalCompliance),
  });

  const record = (entry: Parameters<AuditLog['append']>[0]) =>
    audit.append(entry).catch((err) => deps.logger.error({ err }, 'audit write failed'));

  const actorOf = (caller: Caller | undefined, fallback: string) => caller === undefined ? fallback : caller.kind === 'person' ? caller.accountId : caller.clientId;

  /** A person needs `devices` (own devices only); a client needs `devices:manage` (any device). */
  function authorize(caller: Caller): void {
    requireScope(caller, caller.kind === 'person' ? DEVICES_SCOPE : DEVICES_MANAGE_SCOPE);
  }

  async function caller(ctx: Context): Promise<Caller> {
    const token = bearerToken(ctx);
    if (token === undefined) throw new BearerError(401, undefined, 'an access token for the devices API is required');
    const c = await authenticateToken(token, deps);
    authorize(c);
    return c;
  }

  /** The device, if the caller may act on it; otherwise 404 (a person does not learn others' ids). */
  async function deviceFor(c: Caller | undefined, id: string): Promise<Device> {
    if (!DEVICE_ID.test(id)) throw notFound();
    const device = await devices.find(id);
    if (!device) throw notFound();
    if (c?.kind === 'person' && device.accountId !== c.accountId) throw notFound();
    return device;
  }

  // Errors of this API: RFC 6750 for tokens, JSON { error, error_description } for the rest.
  router.use(jsonApiErrors(realm));

  router.get('/', async (ctx) => {
    const c = await caller(ctx);
    const list = await devices.list(c.kind === 'person' ? c.accountId : undefined);
    ctx.body = { devices: list.map(view) };
  });

  router.post('/', async (ctx) => {
    const c = await caller(ctx);
    const body = await readJson(ctx, 16 * 1024);
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    if (!NAME.test(name)) throw new ApiError(400, 'invalid_request', 'name must be 1 to 100 characters, without control characters');
    let accountId: string;
    if (c.kind === 'person') {
      if (body.accountId !== undefined && body.accountId !== c.accountId) throw new ApiError(403, 'forbidden', 'a person registers devices for themselves only');
      accountId = c.accountId;
    } else {
      if (typeof body.accountId !== 'string' || body.accountId.length > 200) throw new ApiError(400, 'invalid_request', 'an MDM client must name the owner in accountId');
      const owner = await deps.accounts.findById(body.accountId);
      if (!owner) throw new ApiError(400, 'invalid_request', 'accountId is not a known account');
      accountId = owner.id;
    }
    let key;
    try {
      key = await validateDeviceKey(body.jwk);
    } catch (err) {
      if (err instanceof DeviceKeyError) throw new ApiError(400, 'invalid_jwk', err.message);
      throw err;
    }
    let device: Device;
    try {
      device = await devices.register(accountId, name, key);
    } catch (err) {
      if (err instanceof DuplicateDeviceKeyError) throw new ApiError(409, 'device_key_in_use', err.message);
      if (err instanceof TooManyDevicesError) throw new ApiError(409, 'too_many_devices', err.message);
      throw err;
    }
    await record({
      actor: actorOf(c, 'unknown'), action: 'device.registered', subject: device.id, ip: ctx.state.clientIp, outcome: 'success',
      details: { account: accountId, name, jkt: device.jkt, via: c.kind === 'client' ? `mdm:${c.clientId}` : c.clientId },
    });
    ctx.status = 201;
    ctx.set('Location', `/devices/${device.id}`);
    ctx.body = view(device);
  });

  router.get('/:id', async (ctx) => {
    const c = await caller(ctx);
    ctx.body = view(await deviceFor(c, ctx.params.id));
  });

  router.delete('/:id', async (ctx) => {
    const c = await caller(ctx);
    const device = await deviceFor(c, ctx.params.id);
    if (!await devices.remove(device.id)) throw notFound();
    await record({
      actor: actorOf(c, 'unknown'), action: 'device.removed', subject: device.id, ip: ctx.state.clientIp, outcome: 'success',
      details: { account: device.accountId, jkt: device.jkt, via: c.kind === 'client' ? `mdm:${c.clientId}` : c.clientId },
    });
    ctx.status = 204;
  });

  router.post('/:id/posture', async (ctx) => {
    const id = ctx.params.id;
    const ip = ctx.state.clientIp as string;
    const limit = await deps.reportLimiter.check(ip);
    if (limit.locked) {
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      ctx.status = 429;
      ctx.body = { error: 'invalid_request', error_description: `too many rejected posture reports from this address; try again in ${limit.retryAfterSeconds} s` };
      return;
    }
    const token = bearerToken(ctx);
    // A signed report authenticates itself (the device key); a token, when sent, must be valid.
    let c: Caller | undefined;
    if (token !== undefined) {
      c = await authenticateToken(token, deps);
      authorize(c);
    }
    // The device as read for the check, once: the posture before this report, and whether a rejection is audited.
    let checked: Device | undefined;
    const rejected = async (reason: string, message: string) => {
      await deps.reportLimiter.fail(ip);
      // Anyone may post here: without a token, only rejections for a registered device reach the
      // audit trail (junk for made-up ids goes to the log), so strangers cannot flood the trail.
      if (c === undefined && !checked && !(DEVICE_ID.test(id) && await devices.find(id))) {
        deps.logger.info({ device: id.slice(0, 64), reason }, 'posture report for an unknown device refused');
        return;
      }
      await record({
        actor: actorOf(c, id.slice(0, 64)), action: 'device.posture_rejected', subject: id.slice(0, 64), ip: ctx.state.clientIp, outcome: 'denied',
        details: { reason, message },
      });
    };
    let report: VerifiedReport;
    let source: 'device' | 'mdm';
    try {
      const body = await readJson(ctx, 16 * 1024);
      const policy = deps.policy();
      const options = { issuer: deps.config.ISSUER, now: now(), freshnessSeconds: policy.freshnessSeconds, maxClockSkewSeconds: policy.maxClockSkewSeconds };
      if (typeof body.report === 'string') {
        source = 'device';
        report = await verifyPostureReport(body.report, {
          ...options,
          deviceId: id,
          findDevice: async (deviceId) => {
            if (!DEVICE_ID.test(deviceId)) return undefined;
            const device = await devices.find(deviceId);
            if (device && c?.kind === 'person' && device.accountId !== c.accountId) return undefined;
            return (checked = device);
          },
        });
      } else if (typeof body.report === 'object' && body.report !== null && !Array.isArray(body.report)) {
        if (c === undefined) throw new BearerError(401, undefined, 'a plain JSON report needs an MDM client\'s access token');
        if (c.kind !== 'client') throw new BearerError(403, 'insufficient_scope', 'plain JSON reports come from MDM clients (client_credentials with devices:manage); a device signs its report', DEVICES_MANAGE_SCOPE);
        source = 'mdm';
        checked = await deviceFor(c, id).catch(() => {
          throw new PostureReportError('unknown_device', 'no registered device has this id');
        });
        report = parseMdmReport(body.report, checked, options);
      } else {
        throw new PostureReportError('invalid_report', 'the body must be { "report": "<compact JWS>" } from a device, or { "report": { …posture fields } } from an MDM client');
      }
    } catch (err) {
      if (err instanceof PostureReportError) await rejected(err.code, err.message);
      else if (err instanceof FormError) await rejected('invalid_request', err.message);
      else if (err instanceof BearerError) await rejected(err.error ?? 'invalid_token', err.message);
      throw err;
    }
    const device = await devices.recordReport(report, source);
    if (!device) {
      const err = new PostureReportError('replayed_report', 'the report is not newer than the last accepted report of this device (replayed or out of order)');
      await rejected(err.code, err.message);
      throw err;
    }
    const shown = view(device);
    await record({
      actor: actorOf(c, device.id), action: 'device.posture_accepted', subject: device.id, ip: ctx.state.clientIp, outcome: 'success',
      details: { account: device.accountId, source, ...(c?.kind === 'client' ? { client: c.clientId } : {}), jti: report.jti ?? null,
        reportedAt: new Date(report.reportedAt).toISOString(), compliant: shown.posture.compliant, reasons: shown.posture.reasons },
    });
    await deps.onPosture?.(device, shown.posture, checked ? view(checked).posture : shown.posture);
    ctx.body = shown;
  });

  return router;
}

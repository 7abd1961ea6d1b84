/**
 * /scim/v2: the SCIM 2.0 service (RFC 7644) for provisioning clients (docs/scim.md). Bodies are
 * JSON (application/scim+json or application/json, at most 64 KiB); answers are
 * application/scim+json, errors RFC 7644 §3.12 error JSON (RFC 6750 challenges for tokens).
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { AccountStore } from '../identity/index.ts';
import type { AttemptLimiter } from '../limits/index.ts';
import type { Logger } from '../observability/index.ts';
import { BearerError, bearerToken } from '../http/bearer.ts';
import { FormError, readBody } from '../http/form.ts';
import { storeOutage } from '../store/index.ts';
import { authenticateScim, scimResource } from './auth.ts';
import { resourceTypes, schemas, serviceProviderConfig } from './discovery.ts';
import { ScimError } from './errors.ts';
import { applyPatch } from './patch.ts';
import { sortResources } from './sort.ts';
import type { ScimCaller, ScimUsers } from './service.ts';
import type { ScimGroupService } from './group-service.ts';
import type { ProvisioningTokens } from './provisioning-tokens.ts';
import { patchGroup, readGroup, type GroupInput } from './groups.ts';
import { ENTERPRISE_SCHEMA, LIST_SCHEMA, readUser, type UserInput } from './users.ts';

export interface ScimRouteDeps {
  config: Pick<Config, 'ISSUER'>;
  provider: () => Provider;
  accounts: AccountStore;
  users: ScimUsers;
  groups: ScimGroupService;
  provisioningTokens: ProvisioningTokens;
  logger: Logger;
  /** Requests per provisioning client. */
  requestLimiter: AttemptLimiter;
  /** Refused access tokens per client address. */
  tokenLimiter: AttemptLimiter;
}

const BODY_LIMIT = 64 * 1024;

type Resource = Record<string, unknown>;

/** What the routes of one resource type call. */
interface ResourceOps<I> {
  list(filter: string | undefined): Promise<Resource[]>;
  get(id: string): Promise<Resource>;
  /** A POST or PUT body as the input. */
  read(body: Resource): I;
  create(by: ScimCaller, input: I): Promise<Resource>;
  replace(by: ScimCaller, id: string, input: I, ifMatch: string | undefined): Promise<Resource>;
  /** A PATCH body applied to the current resource (its version checked against `ifMatch`), and that version. */
  patched(id: string, body: Resource, ifMatch: string | undefined): Promise<{ input: I; version: string }>;
  remove(by: ScimCaller, id: string, ifMatch: string | undefined): Promise<void>;
}
const MAX_COUNT = 200;
const ALWAYS = new Set(['id', 'schemas', 'meta']);

/** Only the named top-level attributes (RFC 7644 §3.9), or all but the excluded ones. */
function project(resource: Record<string, unknown>, attributes?: string, excluded?: string): Record<string, unknown> {
  // Top-level attributes only: a sub-attribute or an extension's attribute names its parent.
  const extension = ENTERPRISE_SCHEMA.toLowerCase();
  const topLevel = (name: string) => {
    const n = name.trim().toLowerCase().replace(/^urn:ietf:params:scim:schemas:core:2\.0:user:/, '');
    return n.startsWith(extension) ? extension : n.split('.')[0];
  };
  const names = (list: string) => new Set(list.split(',').map(topLevel));
  if (attributes) {
    const keep = names(attributes);
    return Object.fromEntries(Object.entries(resource).filter(([k]) => ALWAYS.has(k) || keep.has(k.toLowerCase())));
  }
  if (excluded) {
    const drop = names(excluded);
    return Object.fromEntries(Object.entries(resource).filter(([k]) => ALWAYS.has(k) || !drop.has(k.toLowerCase())));
  }
  return resource;
}

function queryText(ctx: Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new ScimError(400, `${name} was sent more than once`, 'invalidValue');
  return value;
}

function positive(ctx: Context, name: string, fallback: number, min: number): number {
  const text = queryText(ctx, name);
  if (text === undefined) return fallback;
  if (!/^-?\d{1,9}$/.test(text)) throw new ScimError(400, `${name} must be an integer`, 'invalidValue');
  return Math.max(min, Number(text));
}

async function readScimJson(ctx: Context): Promise<Record<string, unknown>> {
  if (!ctx.is('application/scim+json', 'application/json')) throw new ScimError(415, 'send the body as application/scim+json');
  let value: unknown;
  try {
    value = JSON.parse(await readBody(ctx, BODY_LIMIT));
  } catch (err) {
    if (err instanceof FormError) throw new ScimError(err.status, 'the request body is too large');
    throw new ScimError(400, 'the request body is not valid JSON', 'invalidSyntax');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ScimError(400, 'the request body must be a JSON object', 'invalidSyntax');
  return value as Record<string, unknown>;
}

export function scimRoutes(deps: ScimRouteDeps): Router {
  const router = new Router({ prefix: '/scim/v2' });
  const realm = scimResource(deps.config);
  const { users, groups } = deps;

  async function answers(ctx: Context, next: Next) {
    ctx.set('Cache-Control', 'no-store');
    try {
      await next();
      if (ctx.body !== undefined && ctx.body !== null) ctx.type = 'application/scim+json; charset=utf-8';
    } catch (err) {
      if (storeOutage(err)) throw err;
      let error: ScimError;
      if (err instanceof BearerError) {
        ctx.set('WWW-Authenticate', err.challenge(realm));
        error = new ScimError(err.status, err.message);
      } else if (err instanceof ScimError) error = err;
      else {
        deps.logger.error({ err }, 'SCIM request failed');
        error = new ScimError(500, 'something went wrong on our side');
      }
      if (error.retryAfter) ctx.set('Retry-After', String(error.retryAfter));
      ctx.status = error.status;
      ctx.body = error.body;
      ctx.type = 'application/scim+json; charset=utf-8';
    }
  }

  /** The provisioning client, within its request budget. */
  async function caller(ctx: Context, next: Next) {
    const ip = ctx.state.clientIp as string;
    const refused = await deps.tokenLimiter.check(ip);
    if (refused.locked) throw new ScimError(429, `too many refused access tokens from this address; try again in ${refused.retryAfterSeconds} s`, undefined, refused.retryAfterSeconds);
    let clientId: string;
    try {
      const token = bearerToken(ctx);
      if (token === undefined) throw new BearerError(401, undefined, 'an access token for the SCIM service is required');
      clientId = await authenticateScim(token, deps);
    } catch (err) {
      if (err instanceof BearerError && err.status === 401 && err.error) await deps.tokenLimiter.fail(ip);
      throw err;
    }
    const budget = await deps.requestLimiter.reserve(clientId);
    if (!budget.allowed) throw new ScimError(429, `too many requests from this client; try again in ${budget.retryAfterSeconds} s`, undefined, budget.retryAfterSeconds);
    ctx.state.scimCaller = { clientId, ip } satisfies ScimCaller;
    await next();
  }
  const by = (ctx: Context) => ctx.state.scimCaller as ScimCaller;
  const ifMatch = (ctx: Context) => ctx.get('if-match') || undefined;
  const withVersion = (ctx: Context, resource: Record<string, unknown>) => {
    ctx.set('ETag', (resource.meta as { version: string }).version);
    ctx.set('Location', (resource.meta as { location: string }).location);
    return resource;
  };

  router.use(answers, caller);

  router.get('/ServiceProviderConfig', (ctx) => { ctx.body = serviceProviderConfig(realm); });
  router.get('/ResourceTypes', (ctx) => { ctx.body = listOf(resourceTypes(realm)); });
  router.get('/ResourceTypes/:id', (ctx) => { ctx.body = one(resourceTypes(realm).find((r) => r.id === ctx.params.id), 'resource type'); });
  router.get('/Schemas', (ctx) => { ctx.body = listOf(schemas(realm)); });
  router.get('/Schemas/:id', (ctx) => { ctx.body = one(schemas(realm).find((s) => s.id === ctx.params.id), 'schema'); });

  /** The six endpoints of a resource type, the same for Users and Groups. */
  function resourceRoutes<I>(path: string, ops: ResourceOps<I>) {
    router.get(path, async (ctx) => {
      const startIndex = positive(ctx, 'startIndex', 1, 1);
      const count = Math.min(positive(ctx, 'count', MAX_COUNT, 0), MAX_COUNT);
      const matched = sortResources(await ops.list(queryText(ctx, 'filter')), queryText(ctx, 'sortBy'), queryText(ctx, 'sortOrder'));
      const page = matched.slice(startIndex - 1, startIndex - 1 + count);
      ctx.body = {
        schemas: [LIST_SCHEMA], totalResults: matched.length, startIndex, itemsPerPage: page.length,
        Resources: page.map((r) => project(r, queryText(ctx, 'attributes'), queryText(ctx, 'excludedAttributes'))),
      };
    });

    router.get(`${path}/:id`, async (ctx) => {
      const resource = withVersion(ctx, await ops.get(ctx.params.id));
      ctx.body = project(resource, queryText(ctx, 'attributes'), queryText(ctx, 'excludedAttributes'));
    });

    router.post(path, async (ctx) => {
      const resource = await ops.create(by(ctx), ops.read(await readScimJson(ctx)));
      ctx.status = 201;
      ctx.body = withVersion(ctx, resource);
    });

    router.put(`${path}/:id`, async (ctx) => {
      ctx.body = withVersion(ctx, await ops.replace(by(ctx), ctx.params.id, ops.read(await readScimJson(ctx)), ifMatch(ctx)));
    });

    router.patch(`${path}/:id`, async (ctx) => {
      const body = await readScimJson(ctx);
      const { input, version } = await ops.patched(ctx.params.id, body, ifMatch(ctx));
      // The version the operations were applied to is the one the change must still find.
      ctx.body = withVersion(ctx, await ops.replace(by(ctx), ctx.params.id, input, version));
    });

    router.delete(`${path}/:id`, async (ctx) => {
      await ops.remove(by(ctx), ctx.params.id, ifMatch(ctx));
      ctx.status = 204;
    });
  }

  resourceRoutes<UserInput>('/Users', {
    list: (filter) => users.list(filter), get: (id) => users.get(id), read: readUser,
    create: (caller, input) => users.create(caller, input), replace: (caller, id, input, v) => users.replace(caller, id, input, v),
    remove: (caller, id, v) => users.remove(caller, id, v),
    patched: async (id, body, v) => {
      const current = await users.forPatch(id, v);
      return { input: readUser(applyPatch(current, body)), version: (current.meta as { version: string }).version };
    },
  });
  resourceRoutes<GroupInput>('/Groups', {
    list: (filter) => groups.list(filter), get: (id) => groups.get(id), read: readGroup,
    create: (caller, input) => groups.create(caller, input), replace: (caller, id, input, v) => groups.replace(caller, id, input, v),
    remove: (caller, id, v) => groups.remove(caller, id, v),
    patched: async (id, body, v) => {
      const current = await groups.forPatch(id, v);
      return { input: patchGroup(current.input, body), version: current.version };
    },
  });

  router.all('/{*rest}', () => { throw new ScimError(404, 'no such endpoint'); });
  return router;
}

function listOf(resources: unknown[]) {
  return { schemas: [LIST_SCHEMA], totalResults: resources.length, startIndex: 1, itemsPerPage: resources.length, Resources: resources };
}

function one<T>(value: T | undefined, what: string): T {
  if (!value) throw new ScimError(404, `no such ${what}`);
  return value;
}

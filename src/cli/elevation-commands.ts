/**
 * `vigil elevation …` and `vigil role eligible`: the operator's side of just-in-time elevation.
 * The operator holds the database, so acts as `cli` for anyone; an approval still names the
 * approver (`--as`), who must hold the approver role and may not be the requester.
 */
import { parseArgs } from 'node:util';
import type { Core } from '../core.ts';
import { ElevationError, ELEVATION_STATUSES, type Elevation, type ElevationActor, type ElevationStatus } from '../elevation/index.ts';
import { roleSchema } from '../identity/index.ts';
import { parse, parseWithOperand, required, UsageError } from './args.ts';
import type { Output } from './commands.ts';

const OPERATOR: ElevationActor = { actor: 'cli', roles: [], operator: true };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const line = (e: Elevation) => `${e.id}\t${e.email}\t${e.role}\t${e.status}${e.expiresAt ? `\tuntil ${e.expiresAt.toISOString()}` : ''}\t${e.reason}`;
const view = (e: Elevation) => ({
  id: e.id, email: e.email, accountId: e.accountId, role: e.role, status: e.status, reason: e.reason, durationSeconds: e.durationSeconds,
  requestedAt: e.requestedAt.toISOString(), approvals: e.approvals.length, approvalsNeeded: e.approvalsNeeded,
  expiresAt: e.expiresAt?.toISOString() ?? null, endedAt: e.endedAt?.toISOString() ?? null,
});

/** The service's refusals are usage errors at the CLI (their message says what is wrong). */
async function refusalsAsUsage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof ElevationError) throw new UsageError(err.message);
    throw err;
  }
}

async function accountOf(core: Core, email: string) {
  const account = await core.accounts.findByEmail(email);
  if (!account) throw new UsageError(`no account with email ${email}`);
  return account;
}

function elevationId(value: string): string {
  if (!UUID.test(value)) throw new UsageError('the elevation id is a UUID (vigil elevation list)');
  return value;
}

function durationSeconds(minutes: string | undefined, seconds: string | undefined): number {
  if ((minutes === undefined) === (seconds === undefined)) throw new UsageError('give the duration with --minutes or --seconds (one of them)');
  const value = minutes ?? seconds!;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1) throw new UsageError(`--${minutes !== undefined ? 'minutes' : 'seconds'} must be a positive whole number`);
  return Number(value) * (minutes !== undefined ? 60 : 1);
}

async function elevationRequest(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { email: { type: 'string' }, role: { type: 'string' }, minutes: { type: 'string' }, seconds: { type: 'string' }, reason: { type: 'string' } });
  const account = await accountOf(core, required(a.email, '--email'));
  const role = required(a.role, '--role');
  const reason = required(a.reason, '--reason');
  const e = await refusalsAsUsage(() => core.elevation.service.request(OPERATOR, { accountId: account.id, role, durationSeconds: durationSeconds(a.minutes, a.seconds), reason }));
  return { data: view(e), text: `${e.status === 'active' ? 'elevated' : 'requested'}: ${line(e)}` };
}

async function elevationApprove(core: Core, argv: string[]): Promise<Output> {
  const a = parseWithOperand(argv, { as: { type: 'string' } }, 'elevation id');
  const approver = await accountOf(core, required(a.as, '--as'));
  const by: ElevationActor = { ...OPERATOR, accountId: approver.id, actor: `cli:${approver.id}`, roles: approver.roles };
  const e = await refusalsAsUsage(() => core.elevation.service.approve(by, elevationId(a.operand)));
  return { data: view(e), text: `approved (${e.approvals.length}/${e.approvalsNeeded}): ${line(e)}` };
}

function ending(verb: 'deny' | 'revoke') {
  return async (core: Core, argv: string[]): Promise<Output> => {
    const a = parseWithOperand(argv, { reason: { type: 'string' } }, 'elevation id');
    const reason = required(a.reason, '--reason');
    const id = elevationId(a.operand);
    const e = await refusalsAsUsage(() => (verb === 'deny' ? core.elevation.service.deny(OPERATOR, id, reason) : core.elevation.service.revoke(OPERATOR, id, reason)));
    return { data: view(e), text: `${e.status}: ${line(e)}` };
  };
}

async function elevationList(core: Core, argv: string[]): Promise<Output> {
  const a = parse(argv, { status: { type: 'string' }, email: { type: 'string' } });
  if (a.status !== undefined && !ELEVATION_STATUSES.includes(a.status as ElevationStatus)) throw new UsageError(`--status must be one of ${ELEVATION_STATUSES.join(', ')}`);
  const accountId = a.email ? (await accountOf(core, a.email)).id : undefined;
  const items = await core.elevation.service.list(OPERATOR, { ...(a.status ? { status: a.status as ElevationStatus } : {}), ...(accountId ? { accountId } : {}) });
  return { data: items.map(view), text: items.map(line).join('\n') || '(no elevations)' };
}

async function roleEligible(core: Core, argv: string[]): Promise<Output> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { withdraw: { type: 'boolean' }, json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (parsed.positionals.length !== 2) throw new UsageError('give the email and the role: vigil role eligible EMAIL ROLE [--withdraw]');
  const [email, role] = parsed.positionals;
  if (!roleSchema.safeParse(role).success) throw new UsageError('roles are lower-case words (a-z, 0-9, _ : -)');
  const account = await accountOf(core, email);
  const service = core.elevation.service;
  const changed = await refusalsAsUsage(() => (parsed.values.withdraw
    ? service.withdrawEligibility(OPERATOR, account.id, role, 'withdrawn with the CLI')
    : service.grantEligibility(OPERATOR, account.id, role, 'granted with the CLI')));
  const eligible = !parsed.values.withdraw;
  return {
    data: { id: account.id, email: account.email, role, eligible, changed, roles: await service.eligibleRoles(account.id) },
    text: `${account.email} is ${eligible ? '' : 'no longer '}eligible for ${role}${changed ? '' : ' (unchanged)'}`,
  };
}

export const ELEVATION_COMMANDS = {
  'elevation request': elevationRequest,
  'elevation approve': elevationApprove,
  'elevation deny': ending('deny'),
  'elevation revoke': ending('revoke'),
  'elevation list': elevationList,
  'role eligible': roleEligible,
};

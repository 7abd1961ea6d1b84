import { ConfigError } from '../config/index.ts';
import { StoreUnavailableError } from '../store/index.ts';
import { AccountError } from '../identity/index.ts';
import { InvitationError } from '../invitations/index.ts';
import type { Logger } from '../observability/index.ts';
import { ControlChannelError } from '../control/index.ts';
import type { Core } from '../core.ts';
import { COMMANDS } from './commands.ts';
import { UsageError } from './args.ts';
import { USAGE } from './usage.ts';

/** What a run of `vigil` prints and exits with, wherever the command ran. */
export interface Reply {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Commands that read files named on the command line, or need no database: always run in the CLI's process. */
export const LOCAL_COMMANDS = new Set(['risk replay', 'policy check', 'policy test']);

/** The command `argv` names and the arguments after its name; undefined when it names none. */
export function resolveCommand(argv: readonly string[]): { name: string; rest: string[] } | undefined {
  const name = commandName(argv);
  if (!COMMANDS[name] && !LOCAL_COMMANDS.has(name)) return undefined;
  return { name, rest: argv.slice(name.split(' ').length) };
}

function commandName(argv: readonly string[]): string {
  // A flag is never part of a command's name (`vigil frobnicate --json` names "frobnicate").
  const second = argv[1]?.startsWith('-') ? '' : (argv[1] ?? '');
  return COMMANDS[argv[0]] ? argv[0] : `${argv[0] ?? ''} ${second}`.trim();
}

export function unknownCommand(argv: readonly string[]): Reply {
  return { exitCode: 2, stdout: '', stderr: `vigil: unknown command "${commandName(argv)}"\n${USAGE}\n` };
}

/** A failure the CLI explains in one line (a usage, settings, store or account problem). */
function expected(err: unknown): boolean {
  return err instanceof UsageError || err instanceof ConfigError || err instanceof StoreUnavailableError || err instanceof AccountError || err instanceof InvitationError
    || err instanceof ControlChannelError;
}

/** What the CLI has always printed for a failure: usage errors exit 2, the rest 1. */
export function errorReply(err: unknown): Reply {
  if (err instanceof UsageError) return { exitCode: 2, stdout: '', stderr: `vigil: ${err.message}\n` };
  if (expected(err)) return { exitCode: 1, stdout: '', stderr: `vigil: ${(err as Error).message}\n` };
  return { exitCode: 1, stdout: '', stderr: `vigil: failed: ${(err as Error).message}\n` };
}

/**
 * Runs a command of COMMANDS against `core`: its text, or its data as JSON with --json.
 * `unexpected` is told of a failure that is not a one-line explanation (a bug, say).
 */
export async function runCommand(core: Core, name: string, rest: string[], unexpected?: (err: unknown) => void): Promise<Reply> {
  try {
    const output = await COMMANDS[name](core, rest);
    const failed = typeof output.data === 'object' && output.data !== null && (output.data as { ok?: boolean }).ok === false;
    return { exitCode: failed ? 1 : 0, stdout: `${rest.includes('--json') ? JSON.stringify(output.data) : output.text}\n`, stderr: '' };
  } catch (err) {
    if (!expected(err)) unexpected?.(err);
    return errorReply(err);
  }
}

/**
 * How the running server carries out a command sent through its control channel: the same
 * commands on its own core, so that their effects (revocations, caches) reach it at once.
 * The migrations were applied when the server opened its core: `migrate` finds none pending.
 */
export function commandsOnRunningServer(core: Core, logger: Logger): (argv: string[]) => Promise<Reply> {
  const running: Core = {
    ...core,
    migrations: { applied: [], current: core.migrations.current },
    close: async () => {
      throw new Error('a command cannot close the running server\'s stores');
    },
  };
  return async (argv) => {
    const command = resolveCommand(argv);
    if (!command || LOCAL_COMMANDS.has(command.name)) return unknownCommand(argv);
    // The name only: the arguments may carry a password, the output a secret.
    const reply = await runCommand(running, command.name, command.rest, (err) => logger.error({ err, command: command.name }, 'a vigil command failed'));
    logger.info({ command: command.name, exitCode: reply.exitCode }, 'ran a vigil command for the CLI');
    return reply;
  };
}

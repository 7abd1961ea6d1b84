import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from './config/index.ts';
import type { Core } from './core.ts';
import type { Logger } from './observability/index.ts';
import type { Reply } from './cli/index.ts';
// The usage text's own file, not the cli module's index: the index loads every command.
import { USAGE } from './cli/usage.ts';

function print(reply: Reply): number {
  process.stdout.write(reply.stdout);
  process.stderr.write(reply.stderr);
  return reply.exitCode;
}

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  // The commands' modules (most of Vigil, the OIDC provider among them) load only for a command.
  const { federationCommand, policyCheck, policyTest, resolveCommand, riskReplay, runCommand, unknownCommand } = await import('./cli/index.ts');
  const { loadConfig } = await import('./config/index.ts');
  const { createLogger } = await import('./observability/index.ts');
  const command = resolveCommand(argv);
  if (!command) return print(unknownCommand(argv));
  // It reads the files it names, relative to this process's directory, and needs no database.
  const writeLine = (line: string) => process.stdout.write(`${line}\n`);
  if (command.name === 'risk replay') return riskReplay(command.rest.filter((arg) => arg !== '--json'), writeLine);
  if (command.name === 'policy check') return policyCheck(command.rest, writeLine);
  if (command.name === 'policy test') return policyTest(command.rest, writeLine);
  const config = loadConfig();
  // The master key and the federation file only: no database.
  if (command.name.startsWith('federation ')) return print(await federationCommand(command.name, command.rest, config, process.stdin));
  const logger = createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, process.stderr as never);
  const reached = await reachDatabase(config, argv, logger);
  if ('reply' in reached) return print(reached.reply);
  const { core } = reached;
  try {
    return print(await runCommand(core, command.name, command.rest));
  } finally {
    await core.close();
  }
}

/** How long a command waits for the process holding the embedded database: a server's start-up, a command's run. */
const HOLDER_WAIT_MS = 30_000;
/** Waits this long before saying why it waits: a server usually opens its channel sooner. */
const QUIET_WAIT_MS = 3_000;

/**
 * The embedded database is one process's alone. With a server running, the server carries the
 * command out (its reply); otherwise the CLI opens it. A server still starting (it holds the
 * database before its control channel listens) or another command running is waited for.
 */
async function reachDatabase(config: Config, argv: string[], logger: Logger): Promise<{ reply: Reply } | { core: Core }> {
  const [{ openCore }, { DataDirInUseError }, { sendToRunningServer }] = await Promise.all([import('./core.ts'), import('./store/index.ts'), import('./control/index.ts')]);
  const started = Date.now();
  let told = false;
  for (;;) {
    if (config.storageMode === 'embedded') {
      const reply = await sendToRunningServer(config.dataDir, argv);
      if (reply) return { reply };
    }
    try {
      return { core: await openCore(config, logger, 'cli') };
    } catch (err) {
      if (!(err instanceof DataDirInUseError) || !err.holder || Date.now() - started > HOLDER_WAIT_MS) throw err;
      if (!told && Date.now() - started > QUIET_WAIT_MS) {
        told = true;
        process.stderr.write(`vigil: waiting for process ${err.holderPid} (${err.holder === 'server' ? 'a server starting on this data directory' : 'another vigil command'}) to ${err.holder === 'server' ? 'open its control channel' : 'finish'}\n`);
      }
      await sleep(100);
    }
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  const { errorReply } = await import('./cli/index.ts');
  process.exitCode = print(errorReply(err));
}

import { loadConfig } from './config/index.ts';
import { createLogger } from './observability/index.ts';
import { openCore } from './core.ts';
import { sendToRunningServer } from './control/index.ts';
import { errorReply, resolveCommand, riskReplay, runCommand, unknownCommand, USAGE, type Reply } from './cli/index.ts';

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
  const command = resolveCommand(argv);
  if (!command) return print(unknownCommand(argv));
  // It reads the files it names, relative to this process's directory, and needs no database.
  if (command.name === 'risk replay') return riskReplay(command.rest.filter((arg) => arg !== '--json'), (line) => process.stdout.write(`${line}\n`));
  const config = loadConfig();
  // The embedded database is the running server's alone: the server carries the command out.
  if (config.storageMode === 'embedded') {
    const reply = await sendToRunningServer(config.dataDir, argv);
    if (reply) return print(reply);
  }
  const core = await openCore(config, createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, process.stderr as never));
  try {
    return print(await runCommand(core, command.name, command.rest));
  } finally {
    await core.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  process.exitCode = print(errorReply(err));
}

import { ConfigError, loadConfig } from './config/index.ts';
import { StoreUnavailableError } from './store/index.ts';
import { createLogger } from './observability/index.ts';
import { openCore } from './core.ts';
import { COMMANDS } from './cli/commands.ts';
import { UsageError } from './cli/args.ts';
import { riskReplay } from './cli/risk-replay.ts';
import { AccountError } from './identity/index.ts';

const USAGE = `usage: vigil <command> [options] [--json]

  migrate                                   apply pending database migrations
  user create --email E [--password P] [--name N] [--role R]...
  user list
  user disable --email E                    (also revokes every grant and session it holds)
  user set-roles --email E (--role R... | --clear)   (a CAEP token-claims-change goes to its streams)
  user require-step-up --email E [--acr ACR] [--reason TEXT]
  client create --name N [--redirect-uri U]... [--public] [--grant-type G]...
                [--application-type web|native] [--post-logout-redirect-uri U]...
                [--backchannel-logout-uri U] [--allow-resource URI]... [--introspect-any]
                [--default-acr ACR] [--forward-end-user]
                [--resource-server [--resource URI] [--scope S]... [--token-format jwt|opaque]
                 [--access-token-ttl SECONDS]]
  registration-token create [--expires-in SECONDS]
  keys rotate | keys list
  audit verify
  risk replay --input events.jsonl [--policy FILE]   (no database needed; format in docs/risk.md)

Uses the same settings (environment, config/vigil.json) as the server.`;

async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  // A flag is never part of a command's name (`vigil frobnicate --json` names "frobnicate").
  const second = argv[1]?.startsWith('-') ? '' : (argv[1] ?? '');
  const name = COMMANDS[argv[0]] ? argv[0] : `${argv[0]} ${second}`.trim();
  const command = COMMANDS[name];
  if (!command && name !== 'risk replay') {
    process.stderr.write(`vigil: unknown command "${name}"\n${USAGE}\n`);
    return 2;
  }
  const rest = argv.slice(name.split(' ').length);
  if (name === 'risk replay') return riskReplay(rest.filter((arg) => arg !== '--json'), (line) => process.stdout.write(`${line}\n`));
  const json = rest.includes('--json');
  const config = loadConfig();
  const core = await openCore(config, createLogger(config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, process.stderr as never));
  try {
    const output = await command!(core, rest);
    process.stdout.write(`${json ? JSON.stringify(output.data) : output.text}\n`);
    const failed = typeof output.data === 'object' && output.data !== null && (output.data as { ok?: boolean }).ok === false;
    return failed ? 1 : 0;
  } finally {
    await core.close();
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`vigil: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof ConfigError || err instanceof StoreUnavailableError || err instanceof AccountError) {
    process.stderr.write(`vigil: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    process.stderr.write(`vigil: failed: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}

export { COMMANDS, type Output } from './commands.ts';
export { UsageError } from './args.ts';
export { riskReplay } from './risk-replay.ts';
export { policyCheck, policyTest } from './policy.ts';
export { USAGE } from './usage.ts';
export { commandsOnRunningServer, errorReply, LOCAL_COMMANDS, resolveCommand, runCommand, unknownCommand, type Reply } from './run.ts';

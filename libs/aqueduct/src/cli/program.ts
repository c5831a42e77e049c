import { Command } from 'commander';
import { registerAccess } from './commands/access.command';
import { registerEndpoints } from './commands/endpoints.command';
import { registerEvents } from './commands/events.command';
import { registerSend } from './commands/send.command';
import { registerSimulate } from './commands/simulate.command';

/** The `nestjs-aqueduct` command line. */
export function createProgram(): Command {
  const program = new Command('nestjs-aqueduct')
    .description(
      'Develop against Aqueduct webhooks: send test events, simulate Aqueduct, inspect and replay stored events, check access',
    )
    .showHelpAfterError('(add --help for usage)')
    // Before the subcommands are added, so they inherit it: errors reach main() for the exit code.
    .exitOverride();
  registerSend(program);
  registerSimulate(program);
  registerEvents(program);
  registerEndpoints(program);
  registerAccess(program);
  return program;
}

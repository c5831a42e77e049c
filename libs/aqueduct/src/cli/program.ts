import { Command } from 'commander';
import { registerAccess } from './commands/access.command';
import { registerEndpoints } from './commands/endpoints.command';
import { registerEvents } from './commands/events.command';
import { registerSend } from './commands/send.command';
import { registerSimulate } from './commands/simulate.command';
import { printableLines } from '../utils/printable';
import { packageVersion } from './version';

/** The `nestjs-aqueduct` command line. */
export function createProgram(): Command {
  const program = new Command('nestjs-aqueduct')
    .description(
      'Develop against Aqueduct webhooks: send test events, simulate Aqueduct, inspect and replay stored events, check access',
    )
    .version(packageVersion(), '-V, --version', 'print the version of nestjs-aqueduct')
    .showHelpAfterError('(add --help for usage)')
    // Usage errors quote the arguments, which a script may have taken from an event: escaped.
    .configureOutput({ outputError: (text, write) => write(printableLines(text)) })
    // Before the subcommands are added, so they inherit it (and the output settings): errors
    // reach main() for the exit code.
    .exitOverride();
  registerSend(program);
  registerSimulate(program);
  registerEvents(program);
  registerEndpoints(program);
  registerAccess(program);
  return program;
}

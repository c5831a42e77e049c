#!/usr/bin/env node
import 'reflect-metadata';
import { CommanderError } from 'commander';
import { CliError, ExitCode } from './cli-output';
import { createProgram } from './program';
import { printable, printableLines } from '../utils/printable';

async function main(): Promise<void> {
  const program = createProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors were already printed.
      process.exitCode = error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
      return;
    }
    if (error instanceof CliError) {
      // Messages can quote Aqueduct's API, the database or a stored event: escaped.
      process.stderr.write(`error: ${printable(error.message)}\n`);
      process.exitCode = error.exitCode;
      return;
    }
    process.stderr.write(`error: ${printableLines((error as Error)?.stack ?? String(error))}\n`);
    process.exitCode = ExitCode.Failed;
  }
}

void main();

import type { Command } from 'commander';
import { registerAccessCheck } from './access-check.command';
import { registerAccessShow } from './access-show.command';

/** `access show|check`: what the access ledger says about a customer, at a moment. */
export function registerAccess(program: Command): void {
  const access = program
    .command('access')
    .description("a customer's access to products: the ledger, its timeline and provisionings");
  registerAccessShow(access);
  registerAccessCheck(access);
}

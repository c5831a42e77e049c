import { AqueductAdminError } from '../../admin/aqueduct-admin.errors';
import { CliError, ExitCode } from '../cli-output';

/** Unknown events, deliveries not in the state asked for, events still invalid: exit 1. */
export function notFound(error: Error): never {
  if (error instanceof AqueductAdminError) {
    throw new CliError(error.message, ExitCode.Failed);
  }
  throw error;
}

import { MAX_ID_LENGTH } from '../events/provisioning.dto';

/**
 * Whether the ledger can hold this customer id. Intake quarantines ids longer than
 * `MAX_ID_LENGTH` characters (up to twice as many UTF-16 units) and Postgres' text refuses NUL: an
 * id the caller chose otherwise (a route parameter) has no access, and is no reason to ask
 * Postgres, whose refusal would read as an outage, nor to keep it in memory.
 */
export function isLedgerCustomerId(customerId: string): boolean {
  return customerId.length <= 2 * MAX_ID_LENGTH && !customerId.includes('\u0000');
}

import type { AccessTransition } from './access-transitions';
import type { Pair } from './aqueduct-ledger.rows';

/** What one ledger write touched. */
export interface LedgerChange {
  /** The (customer, product) pairs whose access was re-evaluated. */
  pairs: Pair[];
  /** Whether the event changed its provisioning (false for an older or repeated one). */
  applied: boolean;
  /** The `access.*` events written. */
  transitions: AccessTransition[];
}

/** What one batch of the expiry job did. */
export interface SweepBatch {
  /** False when another instance held the sweep lock. */
  won: boolean;
  evaluated: number;
  transitions: AccessTransition[];
}

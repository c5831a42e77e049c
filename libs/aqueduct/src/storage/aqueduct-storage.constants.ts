/** Advisory lock key taken by the shipped migrations (any stable 64-bit number of our own). */
export const AQUEDUCT_MIGRATION_LOCK = 7_310_420_001;

/**
 * Advisory lock key of retention: one instance deletes at a time. (The expiry job's is
 * 7_310_420_002, `SWEEP_LOCK` of the access folder.)
 */
export const RETENTION_LOCK = 7_310_420_003;

/**
 * Postgres channel on which a change to a customer's access is announced (payload: the customer
 * id), by a trigger on `aqueduct_access`: whatever process or statement made the change.
 */
export const ACCESS_CHANNEL = 'aqueduct_access';

/**
 * Postgres channel each instance NOTIFYs from an ordinary pooled connection and expects back on
 * its listening one: the proof that notifications reach it (not so behind a pooler in
 * transaction mode, where LISTEN lands on whichever server connection the statement borrowed).
 */
export const ECHO_CHANNEL = 'aqueduct_echo';

/** The trigger that sends it; the start-up check looks for it. */
export const ACCESS_CHANGE_TRIGGER = 'aqueduct_access_notify_change';

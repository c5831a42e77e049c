/** Advisory lock key taken by the shipped migrations (any stable 64-bit number of our own). */
export const AQUEDUCT_MIGRATION_LOCK = 7_310_420_001;

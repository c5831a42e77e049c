const HOUR_MS = 3_600_000;

/**
 * When Aqueduct makes each attempt at a delivery, counted from its first: it retries a refused one
 * 1 h, 6 h, 12 h and 24 h after the previous failure, then disables the endpoint.
 */
export const AQUEDUCT_ATTEMPTS_MS: readonly number[] = [0, 1, 7, 19, 43].map((h) => h * HOUR_MS);

/** Room for Aqueduct's scheduling (and an attempt that timed out) around each attempt's moment. */
export const RETRY_SLACK_MS = 900_000;

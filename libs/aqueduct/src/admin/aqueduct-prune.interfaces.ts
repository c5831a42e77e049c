/** What to prune: `AqueductEventCommands.prune()`, the retention job, `events prune`. */
export interface PruneRequest {
  /** Events received longer ago than this, in ms, may be deleted. */
  olderThanMs: number;
  /**
   * Events deleted per transaction.
   * @default 5000
   */
  batchSize?: number;
  /**
   * After each batch, pause for this multiple of the time it took (see
   * `RetentionOptions.pauseRatio`).
   * @default 0.3
   */
  pauseRatio?: number;
  /**
   * Quarantined events too.
   * @default false
   */
  includeQuarantined?: boolean;
  /**
   * Events with a dead delivery too.
   * @default false
   */
  includeDead?: boolean;
  /**
   * Count what would be deleted, delete nothing.
   * @default false
   */
  dryRun?: boolean;
  /** Once aborted, no further batch starts (the one running commits). */
  signal?: AbortSignal;
}

/** What a prune did, or (dry run) would do. */
export interface PruneResult {
  /**
   * False when this call never held retention's lock (another instance was pruning, or `signal`
   * was aborted first), so it deleted nothing. Always true for a dry run.
   */
  ran: boolean;
  dryRun: boolean;
  /** Events received before this were considered. */
  cutoff: Date;
  /** Events deleted (or that would be). */
  events: number;
  /** Their deliveries, deleted with them (or that would be). */
  deliveries: number;
  /** Transactions that held the lock (0 for a dry run). */
  batches: number;
}

/** How stored events reach listeners. */
export interface DispatchOptions {
  /**
   * Run listeners in this instance. Turn off in instances that should only receive.
   * @default true
   */
  enabled?: boolean;
  /**
   * Deliveries this instance runs at the same time. Never more than the DataSource's pool size
   * less 3 (the notification connection, the webhook route's insert, the dispatcher's claims), so
   * listeners each holding a pooled connection cannot leave the webhook route none.
   * @default 10
   */
  concurrency?: number;
  /**
   * Runs of one delivery before it is dead-lettered.
   * @default 8
   */
  maxAttempts?: number;
  /**
   * First retry delay; each next one doubles (with jitter) up to `retryMaxDelayMs`. With the
   * defaults, 8 attempts span about an hour.
   * @default 30000
   */
  retryBaseDelayMs?: number;
  /**
   * Longest delay between two attempts.
   * @default 3600000 (1 hour)
   */
  retryMaxDelayMs?: number;
  /**
   * How long a claimed delivery stays reserved. Renewed while the listener runs; when a process
   * dies mid-listener, another instance retakes the delivery once it expires.
   * @default 60000
   */
  leaseMs?: number;
  /**
   * Safety-net poll for due work (retries, expired leases, missed notifications).
   * @default 1000
   */
  pollIntervalMs?: number;
  /**
   * On shutdown, how long to wait for running listeners before handing their deliveries back.
   * @default 10000
   */
  shutdownTimeoutMs?: number;
  /**
   * Longest run of a listener. One that has not settled by then (a call to a service that never
   * answers) counts as a failed attempt: retried with backoff, dead-lettered after `maxAttempts`.
   * Without it, its lease would be renewed forever, and enough of them would take every slot of
   * `concurrency`, built-in listeners' included. The run itself cannot be stopped: a listener that
   * settles later does so unheard (its idempotency key covers the retry).
   * @default 600000 (10 minutes)
   */
  listenerTimeoutMs?: number;
  /**
   * The fast path: the instance that receives an event stores its deliveries leased to itself and
   * runs them right after the answer (and the instance whose ledger writes an `access.*` event
   * runs its deliveries right after that commit), keeping up to this many per slot of
   * `concurrency` waiting in memory; past that, deliveries are stored pending for any instance. Lower it when listeners are
   * slow and other instances should share a burst sooner; 0 turns the fast path off (every delivery
   * is claimed, by any instance).
   * @default 50
   */
  localBacklogPerSlot?: number;
}

/** The scheduled job that ends access once `gracePeriodEndDate` (else `endDate`) has passed. */
export interface ExpiryOptions {
  /**
   * Run the job in this instance. Every instance may run it: one wins each tick.
   * @default true
   */
  enabled?: boolean;
  /**
   * Cron expression of the job (seconds field optional), as the `cron` package (and
   * `@nestjs/schedule`) take it. The job runs on its own timer: the host needs no ScheduleModule.
   * @default '* * * * *' (every minute)
   */
  cron?: string;
  /**
   * Entitlements handled per transaction.
   * @default 500
   */
  batchSize?: number;
}

/**
 * The scheduled job that deletes old events (with their deliveries). Off unless enabled: deleting
 * a host's data is its decision. What is kept whatever the age: an event with a delivery not
 * done (pending, running, waiting for a retry), a quarantined event and an event with a dead
 * delivery (unless `includeQuarantined` / `includeDead`), an event the access ledger refers to
 * (a provisioning's last event, a paid invoice's event). Mail records (`aqueduct_emails`) are
 * never deleted: they stop a replay from mailing twice.
 */
export interface RetentionOptions {
  /**
   * Run the job in this instance. Off by default: the module never deletes a host's data unless
   * told to. Every instance may run it: one wins each batch.
   * @default false
   */
  enabled?: boolean;
  /**
   * Age (from `received_at`) past which an event may be deleted, in days. Keep it above Aqueduct's
   * retry schedule (about two days): a redelivery of a deleted event is no longer recognised as a
   * duplicate, and would be stored and delivered again.
   * @default 30
   */
  olderThanDays?: number;
  /**
   * Cron expression of the job (seconds field optional), as the `cron` package (and
   * `@nestjs/schedule`) take it. The job runs on its own timer: the host needs no ScheduleModule.
   * @default '17 * * * *' (every hour, at minute 17)
   */
  cron?: string;
  /**
   * Events deleted per transaction: a batch holds its row locks and its share of WAL until it
   * commits, so it stays short however much there is to delete.
   * @default 5000
   */
  batchSize?: number;
  /**
   * After each batch the job pauses for this multiple of the time the batch took, leaving the
   * database to the live traffic meanwhile: at 0.3 a prune takes about 30 % longer and the
   * webhook route keeps more of its speed while it runs. 0 deletes without pausing.
   * @default 0.3
   */
  pauseRatio?: number;
  /**
   * Also delete quarantined events (authentic events never delivered to a listener, waiting for
   * an operator to reprocess or dismiss them). Dismissed events are deleted either way.
   * @default false
   */
  includeQuarantined?: boolean;
  /**
   * Also delete events with a dead delivery (a listener that gave up, waiting for a redrive).
   * @default false
   */
  includeDead?: boolean;
}

/** When operators are alerted (health degraded, a metric, one mail to `email.alertTo`). */
export interface AlertOptions {
  /**
   * Requests failing verification, with none verified in between, that open the `verification`
   * alert (a wrong secret or scheme: Aqueduct disables the endpoint after its retries).
   * @default 5
   */
  verificationFailures?: number;
  /**
   * The window those failures are counted in.
   * @default 600000 (10 minutes)
   */
  verificationWindowMs?: number;
  /**
   * How long past a known paid period's end (when Aqueduct fires its `provisioning.end`) nothing
   * at all may have arrived from Aqueduct before the `silence` alert opens: Aqueduct disabled the
   * endpoint after failed deliveries (a proxy's 502, an expired certificate: nothing this app
   * sees), or cannot reach it. Checked every 10 minutes by each instance, with the ledger on.
   * `0` turns it off.
   * @default 7200000 (2 hours: past Aqueduct's first retry, an hour after a refused delivery)
   */
  silenceAfterMs?: number;
}

/** The periodic check that Aqueduct's endpoint list points at this app (needs `apiKey` and `publicUrl`). */
export interface EndpointCheckOptions {
  /**
   * Check at start-up (in the background: start-up never waits for Aqueduct's API) and every
   * `intervalMs`: an endpoint must point at `publicUrl` and send every Aqueduct event type this
   * app listens to, else the `endpoint` alert opens (health degraded, one mail to
   * `email.alertTo`). `EndpointCheck.check()` runs it on demand either way.
   * @default true when `apiKey` and `publicUrl` are both set, else false
   */
  enabled?: boolean;
  /**
   * Time between two checks, in ms (1000 to 2147483647).
   * @default 10800000 (3 hours)
   */
  intervalMs?: number;
}

/** Thresholds of `AqueductHealthIndicator`. */
export interface HealthOptions {
  /**
   * Down when the oldest due delivery has waited longer than this.
   * @default 600000 (10 minutes)
   */
  maxPendingAgeMs?: number;
  /**
   * Down when more deliveries than this are dead.
   * @default undefined (dead deliveries do not make the instance unhealthy)
   */
  maxDeadDeliveries?: number;
}

/** Prometheus metrics, through the optional `prom-client` package. */
export interface MetricsOptions {
  /** @default true when prom-client is installed */
  enabled?: boolean;
  /** A prom-client `Registry`. @default prom-client's global registry */
  registry?: unknown;
  /** Prefix of every series name. @default 'aqueduct_' */
  prefix?: string;
}

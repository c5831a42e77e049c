import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LRUCache } from 'lru-cache';
import { DataSource } from 'typeorm';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { ACCESS_CHANGE_TRIGGER, ACCESS_CHANNEL } from '../storage/aqueduct-storage.constants';
import { PostgresNotifications } from '../storage/postgres-notifications';
import { withTimeout } from '../utils/with-timeout';

/** One product's access, as a check needs it. */
export interface ProductAccess {
  /**
   * The covered spans, oldest first, as `[from, until, from, until, …]` in ms since the epoch:
   * paid and grace stretches that touch are one span. Access is a lookup of the moment asked.
   */
  spans: readonly number[];
  awaitingPayment: boolean;
  /** Users the provisionings granting access carry (as the ledger last evaluated them). */
  seats: number;
}

/** A customer's access to each product a provisioning ever named. */
export type CustomerAccess = ReadonlyMap<string, ProductAccess>;

/** Where an answer came from. */
export type AccessLookupSource = 'cache' | 'database' | 'stale';

export type AccessLookup =
  | { access: CustomerAccess; source: AccessLookupSource }
  | { access: null; source: 'unavailable'; error: string };

/** What the cache knows of its own state (health, metrics, tests). */
export interface AccessCacheState {
  enabled: boolean;
  entries: number;
  maxEntries: number;
  /** `unsupported`: the migration adding the change trigger has not run: entries live `disconnectedTtlMs`. */
  notifications: 'listening' | 'disconnected' | 'unsupported' | 'off';
  database: 'reachable' | 'unreachable';
  /** Since when Postgres has not answered the cache, while it has not. */
  unreachableSince: Date | null;
}

interface Entry {
  access: CustomerAccess;
  /** The answer of a lookup that finds it fresh, made once. */
  hit: AccessLookup;
  /** When the read that filled it started (`Date.now()`): the data is at least this recent. */
  readAt: number;
  /** Filled during one unbroken listening session: any later change would have been told. */
  trusted: boolean;
  session: number;
}

interface Read {
  promise: Promise<CustomerAccess>;
  /** A change was told while the read ran: its result may predate it, so it is not kept. */
  invalidated: boolean;
}

/** Reads after a failure that never settle (a stalled connection) stop blocking a new probe. */
const PROBE_MAX_WAIT_MS = 10_000;

const READ_SQL = `SELECT product_id AS "productId", timeline, awaiting_payment AS "awaitingPayment", orgs
  FROM aqueduct_access WHERE customer_id = $1`;

interface AccessReadRow {
  productId: string;
  timeline: { from: string; until: string }[];
  awaitingPayment: boolean;
  orgs: ProvisioningOrgDto[] | null;
}

/** Whether `spans` cover the instant `t`, and the next instant the answer changes. */
export function spanAt(
  spans: readonly number[],
  t: number,
): { covered: boolean; changesAt: number | null } {
  for (let i = 0; i < spans.length; i += 2) {
    if (t < spans[i]) {
      return { covered: false, changesAt: spans[i] };
    }
    if (t < spans[i + 1]) {
      return { covered: true, changesAt: spans[i + 1] };
    }
  }
  return { covered: false, changesAt: null };
}

/** A stored timeline as spans: segments that touch (paid, then grace) are merged. */
export function toSpans(
  timeline: readonly { from: string | Date; until: string | Date }[],
): number[] {
  const spans: number[] = [];
  const ordered = timeline
    .map((s) => [new Date(s.from).getTime(), new Date(s.until).getTime()] as const)
    .sort((a, b) => a[0] - b[0]);
  for (const [from, until] of ordered) {
    const last = spans.length - 1;
    if (last > 0 && from <= spans[last]) {
      spans[last] = Math.max(spans[last], until);
    } else {
      spans.push(from, until);
    }
  }
  return spans;
}

const seatsOf = (orgs: ProvisioningOrgDto[] | null) =>
  (orgs ?? []).reduce((sum, org) => sum + (Array.isArray(org?.users) ? org.users.length : 0), 0);

/**
 * Each customer's access, in memory: filled on first use, bounded (least recently checked
 * dropped first), and dropped the moment any instance changes it: a trigger on `aqueduct_access`
 * NOTIFYs the customer at commit, and this instance's own ledger writes drop theirs before
 * returning. An entry is trusted only while the notification connection has been up since before
 * it was read; otherwise (connection lost, trigger missing) it lives `disconnectedTtlMs`.
 *
 * When Postgres does not answer within `loadTimeoutMs`, the lookup says so and the caller answers
 * from the entry it has (`stale`) or its fallback; for `retryMs` afterwards no lookup waits for
 * Postgres, except one probe at a time.
 */
@Injectable()
export class AccessCache implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductAccess');
  private readonly config: ResolvedAqueductOptions['access']['cache'];
  private readonly entries?: LRUCache<string, Entry>;
  private readonly reads = new Map<string, Read>();
  /** Bumped each time the notification connection is won or lost. */
  private session = 0;
  private listening = false;
  /** Our LISTEN is in place: before that, being connected says nothing about our channel. */
  private subscribed = false;
  private notifications: AccessCacheState['notifications'] = 'off';
  private unlisten: (() => Promise<void>)[] = [];
  private unreachableSince: number | null = null;
  private retryAt = 0;
  private probe: { started: number; settled: boolean } | null = null;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly postgresNotifications: PostgresNotifications,
    private readonly metrics: AqueductMetrics,
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
  ) {
    this.config = options.access.cache;
    if (this.config) {
      this.entries = new LRUCache<string, Entry>({ max: this.config.maxEntries });
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.entries) {
      return;
    }
    const [trigger] = await this.dataSource.query(
      `SELECT 1 FROM pg_trigger WHERE tgname = $1 AND NOT tgisinternal`,
      [ACCESS_CHANGE_TRIGGER],
    );
    if (!trigger) {
      this.notifications = 'unsupported';
      this.logger.warn(
        `The access change trigger is missing (run the module's migrations, NotifyAqueductAccessChanges1763800008000): ` +
          `cached access is read again every ${this.config && this.config.disconnectedTtlMs} ms`,
      );
      return;
    }
    this.notifications = 'disconnected';
    const off = this.postgresNotifications.onListening((listening) => this.setListening(listening));
    this.unlisten.push(async () => void off());
    this.unlisten.push(
      await this.postgresNotifications.listen(ACCESS_CHANNEL, (customerId) =>
        customerId === '' ? this.clear() : this.invalidate([customerId]),
      ),
    );
    // From here on a notification reaches us whenever the connection is up.
    this.subscribed = true;
    this.setListening(this.postgresNotifications.listening);
  }

  async beforeApplicationShutdown(): Promise<void> {
    const unlisten = this.unlisten.splice(0);
    await Promise.all(unlisten.map((stop) => stop()));
  }

  /**
   * The customer's access: from memory when the entry can be trusted (synchronously: this runs on
   * every request of a paid route), else read from Postgres.
   */
  lookup(customerId: string): AccessLookup | Promise<AccessLookup> {
    const now = Date.now();
    const entry = this.entries?.get(customerId);
    if (entry && this.fresh(entry, now)) {
      return entry.hit;
    }
    return this.readOrFallBack(customerId, now);
  }

  private async readOrFallBack(customerId: string, now: number): Promise<AccessLookup> {
    try {
      return { access: await this.read(customerId, now), source: 'database' };
    } catch (error) {
      // Still held (a change told meanwhile would have dropped it): the best answer there is.
      const held = this.entries?.peek(customerId);
      return held
        ? { access: held.access, source: 'stale' }
        : { access: null, source: 'unavailable', error: (error as Error).message };
    }
  }

  /** Drops these customers' entries, and keeps reads running now from filling them. */
  invalidate(customerIds: Iterable<string>): void {
    for (const customerId of customerIds) {
      this.entries?.delete(customerId);
      const read = this.reads.get(customerId);
      if (read) {
        read.invalidated = true;
        this.reads.delete(customerId);
      }
    }
    this.metrics.accessCacheSize(this.entries?.size ?? 0);
  }

  /** Drops every entry (a TRUNCATE, a lost connection's aftermath is handled by sessions). */
  clear(): void {
    this.entries?.clear();
    for (const read of this.reads.values()) {
      read.invalidated = true;
    }
    this.reads.clear();
    this.metrics.accessCacheSize(0);
  }

  state(): AccessCacheState {
    return {
      enabled: this.entries !== undefined,
      entries: this.entries?.size ?? 0,
      maxEntries: this.config ? this.config.maxEntries : 0,
      notifications: this.notifications,
      database: this.unreachableSince === null ? 'reachable' : 'unreachable',
      unreachableSince: this.unreachableSince === null ? null : new Date(this.unreachableSince),
    };
  }

  private setListening(listening: boolean): void {
    if (!this.subscribed) {
      return;
    }
    // Entries read before now were either untrusted or may have missed a change while the
    // connection was down: a new session makes all of them live their TTL only.
    this.session++;
    this.listening = listening;
    this.notifications = listening ? 'listening' : 'disconnected';
  }

  private fresh(entry: Entry, now: number): boolean {
    if (entry.trusted && entry.session === this.session) {
      return true;
    }
    return this.config !== false && now - entry.readAt < this.config.disconnectedTtlMs;
  }

  /** One read per customer at a time; callers arriving meanwhile share it. */
  private read(customerId: string, startedAt: number): Promise<CustomerAccess> {
    const running = this.reads.get(customerId);
    if (running) {
      return running.promise;
    }
    if (this.unreachableSince !== null && !this.mayProbe(startedAt)) {
      return Promise.reject(new Error('Postgres did not answer the last access read'));
    }
    const read: Read = { invalidated: false, promise: undefined as never };
    const session = this.session;
    const trusted = this.listening;
    const query = this.query(customerId);
    if (this.unreachableSince !== null) {
      const probe = { started: startedAt, settled: false };
      this.probe = probe;
      const settle = () => (probe.settled = true);
      query.then(settle, settle);
    }
    const timeoutMs = this.config ? this.config.loadTimeoutMs : 1000;
    read.promise = withTimeout(query, timeoutMs)
      .then(
        (access) => {
          this.reachable();
          if (!read.invalidated && this.entries) {
            this.entries.set(customerId, {
              access,
              hit: { access, source: 'cache' },
              readAt: startedAt,
              trusted: trusted && session === this.session,
              session,
            });
            this.metrics.accessCacheSize(this.entries.size);
          }
          return access;
        },
        (error: Error) => {
          this.unreachable(error);
          throw error;
        },
      )
      .finally(() => {
        if (this.reads.get(customerId) === read) {
          this.reads.delete(customerId);
        }
      });
    this.reads.set(customerId, read);
    return read.promise;
  }

  private async query(customerId: string): Promise<CustomerAccess> {
    const rows: AccessReadRow[] = await this.dataSource.query(READ_SQL, [customerId]);
    const access = new Map<string, ProductAccess>();
    for (const row of rows) {
      access.set(row.productId, {
        spans: toSpans(row.timeline ?? []),
        awaitingPayment: row.awaitingPayment,
        seats: seatsOf(row.orgs),
      });
    }
    return access;
  }

  /** While Postgres is unreachable: one read at a time tries it, once `retryMs` has passed. */
  private mayProbe(now: number): boolean {
    if (now < this.retryAt) {
      return false;
    }
    const probe = this.probe;
    return !probe || probe.settled || now - probe.started > PROBE_MAX_WAIT_MS;
  }

  private reachable(): void {
    if (this.unreachableSince !== null) {
      const seconds = Math.round((Date.now() - this.unreachableSince) / 1000);
      this.logger.log(`Postgres answers access reads again (after ${seconds} s)`);
      this.unreachableSince = null;
      this.probe = null;
    }
  }

  private unreachable(error: Error): void {
    const now = Date.now();
    this.retryAt = now + (this.config ? this.config.retryMs : 1000);
    if (this.unreachableSince === null) {
      this.unreachableSince = now;
      this.logger.warn(
        `Postgres did not answer an access read (${error.message}): answering from the cache ` +
          `(stale) and access.fallback until it does`,
      );
    }
  }
}

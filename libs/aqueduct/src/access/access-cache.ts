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
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { ACCESS_CHANNEL } from '../storage/aqueduct-storage.constants';
import { isPayloadFault } from '../storage/aqueduct-inbox.faults';
import { PostgresNotifications } from '../storage/postgres-notifications';
import { withTimeout } from '../utils/with-timeout';
import type { AccessCacheState, AccessLookup, CustomerAccess } from './access-cache.interfaces';
import { heldThroughOutage } from './access-cache.outage';
import { AccessReadReachability } from './access-cache.reachability';
import { hasAccessChangeTrigger, readCustomerAccess } from './access-cache.sql';
import { isLedgerCustomerId } from './customer-id.limits';
import { ReceiverUptime } from './receiver-uptime';

export type * from './access-cache.interfaces';
export { spanAt, toSpans } from './access-cache.spans';

/** The answer for an id no provisioning can carry: no product, settled without Postgres. */
const NO_ACCESS: AccessLookup = { access: new Map(), source: 'cache' };

/** Without a cache config (`access.cache: false`): how long a read waits for Postgres. */
const DEFAULT_LOAD_TIMEOUT_MS = 1000;
/** Without a cache config: how long no read waits for Postgres after one failed. */
const DEFAULT_RETRY_MS = 1000;

interface Entry {
  access: CustomerAccess;
  /** The answer of a lookup that finds it fresh, made once. */
  hit: AccessLookup;
  /** When the read that filled it started (`Date.now()`): the data is at least this recent. */
  readAt: number;
  /** Filled during one unbroken listening session: any later change would have been told. */
  trusted: boolean;
  session: number;
  /**
   * A change was told (or the renewal windows moved) since: never fresh, read again on the next
   * lookup; kept only to answer from (`stale`) when that read fails.
   */
  outdated?: boolean;
}

interface Read {
  promise: Promise<CustomerAccess>;
  /** A change was told while the read ran: its result may predate it, so it is not kept. */
  invalidated: boolean;
}

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
  private readonly reachability: AccessReadReachability;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly postgresNotifications: PostgresNotifications,
    private readonly metrics: AqueductMetrics,
    private readonly uptime: ReceiverUptime,
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
  ) {
    this.config = options.access.cache;
    if (this.config) {
      this.entries = new LRUCache<string, Entry>({ max: this.config.maxEntries });
    }
    this.reachability = new AccessReadReachability(
      this.logger,
      this.config ? this.config.retryMs : DEFAULT_RETRY_MS,
    );
  }

  async onApplicationBootstrap(): Promise<void> {
    if (!this.entries) {
      return;
    }
    // A gap recorded after an outage stretches renewal windows: entries hold them baked in.
    const offGaps = this.uptime.onChange(() => this.clear());
    this.unlisten.push(async () => void offGaps());
    if (!(await hasAccessChangeTrigger(this.dataSource))) {
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
    if (!isLedgerCustomerId(customerId)) {
      return NO_ACCESS;
    }
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
      if (isPayloadFault(error)) {
        return NO_ACCESS; // the id's fault (Postgres refused it), not an outage
      }
      // Still held: the best answer there is, with its renewal windows stretched over the outage
      // once it is long enough to be a gap. One a change outdated is kept for this too: a paying
      // customer who just renewed must not be refused because the read of the renewal failed
      // (what it held was true until that change, and ends by its own dates).
      const held = this.entries?.peek(customerId);
      if (!held) {
        return { access: null, source: 'unavailable', error: (error as Error).message };
      }
      const outage = this.uptime.outage();
      return {
        access: outage ? heldThroughOutage(held.access, outage) : held.access,
        source: 'stale',
      };
    }
  }

  /**
   * Outdates these customers' entries (read again on their next lookup; answered from only when
   * that read fails), and keeps reads running now from filling them.
   */
  invalidate(customerIds: Iterable<string>): void {
    for (const customerId of customerIds) {
      const entry = this.entries?.peek(customerId);
      if (entry) {
        entry.outdated = true;
      }
      const read = this.reads.get(customerId);
      if (read) {
        read.invalidated = true;
        this.reads.delete(customerId);
      }
    }
  }

  /**
   * Outdates every entry, as `invalidate` does (a TRUNCATE; renewal windows moved by a receiver
   * gap recorded or an outage ended). A lost connection's aftermath is handled by sessions.
   */
  clear(): void {
    for (const entry of this.entries?.values() ?? []) {
      entry.outdated = true;
    }
    for (const read of this.reads.values()) {
      read.invalidated = true;
    }
    this.reads.clear();
  }

  state(): AccessCacheState {
    const unreachableSince = this.reachability.unreachableSince;
    return {
      enabled: this.entries !== undefined,
      entries: this.entries?.size ?? 0,
      maxEntries: this.config ? this.config.maxEntries : 0,
      notifications: this.notifications,
      database: unreachableSince === null ? 'reachable' : 'unreachable',
      unreachableSince: unreachableSince === null ? null : new Date(unreachableSince),
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
    if (entry.outdated) {
      return false;
    }
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
    if (!this.reachability.mayRead(startedAt)) {
      return Promise.reject(new Error('Postgres did not answer the last access read'));
    }
    const read: Read = { invalidated: false, promise: undefined as never };
    const session = this.session;
    const trusted = this.listening;
    const query = readCustomerAccess(this.dataSource, customerId, this.uptime.known());
    this.reachability.track(query, startedAt);
    const timeoutMs = this.config ? this.config.loadTimeoutMs : DEFAULT_LOAD_TIMEOUT_MS;
    read.promise = withTimeout(query, timeoutMs)
      .then(
        (access) => {
          this.reachability.reachable();
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
          if (!isPayloadFault(error)) {
            this.reachability.unreachable(error);
          }
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
}

import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DispatchSignal } from '../storage/dispatch-signal';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AqueductInbox } from '../storage/aqueduct-inbox.service';
import {
  ALERT_KINDS,
  ALERT_RAISED_EVENT,
  type AlertKind,
  type AqueductAlert,
} from './alert.interfaces';
import { printable } from '../utils/printable';
import { wellFormed, wellFormedStrings } from '../utils/well-formed';

/** How often each instance re-reads which alerts are open (another may have raised or resolved one). */
const REFRESH_MS = 60_000;
/** First key of the two-key advisory lock serialising the raising of one kind. */
const ALERT_LOCK_CLASS = 73_104_203;

const ALERT_COLUMNS = `kind, reason, details, occurrences, raised_at AS "raisedAt", last_seen_at AS "lastSeenAt"`;

/**
 * Operator alerts, one open at a time per kind across every instance: the first instance to
 * raise a kind opens it and writes one `alert.raised` event (mailed to `email.alertTo`, and seen
 * by your listeners); later raises only count; resolving closes it, so the next incident alerts
 * again. Each instance keeps which kinds are open in memory (re-read every minute), so checking
 * on the request path costs nothing.
 */
@Injectable()
export class AqueductAlerts implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductAlerts');
  private readonly openKinds = new Set<AlertKind>();
  /** When each kind was last resolved, as far as this instance knows. */
  private readonly resolvedAt = new Map<AlertKind, Date>();
  private refresher?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly inbox: AqueductInbox,
    private readonly listeners: AqueductListenerRegistry,
    private readonly signal: DispatchSignal,
    private readonly metrics: AqueductMetrics,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.refresh().catch(() => undefined);
    this.refresher = setInterval(() => void this.refresh().catch(() => undefined), REFRESH_MS);
    this.refresher.unref();
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.refresher);
  }

  /** Open as far as this instance knows (at most a minute behind the other instances). */
  isOpen(kind: AlertKind): boolean {
    return this.openKinds.has(kind);
  }

  /** When the kind was last resolved (by any instance), as far as this instance knows. */
  lastResolvedAt(kind: AlertKind): Date | undefined {
    return this.resolvedAt.get(kind);
  }

  /**
   * When the incident raised at `raisedAt` ended: its resolution, or the next incident's raising
   * (which only a resolution can precede); null while it is open (or unknown).
   */
  async endedAt(kind: AlertKind, raisedAt: Date): Promise<Date | null> {
    const [row]: { status: string; raised_at: Date; resolved_at: Date | null }[] =
      await this.dataSource.query(
        `SELECT status, raised_at, resolved_at FROM aqueduct_alerts WHERE kind = $1`,
        [kind],
      );
    if (!row || row.raised_at.getTime() < raisedAt.getTime()) {
      return null;
    }
    return row.status === 'resolved'
      ? row.resolved_at
      : row.raised_at.getTime() > raisedAt.getTime()
        ? row.raised_at
        : null;
  }

  /** Every open alert, read now. */
  list(): Promise<AqueductAlert[]> {
    return this.dataSource.query(
      `SELECT ${ALERT_COLUMNS} FROM aqueduct_alerts WHERE status = 'open' ORDER BY raised_at`,
    );
  }

  /**
   * Opens the alert unless it is open already (then it only counts). Returns true when this call
   * opened it: its `alert.raised` event was written in the same transaction. With `seenSince`, an
   * alert resolved after that moment is left resolved: what was seen predates the fix (another
   * instance saw the next success), so it is not a new incident.
   */
  async raise(
    kind: AlertKind,
    raisedReason: string,
    raisedDetails: Record<string, unknown>,
    seenSince?: Date,
  ): Promise<boolean> {
    // What a sender sent (an event's type) may hold a lone surrogate, which Postgres' JSON refuses:
    // the alert would be lost with the write.
    const reason = wellFormed(raisedReason);
    const details = JSON.parse(JSON.stringify(raisedDetails, wellFormedStrings));
    const opened = await this.dataSource.transaction(async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [
        ALERT_LOCK_CLASS,
        kind,
      ]);
      const [previous] = await manager.query(
        `SELECT status, resolved_at FROM aqueduct_alerts WHERE kind = $1`,
        [kind],
      );
      if (previous?.status === 'resolved' && seenSince && previous.resolved_at >= seenSince) {
        this.resolvedAt.set(kind, previous.resolved_at);
        return null;
      }
      const [row] = await manager.query(
        `INSERT INTO aqueduct_alerts AS a (kind, status, reason, details) VALUES ($1, 'open', $2, $3::jsonb)
         ON CONFLICT (kind) DO UPDATE SET
           status = 'open', reason = EXCLUDED.reason, details = EXCLUDED.details,
           occurrences = CASE WHEN a.status = 'open' THEN a.occurrences + 1 ELSE 1 END,
           raised_at = CASE WHEN a.status = 'open' THEN a.raised_at ELSE now() END,
           last_seen_at = now(), resolved_at = NULL
         RETURNING raised_at`,
        [kind, reason.slice(0, 2000), JSON.stringify(details)],
      );
      if (previous?.status === 'open') {
        return false;
      }
      const raisedAt: Date = row.raised_at;
      const object = { kind, reason, details, raisedAt };
      await this.inbox.storeWithin(manager, [
        {
          dedupKey: `alert:${kind}:${raisedAt.getTime()}`,
          type: ALERT_RAISED_EVENT,
          createdAt: raisedAt,
          payload: { type: ALERT_RAISED_EVENT, createdAt: raisedAt, object },
          listeners: this.listeners.namesFor(ALERT_RAISED_EVENT),
        },
      ]);
      return true;
    });
    if (opened === null) {
      return false;
    }
    this.markOpen(kind, true);
    if (opened) {
      this.logger.error(printable(`Alert (${kind}): ${reason}`));
      this.signal.wake();
    }
    return opened;
  }

  /** Closes the alert if it is open; the next incident will alert again. */
  async resolve(kind: AlertKind): Promise<boolean> {
    // An UPDATE answers [rows, rowCount] through TypeORM.
    const [rows]: [{ resolved_at: Date }[], number] = await this.dataSource.query(
      `UPDATE aqueduct_alerts SET status = 'resolved', resolved_at = now()
        WHERE kind = $1 AND status = 'open' RETURNING resolved_at`,
      [kind],
    );
    if (rows.length > 0) {
      this.resolvedAt.set(kind, rows[0].resolved_at);
    }
    this.markOpen(kind, false);
    if (rows.length > 0) {
      this.logger.log(`Alert (${kind}) resolved`);
    }
    return rows.length > 0;
  }

  private async refresh(): Promise<void> {
    const rows: { kind: AlertKind; status: string; resolved_at: Date | null }[] =
      await this.dataSource.query(`SELECT kind, status, resolved_at FROM aqueduct_alerts`);
    const open = new Set(rows.filter((row) => row.status === 'open').map((row) => row.kind));
    for (const row of rows) {
      if (row.resolved_at) {
        this.resolvedAt.set(row.kind, row.resolved_at);
      }
    }
    for (const kind of ALERT_KINDS) {
      this.markOpen(kind, open.has(kind));
    }
  }

  private markOpen(kind: AlertKind, open: boolean): void {
    if (open) {
      this.openKinds.add(kind);
    } else {
      this.openKinds.delete(kind);
    }
    this.metrics.alert(kind, open);
  }
}

import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import { ACCESS_CHANGE_TRIGGER } from '../storage/aqueduct-storage.constants';
import type { CustomerAccess, ProductAccess } from './access-cache.interfaces';
import { pairsOf, toSpans } from './access-cache.spans';
import { peopleOf, seatCount, spanEnds, windowSpans } from './access-timeline';
import { CHECKED_ORGS } from './aqueduct-access.sql';
import { type StoredSegment, toTimeline } from './aqueduct-access.mapper';
import type { RenewalWindow } from './renewal-window';

const TRIGGER_SQL = `SELECT 1 FROM pg_trigger WHERE tgname = $1 AND NOT tgisinternal`;

const READ_SQL = `SELECT product_id AS "productId", timeline, awaiting_payment AS "awaitingPayment",
  ${CHECKED_ORGS} AS orgs FROM aqueduct_access WHERE customer_id = $1`;

interface AccessReadRow {
  productId: string;
  timeline: StoredSegment[];
  awaitingPayment: boolean;
  orgs: ProvisioningOrgDto[] | null;
}

/** Shared by every product without a renewal window (most): an entry stays small. */
const NONE: readonly number[] = Object.freeze([]);

/**
 * The stored timeline's seats as `[from, until, seats, …]`. The ledger stores them only for the
 * stretches not over when it evaluated, so they stay few.
 */
function seatSpansOf(stored: StoredSegment[]): readonly number[] {
  const spans: number[] = [];
  for (const segment of stored) {
    if (segment.seats === undefined) {
      continue;
    }
    const [from, until, last] = [Date.parse(segment.from), Date.parse(segment.until), spans.length];
    // A paid period and its grace with the same people are one stretch: an entry stays small.
    if (last > 0 && spans[last - 2] === from && spans[last - 1] === segment.seats) {
      spans[last - 2] = until;
    } else {
      spans.push(from, until, segment.seats);
    }
  }
  return spans.length === 0 ? NONE : kept(spans);
}

/**
 * An array as an entry keeps it: exactly as long as it is (an array grown by `push` reserves room
 * for 17 numbers, about 110 bytes more per list, held as long as the entry).
 */
const kept = (list: number[]): readonly number[] => list.slice();

/** Whether the migration adding the access change trigger (the cache's notifications) has run. */
export async function hasAccessChangeTrigger(dataSource: DataSource): Promise<boolean> {
  const [trigger] = await dataSource.query(TRIGGER_SQL, [ACCESS_CHANGE_TRIGGER]);
  return Boolean(trigger);
}

/**
 * One read of the customer's `aqueduct_access` rows, as the cache keeps them: each timeline with
 * its renewal windows (`window`).
 */
export async function readCustomerAccess(
  dataSource: DataSource,
  customerId: string,
  window: RenewalWindow,
): Promise<CustomerAccess> {
  const rows: AccessReadRow[] = await dataSource.query(READ_SQL, [customerId]);
  const access = new Map<string, ProductAccess>();
  for (const row of rows) {
    const timeline = toTimeline(row.timeline ?? []);
    const ends = window.settleMs > 0 ? spanEnds(timeline) : NONE;
    const windows = windowSpans(ends, window);
    access.set(row.productId, {
      spans: kept(toSpans([...timeline, ...pairsOf(windows)])),
      windows: windows.length === 0 ? NONE : kept(windows),
      ...compactEnds(ends),
      awaitingPayment: row.awaitingPayment,
      seatSpans: seatSpansOf(row.timeline ?? []),
      seats: seatCount(row.orgs),
      ...(rows.length > 1 ? { people: peopleHashes(row.orgs) } : {}),
    });
  }
  return access;
}

/** `ends` as an entry keeps them: one span with nothing after it is only its paid end. */
function compactEnds(ends: readonly number[]): Pick<ProductAccess, 'ends' | 'paidEnd'> {
  if (ends.length === 0) {
    return {};
  }
  return ends.length === 3 && ends[2] === Infinity
    ? { paidEnd: ends[1] }
    : { ends: kept(ends as number[]) };
}

/**
 * The people of `orgs` (`peopleOf`'s keys) as sorted, distinct 48-bit hashes (the first 6 bytes of
 * their SHA-256): exact in a number, and two people of one customer sharing one is about as likely
 * as a billion-to-one.
 */
function peopleHashes(orgs: ProvisioningOrgDto[] | null): readonly number[] {
  const hashes = new Set<number>();
  for (const key of peopleOf(orgs).keys) {
    hashes.add(createHash('sha256').update(key).digest().readUIntBE(0, PERSON_HASH_BYTES));
  }
  return hashes.size === 0 ? NONE : [...hashes].sort((a, b) => a - b);
}

/** Bytes of a person's hash: 48 bits, within a number's exact integers (53 bits). */
const PERSON_HASH_BYTES = 6;

import type { INestApplication } from '@nestjs/common';
import { type AqueductModuleOptions, ExpiryJob } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import type { TestAppOptions } from './app';
import { RecordingAdapter, recordingAdapterModule } from './recording-adapter';
import type { TestSmtpServer } from './smtp';
import { DAY, T0, type TestClock } from './test-clock';
import { waitFor } from './wait';

/** One provisioning of a subscription, as Aqueduct describes it (one per invoice, so per period). */
export interface PeriodOptions {
  start: Date;
  /** Length of the paid period. @default 30 */
  days?: number;
  /** Grace after the paid period; null: none (a trial). @default 7 */
  graceDays?: number | null;
  productId?: string;
  /** @default `inv_<customer>_<start day>` */
  invoiceId?: string | null;
  /** @default `sub_<customer>` */
  subscriptionId?: string | null;
  /** Aqueduct's own id of the provisioning, when the test wants one. */
  id?: string;
  users?: [name: string, email: string][];
}

/** A Provisioning object for one period. */
export function period(customerId: string, options: PeriodOptions): Record<string, unknown> {
  const days = options.days ?? 30;
  const end = new Date(options.start.getTime() + days * DAY);
  const graceDays = options.graceDays === undefined ? 7 : options.graceDays;
  const users = options.users ?? [['Ada', `ada@${domainOf(customerId)}`]];
  return {
    ...(options.id ? { id: options.id } : {}),
    customerId,
    productId: options.productId ?? 'prod_pro',
    startDate: options.start.toISOString(),
    endDate: end.toISOString(),
    contractStartDate: options.start.toISOString(),
    contractEndDate: end.toISOString(),
    ...(graceDays === null
      ? {}
      : { gracePeriodEndDate: new Date(end.getTime() + graceDays * DAY).toISOString() }),
    invoiceId:
      options.invoiceId === undefined
        ? `inv_${customerId}_${Math.round(options.start.getTime() / DAY)}`
        : options.invoiceId,
    subscriptionId:
      options.subscriptionId === undefined ? `sub_${customerId}` : options.subscriptionId,
    metadata: {},
    provisioningOrgs: { name: 'Acme', users: users.map(([name, email]) => ({ name, email })) },
  };
}

/** A mail domain of the customer's own (mail servers refuse `_` in domains). */
export const domainOf = (customerId: string) => `${customerId.replace(/_/g, '-')}.test`;

/** The event Aqueduct sends for a provisioning, created at `createdAt`. */
export const envelope = (type: string, object: unknown, createdAt: Date) => ({
  createdAt: createdAt.toISOString(),
  type,
  object,
});

/** Waits until no delivery is pending or running: every listener (and what it caused) is done. */
export function deliveriesSettled(app: INestApplication, timeoutMs = 15_000): Promise<true> {
  return waitFor(
    async () =>
      (
        await app
          .get(DataSource)
          .query(
            `SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE state IN ('pending', 'active')`,
          )
      )[0].n === 0,
    timeoutMs,
    'deliveries to finish',
  );
}

/** The `access.*` events written for a customer, oldest first. */
export async function accessEvents(
  app: INestApplication,
  customerId: string,
  productId = 'prod_pro',
): Promise<string[]> {
  const rows: { type: string }[] = await app.get(DataSource).query(
    `SELECT type FROM aqueduct_events
      WHERE type LIKE 'access.%' AND payload->'object'->>'customerId' = $1
        AND payload->'object'->>'productId' = $2
      ORDER BY (payload->'object'->>'accessId'), split_part(dedup_key, ':', 3)::int`,
    [customerId, productId],
  );
  return rows.map((row) => row.type);
}

/** Moves the clock to `moment`, runs the expiry job's sweep there, and waits for what it caused. */
export async function sweepAt(
  app: INestApplication,
  clock: TestClock,
  moment: Date,
): Promise<void> {
  clock.set(moment);
  await app.get(ExpiryJob).sweep();
  await deliveriesSettled(app);
}

/** The subjects of the mails the customer's users received, oldest first. */
export const mailSubjects = (smtp: TestSmtpServer, customerId: string): string[] =>
  smtp.received
    .filter((mail) => mail.to.some((to) => to.endsWith(`@${domainOf(customerId)}`)))
    .map((mail) => mail.subject);

/** Who the subscription tests' mails come from. */
export const BILLING_FROM = 'Billing <billing@acme.test>';
/** Dispatch for tests: polled often, a failed delivery retried within a tenth of a second. */
export const QUICK_DISPATCH = { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 };

/**
 * The app a subscription test boots: the recording adapter, no expiry cron (the test sweeps with
 * `sweepAt`), quick retries, and mail to `smtp` when given. `aqueduct` adds or replaces options.
 */
export function subscriptionApp(options: {
  secret: string;
  clock: TestClock;
  smtp?: TestSmtpServer;
  aqueduct?: Partial<AqueductModuleOptions>;
}): Omit<TestAppOptions, 'databaseUrl'> {
  const { secret, clock, smtp, aqueduct } = options;
  return {
    clock,
    aqueduct: {
      secrets: [secret],
      provisioningAdapter: RecordingAdapter,
      expiry: { enabled: false },
      dispatch: QUICK_DISPATCH,
      ...(smtp ? { email: { transport: smtp.transport, from: BILLING_FROM } } : {}),
      ...aqueduct,
    },
    imports: [recordingAdapterModule()],
  };
}

/**
 * A customer's two subscriptions of prod_pro from day 0: sub_a (team A, monthly, no grace period;
 * `a2` its next period) and sub_b (team B, 60 days, an invoice of its own).
 */
export function twoSubscriptions(
  customerId: string,
  teamA: [string, string][],
  teamB: [string, string][],
): { a1: Record<string, unknown>; a2: Record<string, unknown>; b1: Record<string, unknown> } {
  const a = (start: Date) =>
    period(customerId, { start, graceDays: null, subscriptionId: 'sub_a', users: teamA });
  const b1 = period(customerId, {
    start: T0,
    days: 60,
    subscriptionId: 'sub_b',
    invoiceId: `inv_${customerId}_b1`,
    users: teamB,
  });
  return { a1: a(T0), a2: a(new Date(T0.getTime() + 30 * DAY)), b1 };
}

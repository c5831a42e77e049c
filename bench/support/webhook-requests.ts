import type { AqueductModuleOptions } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import type { BenchContext } from './benchmark';
import type { HttpRequest } from './load';
import { RequestPool } from './request-pool';

/** What the webhook benchmarks send: Standard Webhooks-signed provisioning.start events. */
export const BENCH_SECRET =
  'whsec_' + Buffer.from('bench-secret-bench-secret-32byte').toString('base64');
export const AQUEDUCT_OPTIONS: AqueductModuleOptions = {
  secrets: [BENCH_SECRET],
  verification: { scheme: 'standard-webhooks' },
};
export const WEBHOOK_PATH = '/webhooks/aqueduct';

/** Prepared requests are signed before the run; the module refuses them after 300 s. */
const SIGNATURE_TOLERANCE_SECONDS = 300;
/** Room for signing the pool itself (a few seconds) and for clock skew. */
const SIGNATURE_MARGIN_SECONDS = 60;
/** ~1 KB each: bounds the parent's memory whatever the bare route managed. */
const MAX_POOL_SIZE = 250_000;

/** A distinct, freshly signed provisioning.start delivery (random webhook-id, unique customer). */
export function signedEvent(sequence: number): HttpRequest {
  return newCustomerEvents(0)(sequence);
}

/** New customers' starts, numbered from `firstCustomer`. */
export function newCustomerEvents(firstCustomer: number): (sequence: number) => HttpRequest {
  return (sequence) => {
    const event = provisioningStartEvent({ customerId: `cus_bench_${firstCustomer + sequence}` });
    return signAqueductRequest(event, { scheme: 'standard-webhooks', secret: BENCH_SECRET });
  };
}

/**
 * Distinct signed events for `seconds` of load at up to `requestsPerSecond` (a rate the webhook
 * route cannot exceed), with headroom. Runs too long for signatures made beforehand sign in-run
 * instead.
 */
export function signedEventPool(
  context: BenchContext,
  requestsPerSecond: number,
  seconds: number,
  make: (sequence: number) => HttpRequest = signedEvent,
): RequestPool {
  if (seconds + SIGNATURE_MARGIN_SECONDS > SIGNATURE_TOLERANCE_SECONDS) {
    context.log(`webhook: run longer than the signature tolerance, signing each request in-run`);
    return new RequestPool(make, 0);
  }
  const wanted = Math.ceil(requestsPerSecond * seconds * 1.5) + 2 * context.config.connections;
  const size = Math.min(wanted, MAX_POOL_SIZE);
  context.log(`webhook: signing ${size} distinct provisioning.start events`);
  return new RequestPool(make, size);
}

const DAY_MS = 24 * 60 * 60 * 1000;
/** A paid period's length in the renewal benchmark. */
const PERIOD_DAYS = 30;

/**
 * Renewals of `customers` customers (numbered from `firstCustomer`), in turn: request `n` is period
 * `floor(n / customers)` of customer `n % customers` (its own provisioning, starting when the one
 * before ends). The first round creates the customers; every later request extends an active
 * customer's access.
 */
export function renewalEvents(
  customers: number,
  firstCustomer = 0,
  from = Date.now(),
): (sequence: number) => HttpRequest {
  return (sequence) => {
    const customer = firstCustomer + (sequence % customers);
    const period = Math.floor(sequence / customers);
    const start = from + period * PERIOD_DAYS * DAY_MS;
    const end = start + PERIOD_DAYS * DAY_MS;
    const event = provisioningStartEvent({
      id: `prov_bench_${customer}_${period}`,
      customerId: `cus_renew_${customer}`,
      startDate: new Date(start).toISOString(),
      endDate: new Date(end).toISOString(),
      contractStartDate: new Date(start).toISOString(),
      contractEndDate: new Date(end).toISOString(),
      gracePeriodEndDate: new Date(end + 7 * DAY_MS).toISOString(),
    });
    return signAqueductRequest(event, { scheme: 'standard-webhooks', secret: BENCH_SECRET });
  };
}

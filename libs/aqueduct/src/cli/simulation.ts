import { randomUUID } from 'node:crypto';
import { provisioningEndEvent, provisioningStartEvent } from '../testing/aqueduct-event.factory';
import type { SignAqueductRequestOptions } from '../testing/sign-aqueduct-request';
import { signAqueductRequest } from '../testing/sign-aqueduct-request';
import { CliError } from './cli-output';
import { postSigned } from './http-post';

/** Aqueduct's retry schedule after a failed attempt: 1 h, 6 h, 12 h, 24 h, then it gives up. */
export const AQUEDUCT_RETRY_DELAYS_MS = [1, 6, 12, 24].map((hours) => hours * 3_600_000);

/**
 * Ways an authentic event can be impossible to understand, as `--invalid` makes them (each in
 * turn), with what each is for the help.
 */
export const INVALID_KINDS = {
  'numeric-email': 'a user whose email is a number',
  'missing-product-id': 'a provisioning without productId',
  'not-json': 'a body cut off halfway (not JSON)',
  'no-object': 'a provisioning event without its object',
} as const;

export type InvalidKind = keyof typeof INVALID_KINDS;

const INVALID_ORDER = Object.keys(INVALID_KINDS) as InvalidKind[];

/** One delivery as Aqueduct would make it: a delivery id kept across retries, and a body. */
export interface SimulatedDelivery {
  id: string;
  body: string;
  duplicate: boolean;
  /** Made impossible to understand on purpose (and signed all the same): how. */
  invalid?: InvalidKind;
}

export interface SimulationPlan {
  events: number;
  /** Share of events delivered a second time (same id, same body). */
  duplicates: number;
  /**
   * Spread the events over this many customers, alternating provisioning.start and
   * provisioning.end. Every event of one customer describes the same provisioning (one
   * subscription, one invoice, one period: from a day before the run to 29 days after it, then a
   * 7-day grace period), so the ledger sees one provisioning per customer receiving start and end
   * events, with distinct `createdAt`s so the latest event per provisioning is well defined. Unset:
   * every event is a new customer's provisioning.start.
   */
  customers?: number;
  /**
   * Share of events made invalid, still signed (an authentic event the app cannot understand):
   * at random positions in the run, each of the `INVALID_KINDS` in turn. Their duplicates and
   * retries carry the same bytes. Unset: none.
   */
  invalid?: number;
}

/** The deliveries to make, duplicates included (a duplicate follows its original). */
export function planDeliveries(plan: SimulationPlan, now = Date.now()): SimulatedDelivery[] {
  const deliveries: SimulatedDelivery[] = [];
  const spoilt = randomPositions(plan.events, Math.round(plan.events * (plan.invalid ?? 0)));
  let invalidSoFar = 0;
  for (let i = 0; i < plan.events; i++) {
    const event = eventFor(i, plan, now);
    const invalid = spoilt.has(i)
      ? INVALID_ORDER[invalidSoFar++ % INVALID_ORDER.length]
      : undefined;
    const delivery: SimulatedDelivery = {
      id: `msg_${randomUUID().replace(/-/g, '')}`,
      body: invalid ? spoil(event, invalid) : JSON.stringify(event),
      duplicate: false,
      ...(invalid ? { invalid } : {}),
    };
    deliveries.push(delivery);
    if (i < Math.round(plan.events * plan.duplicates)) {
      deliveries.push({ ...delivery, duplicate: true });
    }
  }
  return deliveries;
}

function eventFor(i: number, plan: SimulationPlan, now: number) {
  if (!plan.customers) {
    return provisioningStartEvent();
  }
  const object = simulatedProvisioning(i % plan.customers, now);
  // One millisecond apart, in the order planned: concurrency and retries then shuffle arrival.
  const createdAt = new Date(now - (plan.events - i));
  return Math.floor(i / plan.customers) % 2 === 0
    ? provisioningStartEvent(object, createdAt)
    : provisioningEndEvent(object, createdAt);
}

/**
 * `count` distinct positions out of `n`, at random (not a fixed stride, which could fall on the
 * same customers every time and leave them nothing valid).
 */
function randomPositions(n: number, count: number): Set<number> {
  const positions = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    [positions[i], positions[j]] = [positions[j], positions[i]];
  }
  return new Set(positions.slice(0, count));
}

/** The body of `event` made impossible to understand in the way `kind` says. */
function spoil(event: ReturnType<typeof provisioningStartEvent>, kind: InvalidKind): string {
  const object = structuredClone(event.object) as Record<string, unknown>;
  switch (kind) {
    case 'numeric-email': {
      // A phone number typed into the email field, sent as a number.
      const [org] = object.provisioningOrgs as { users: Record<string, unknown>[] }[];
      org.users[0] = { ...org.users[0], email: 4915112345678 };
      return JSON.stringify({ ...event, object });
    }
    case 'missing-product-id':
      delete object.productId;
      return JSON.stringify({ ...event, object });
    case 'not-json': {
      // Cut off halfway, as by a proxy or a truncated write.
      const text = JSON.stringify(event);
      return text.slice(0, Math.floor(text.length / 2));
    }
    case 'no-object':
      return JSON.stringify({ createdAt: event.createdAt, type: event.type });
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Customer `n`'s one provisioning, the same for all its events (ids and dates fixed by `n` and
 * `now`), so a start and an end of that customer are the same provisioning, and its period covers
 * the run.
 */
function simulatedProvisioning(n: number, now: number) {
  const end = now + 29 * DAY_MS;
  const startDate = new Date(now - DAY_MS).toISOString();
  const endDate = new Date(end).toISOString();
  return {
    customerId: `owner_sim_${n}`,
    subscriptionId: `sub_sim_${n}`,
    invoiceId: `inv_sim_${n}`,
    startDate,
    endDate,
    contractStartDate: startDate,
    contractEndDate: endDate,
    gracePeriodEndDate: new Date(end + 7 * DAY_MS).toISOString(),
  };
}

export interface SenderSettings {
  /**
   * Endpoints. First attempts go to them in turn, as through a load balancer; each retry of a
   * delivery goes to the next one, so a dead instance delays a delivery but cannot sink it.
   */
  urls: string[];
  maxAttempts: number;
  timeScale: number;
  signing: (id: string) => SignAqueductRequestOptions;
}

export interface Outcome {
  id: string;
  attempts: number;
  delivered: boolean;
  duplicate: boolean;
  /** The endpoint said it already had it (`duplicate: true` in a 2xx). */
  absorbed: boolean;
  /** The endpoint stored it without understanding it (`quarantined: true` in a 2xx). */
  quarantined: boolean;
  /** Sent invalid on purpose: how. */
  invalid?: InvalidKind;
  /** Every answer, in order: an HTTP status or `unreachable`. */
  answers: (number | 'unreachable')[];
}

/** The delay before attempt `attempt` (1-based retries): Aqueduct's, the last one repeated. */
export function retryDelayMs(attempt: number, timeScale: number): number {
  const delay = AQUEDUCT_RETRY_DELAYS_MS[Math.min(attempt, AQUEDUCT_RETRY_DELAYS_MS.length) - 1];
  return delay / timeScale;
}

/** Sends one delivery until a 2xx, retrying any other answer and connection errors. */
export function createSender(settings: SenderSettings) {
  let turn = 0;
  return async (delivery: SimulatedDelivery): Promise<Outcome> => {
    const answers: Outcome['answers'] = [];
    const first = turn++;
    for (let attempt = 0; attempt < settings.maxAttempts; attempt++) {
      if (attempt > 0) {
        await sleep(retryDelayMs(attempt, settings.timeScale));
      }
      const url = settings.urls[(first + attempt) % settings.urls.length];
      try {
        // Re-signed on each attempt (fresh timestamp), with the same delivery id.
        const result = await postSigned(
          url,
          signAqueductRequest(delivery.body, settings.signing(delivery.id)),
        );
        answers.push(result.status);
        if (result.status >= 200 && result.status < 300) {
          const body = result.body as { duplicate?: unknown; quarantined?: unknown } | null;
          const absorbed = body?.duplicate === true;
          const quarantined = body?.quarantined === true;
          return { ...base(delivery, answers), delivered: true, absorbed, quarantined };
        }
      } catch (error) {
        if (!(error instanceof CliError)) {
          throw error;
        }
        answers.push('unreachable');
      }
    }
    return { ...base(delivery, answers), delivered: false, absorbed: false, quarantined: false };
  };
}

const base = (delivery: SimulatedDelivery, answers: Outcome['answers']) => ({
  id: delivery.id,
  duplicate: delivery.duplicate,
  ...(delivery.invalid ? { invalid: delivery.invalid } : {}),
  attempts: answers.length,
  answers,
});

/**
 * The run's numbers; `acceptedIds` (every id that got a 2xx) lets a test check each 2xx against
 * what was stored, `invalidIds` and `quarantinedIds` what was sent invalid against what the
 * endpoint said it quarantined.
 */
export function summarise(outcomes: Outcome[]) {
  const byAttempts: Record<string, number> = {};
  const answers: Record<string, number> = {};
  const invalidByKind: Partial<Record<InvalidKind, number>> = {};
  for (const outcome of outcomes) {
    if (outcome.invalid && !outcome.duplicate) {
      invalidByKind[outcome.invalid] = (invalidByKind[outcome.invalid] ?? 0) + 1;
    }
    if (outcome.delivered) {
      byAttempts[outcome.attempts] = (byAttempts[outcome.attempts] ?? 0) + 1;
    }
    for (const answer of outcome.answers) {
      answers[answer] = (answers[answer] ?? 0) + 1;
    }
  }
  const delivered = outcomes.filter((o) => o.delivered);
  return {
    sent: outcomes.length,
    duplicatesSent: outcomes.filter((o) => o.duplicate).length,
    delivered: delivered.length,
    deliveredFirstTry: byAttempts[1] ?? 0,
    retried: outcomes.filter((o) => o.attempts > 1).length,
    givenUp: outcomes.length - delivered.length,
    duplicatesAbsorbed: delivered.filter((o) => o.absorbed).length,
    deliveredByAttempts: byAttempts,
    answers,
    requests: outcomes.reduce((sum, o) => sum + o.attempts, 0),
    acceptedIds: [...new Set(delivered.map((o) => o.id))],
    givenUpIds: outcomes
      .filter((o) => !o.delivered)
      .map((o) => ({ id: o.id, lastStatus: o.answers[o.answers.length - 1] ?? '' })),
    /** Distinct events sent invalid on purpose (`--invalid`), and how. */
    invalidSent: outcomes.filter((o) => o.invalid && !o.duplicate).length,
    invalidByKind,
    invalidIds: outcomes
      .filter((o) => o.invalid && !o.duplicate)
      .map((o) => ({ id: o.id, kind: o.invalid! })),
    /** Ids whose 2xx said `quarantined: true` (stored, not understood). */
    quarantinedIds: [...new Set(delivered.filter((o) => o.quarantined).map((o) => o.id))],
  };
}

export type SimulationReport = ReturnType<typeof summarise>;

/** Runs `work` over `items` with at most `concurrency` in flight. */
export async function runPool<T, R>(
  items: T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

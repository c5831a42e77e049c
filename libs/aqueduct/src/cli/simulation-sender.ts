import type { SignAqueductRequestOptions } from '../testing/sign-aqueduct-request';
import { signAqueductRequest } from '../testing/sign-aqueduct-request';
import { CliError } from './cli-output';
import { postSigned } from './http-post';
import type { InvalidKind } from './simulation-invalid';
import type { SimulatedDelivery } from './simulation-plan';

/** Aqueduct's retry schedule after a failed attempt: 1 h, 6 h, 12 h, 24 h, then it gives up. */
export const AQUEDUCT_RETRY_DELAYS_MS = [1, 6, 12, 24].map((hours) => hours * 3_600_000);

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
          return accepted(delivery, answers, result.body);
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

/** The outcome of a delivery that got a 2xx, with what its answer's body said of it. */
function accepted(delivery: SimulatedDelivery, answers: Outcome['answers'], answer: unknown) {
  const body = answer as { duplicate?: unknown; quarantined?: unknown } | null;
  const absorbed = body?.duplicate === true;
  const quarantined = body?.quarantined === true;
  return { ...base(delivery, answers), delivered: true, absorbed, quarantined };
}

const base = (delivery: SimulatedDelivery, answers: Outcome['answers']) => ({
  id: delivery.id,
  duplicate: delivery.duplicate,
  ...(delivery.invalid ? { invalid: delivery.invalid } : {}),
  attempts: answers.length,
  answers,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

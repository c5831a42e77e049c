import { runPacedLoad } from './paced-load';

/** The subset of autocannon 8 used here (the package ships no types). */
interface AutocannonRequest {
  method: 'GET' | 'POST';
  setupRequest(request: OutgoingRequest, context: RequestContext): OutgoingRequest;
  onResponse(status: number, body: string, context: RequestContext): void;
}

/** What autocannon hands `setupRequest`: the defaults merged into a fresh object per request. */
interface OutgoingRequest {
  body?: string | Buffer;
  headers?: Record<string, string>;
  [key: string]: unknown;
}

/** Per-connection scratch space; autocannon resets it before each request when there is one. */
interface RequestContext {
  current?: HttpRequest;
}

interface Histogram {
  average: number;
  p50: number;
  p99: number;
  total: number;
  sent: number;
}

interface AutocannonResult {
  requests: Histogram;
  latency: Histogram;
  /** Connection errors, timeouts included. */
  errors: number;
  non2xx: number;
  '2xx': number;
  duration: number;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  requests: AutocannonRequest[];
}) => Promise<AutocannonResult>;

const autocannon = require('autocannon') as Autocannon;

/** One request as sent: exact body bytes and headers (a GET has an empty body and a `path`). */
export interface HttpRequest {
  body: string;
  headers: Record<string, string>;
  /** Path and query of this request; the target URL's path when absent. */
  path?: string;
}

export interface LoadTarget {
  /** Full URL, e.g. `http://127.0.0.1:3000/bare`. */
  url: string;
  /** @default 'POST' */
  method?: 'GET' | 'POST';
  /** The next request to send; called once per request. */
  next(): HttpRequest;
  /** Called with each answer, the request it answers and the answer's body (e.g. to collect ids). */
  onAnswer?(status: number, request: HttpRequest, body: string): void;
}

export interface LoadResult {
  /** Mean of the per-second request counts. */
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok2xx: number;
  non2xx: number;
  /** Connection errors, timeouts included. */
  errors: number;
  /** Requests written; `sent - answered` were still in flight when the run stopped. */
  sent: number;
  answered: number;
}

/**
 * One autocannon run. Every request goes through `setupRequest`, for the baseline as well, so the
 * load generator does the same work per request whichever route it measures.
 */
export async function runLoad(
  target: LoadTarget,
  options: {
    connections: number;
    durationSeconds: number;
    /**
     * Requests per second across all connections, evenly spaced (an open load, `runPacedLoad`); as
     * fast as answered when absent.
     */
    rate?: number;
  },
): Promise<LoadResult> {
  if (options.rate) {
    // Evenly spaced: autocannon's overallRate sends each second's requests in one burst.
    return runPacedLoad(target, { ...options, rate: options.rate });
  }
  const result = await autocannon({
    url: target.url,
    connections: options.connections,
    duration: options.durationSeconds,
    requests: [
      {
        method: target.method ?? 'POST',
        setupRequest(request, context) {
          const next = target.next();
          context.current = next;
          return {
            ...request,
            ...(next.path ? { path: next.path } : {}),
            ...(target.method === 'GET' ? {} : { body: next.body }),
            headers: next.headers,
          };
        },
        onResponse(status, body, context) {
          if (target.onAnswer && context.current) {
            target.onAnswer(status, context.current, body);
          }
        },
      },
    ],
  });
  return {
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    sent: result.requests.sent,
    answered: result.requests.total,
  };
}

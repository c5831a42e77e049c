import { API_USER_AGENT } from './aqueduct-api.constants';
import { describeErrorBody } from './aqueduct-api.error-body';
import { AqueductApiError } from './aqueduct-api.error';
import { httpFailure, networkFailure } from './aqueduct-api.messages';
import { redactDeep, redactText } from './aqueduct-api.redaction';
import { parseJson } from './aqueduct-api.responses';
import { parseRetryAfter } from './retry-after';

/** Rate limited: worth another attempt, after `Retry-After` when the answer gives one. */
const TOO_MANY_REQUESTS = 429;
/** From here on the server failed, not the request: worth another attempt. */
const SERVER_ERROR = 500;

/** The methods the client calls the API with. */
export type HttpMethod = 'GET' | 'POST';

/** What one attempt ended with. */
export type Attempt =
  | { ok: true; status: number; text: string }
  | { ok: false; error: AqueductApiError; retryable: boolean; retryAfterMs?: number };

/** One attempt of a call: what is sent, where, and how. */
export interface AttemptRequest {
  fetch: typeof fetch;
  baseUrl: string;
  timeoutMs: number;
  /** Scrubbed from anything the answer echoes. */
  apiKey: string;
  method: HttpMethod;
  path: string;
  headers: Record<string, string>;
  payload: string | undefined;
  /** This attempt's number, 1 for the first. */
  attempts: number;
}

/** The headers of every attempt of a call; the `Idempotency-Key` is the same across them. */
export function apiHeaders(
  apiKey: string,
  body: unknown,
  idempotencyKey: string | undefined,
): Record<string, string> {
  const headers: Record<string, string> = {
    Authorization: `Api-Key ${apiKey}`,
    Accept: 'application/json',
    'User-Agent': API_USER_AGENT,
  };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  if (idempotencyKey !== undefined) {
    headers['Idempotency-Key'] = idempotencyKey;
  }
  return headers;
}

/** Makes one attempt: its answer, or why it failed and whether that is worth another attempt. */
export async function attemptOnce(request: AttemptRequest): Promise<Attempt> {
  const { method, path, attempts } = request;
  let response: Response;
  let text: string;
  try {
    response = await request.fetch(`${request.baseUrl}${path}`, {
      method,
      headers: request.headers,
      body: request.payload,
      // Covers the body too: a server that sends headers and then stalls is abandoned as well.
      signal: AbortSignal.timeout(request.timeoutMs),
    });
    text = await response.text();
  } catch (cause) {
    const detail = redactText(describeNetworkError(cause, request.timeoutMs), request.apiKey);
    return {
      ok: false,
      retryable: true,
      error: new AqueductApiError({
        message: networkFailure(method, path, detail, attempts),
        method,
        path,
        attempts,
        cause,
      }),
    };
  }
  if (response.ok) {
    return { ok: true, status: response.status, text };
  }
  return failedAnswer(request, response, text);
}

/** A non-2xx answer: 429 and 5xx are retried (after `Retry-After` when given), other 4xx not. */
function failedAnswer(request: AttemptRequest, response: Response, text: string): Attempt {
  const { method, path, attempts } = request;
  const parsed = parseJson(text);
  const body = parsed === undefined ? undefined : redactDeep(parsed, request.apiKey);
  const { code, message } = describeErrorBody(body);
  const status = response.status;
  return {
    ok: false,
    retryable: status === TOO_MANY_REQUESTS || status >= SERVER_ERROR,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
    error: new AqueductApiError({
      message: httpFailure(method, path, status, message ?? (response.statusText || 'no details')),
      method,
      path,
      status,
      code,
      attempts,
      body,
    }),
  };
}

/**
 * `fetch failed` alone says nothing: the reason (ECONNREFUSED, ...) sits in its `cause`. Read by
 * shape, not `instanceof Error`: fetch's errors come from Node's own realm, which is not the
 * caller's under Jest (or in a vm context), so `instanceof` would miss them there.
 */
function describeNetworkError(error: unknown, timeoutMs: number): string {
  if (!isObject(error)) {
    return String(error);
  }
  if (error.name === 'TimeoutError') {
    return `no answer within ${timeoutMs} ms`;
  }
  const message = typeof error.message === 'string' ? error.message : String(error);
  const cause = isObject(error.cause) ? error.cause : undefined;
  const reason = cause?.code ?? cause?.message;
  return typeof reason === 'string' ? `${message} (${reason})` : message;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

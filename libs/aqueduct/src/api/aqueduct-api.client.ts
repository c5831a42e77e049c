import { Injectable } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { retryDelayMs } from '../utils/backoff';
import { normaliseEventType, toApiEventName } from '../events/aqueduct-event-types';
import { ProvisioningDto, normaliseProvisioning } from '../events/provisioning.dto';
import {
  API_MAX_RETRY_AFTER_MS,
  API_PATHS,
  API_RETRY_MAX_DELAY_MS,
  API_USER_AGENT,
  DEFAULT_API_BASE_URL,
  DEFAULT_API_MAX_RETRIES,
  DEFAULT_API_RETRY_BASE_DELAY_MS,
  DEFAULT_API_TIMEOUT_MS,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  REDACTED,
  UNEXPECTED_RESPONSE,
} from './aqueduct-api.constants';
import { describeErrorBody } from './aqueduct-api.error-body';
import { AqueductApiError } from './aqueduct-api.error';
import type {
  AqueductApiClientOptions,
  AqueductPostOptions,
  AqueductWebhookEndpoint,
  CreateWebhookEndpointInput,
} from './aqueduct-api.interfaces';
import {
  MALFORMED_API_KEY,
  MISSING_API_KEY,
  httpFailure,
  invalidArgument,
  invalidClientOption,
  networkFailure,
} from './aqueduct-api.messages';
import { parseRetryAfter } from './retry-after';
import { isRecord } from '../utils/is-record';

type HttpMethod = 'GET' | 'POST';

/** What one attempt ended with. */
type Attempt =
  | { ok: true; status: number; text: string }
  | { ok: false; error: AqueductApiError; retryable: boolean; retryAfterMs?: number };

/** Visible ASCII only: what a header value can carry without fetch rejecting it (and echoing it). */
const HEADER_TOKEN = /^[\x21-\x7e]+$/;
/** Keys a list response may wrap its array in; Aqueduct does not document which one it uses. */
const LIST_KEYS = ['data', 'results', 'items'] as const;

/**
 * A small client of Aqueduct's REST API: webhook endpoints and Provisioning objects. Usable alone
 * (`new AqueductApiClient({ apiKey })`) or as a Nest provider built by a factory.
 *
 * Every attempt has its own timeout; 429, 5xx, network errors and timeouts are retried with
 * exponential backoff and jitter (or as `Retry-After` says), other 4xx are not. Every POST carries
 * an `Idempotency-Key`, the same across the retries of one call, so a create whose answer was lost
 * is not performed twice.
 */
@Injectable()
export class AqueductApiClient {
  /** A true private field: not in `JSON.stringify(client)`, `util.inspect` or Nest's debug output. */
  readonly #apiKey: string;
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly fetchImpl: typeof fetch;

  constructor(options: AqueductApiClientOptions) {
    if (!options || typeof options !== 'object') {
      throw new Error(invalidClientOption('options', 'must be an object with at least "apiKey"'));
    }
    this.#apiKey = checkApiKey(options.apiKey);
    this.baseUrl = checkBaseUrl(options.baseUrl ?? DEFAULT_API_BASE_URL);
    this.timeoutMs = checkNumber('timeoutMs', options.timeoutMs, DEFAULT_API_TIMEOUT_MS, 1);
    this.maxRetries = checkNumber('maxRetries', options.maxRetries, DEFAULT_API_MAX_RETRIES, 0);
    this.retryBaseDelayMs = checkNumber(
      'retryBaseDelayMs',
      options.retryBaseDelayMs,
      DEFAULT_API_RETRY_BASE_DELAY_MS,
      0,
    );
    if (options.fetch !== undefined && typeof options.fetch !== 'function') {
      throw new Error(invalidClientOption('fetch', 'must be a function'));
    }
    // Looked up per call, not captured: a test that stubs globalThis.fetch later still reaches it.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /**
   * Registers a webhook endpoint. `enabledEvents` may use either spelling and is sent with
   * underscores; the answer's `enabledEvents` are dotted, as deliveries name them. The answer is
   * the only time Aqueduct returns the endpoint's `secret`.
   */
  async createWebhookEndpoint(
    input: CreateWebhookEndpointInput,
    options: AqueductPostOptions = {},
  ): Promise<AqueductWebhookEndpoint> {
    const body = webhookEndpointBody(input);
    const idempotencyKey = checkIdempotencyKey(options?.idempotencyKey) ?? randomUUID();
    const path = API_PATHS.webhookEndpoints;
    const { json, status, attempts } = await this.request('POST', path, body, idempotencyKey);
    return this.toEndpoint(json, { method: 'POST', path, status, attempts });
  }

  /** Every webhook endpoint of the account, `enabledEvents` dotted. */
  async listWebhookEndpoints(): Promise<AqueductWebhookEndpoint[]> {
    const path = API_PATHS.webhookEndpoints;
    const { json, status, attempts } = await this.request('GET', path);
    const context = { method: 'GET', path, status, attempts };
    const list = Array.isArray(json)
      ? json
      : isRecord(json)
        ? LIST_KEYS.map((key) => json[key]).find(Array.isArray)
        : undefined;
    if (!list) {
      const shape = isRecord(json)
        ? `an object with keys ${Object.keys(json).join(', ')}`
        : 'not a list';
      throw unexpected(context, `the list of webhook endpoints is ${shape}`);
    }
    return list.map((item) => this.toEndpoint(item, context));
  }

  /**
   * A Provisioning object, as a `ProvisioningDto` (dates as Date, `provisioningOrgs` an array),
   * like the `object` of a `provisioning.*` event: `GET /v1/provisioning/{id}`.
   */
  async getProvisioning(id: string): Promise<ProvisioningDto> {
    if (typeof id !== 'string' || id.trim() === '') {
      throw new TypeError(invalidArgument('getProvisioning', 'id', 'must be a non-empty string'));
    }
    const path = API_PATHS.provisioning(id.trim());
    const { json, status, attempts } = await this.request('GET', path);
    const context = { method: 'GET', path, status, attempts };
    if (!isRecord(json)) {
      throw unexpected(context, 'the Provisioning object is not a JSON object');
    }
    const provisioning = plainToInstance(ProvisioningDto, normaliseProvisioning(json));
    const errors = flatten(
      validateSync(provisioning, { forbidUnknownValues: false }),
      'provisioning',
    );
    if (errors.length) {
      throw unexpected(context, `the Provisioning object is invalid: ${errors.join('; ')}`);
    }
    return provisioning;
  }

  /** One call: attempts until a 2xx, a non-retryable failure, or the retries are spent. */
  private async request(
    method: HttpMethod,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<{ json: unknown; status: number; attempts: number }> {
    const headers: Record<string, string> = {
      Authorization: `Api-Key ${this.#apiKey}`,
      Accept: 'application/json',
      'User-Agent': API_USER_AGENT,
    };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (idempotencyKey !== undefined) {
      headers['Idempotency-Key'] = idempotencyKey;
    }
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(method, path, headers, payload, attempt);
      if (outcome.ok) {
        const json = parseJson(outcome.text);
        if (json === undefined) {
          const context = { method, path, status: outcome.status, attempts: attempt };
          throw unexpected(context, 'the response body is not JSON');
        }
        return { json, status: outcome.status, attempts: attempt };
      }
      if (!outcome.retryable || attempt > this.maxRetries) {
        throw outcome.error;
      }
      const delay =
        outcome.retryAfterMs ??
        retryDelayMs(attempt, this.retryBaseDelayMs, API_RETRY_MAX_DELAY_MS);
      if (delay > API_MAX_RETRY_AFTER_MS) {
        throw outcome.error;
      }
      await sleep(delay);
    }
  }

  private async attempt(
    method: HttpMethod,
    path: string,
    headers: Record<string, string>,
    payload: string | undefined,
    attempts: number,
  ): Promise<Attempt> {
    let response: Response;
    let text: string;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: payload,
        // Covers the body too: a server that sends headers and then stalls is abandoned as well.
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await response.text();
    } catch (cause) {
      const detail = this.redact(describeNetworkError(cause, this.timeoutMs));
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
    const parsed = parseJson(text);
    const body = parsed === undefined ? undefined : this.redactDeep(parsed);
    const { code, message } = describeErrorBody(body);
    const status = response.status;
    return {
      ok: false,
      retryable: status === 429 || status >= 500,
      retryAfterMs: parseRetryAfter(response.headers.get('retry-after')),
      error: new AqueductApiError({
        message: httpFailure(
          method,
          path,
          status,
          message ?? (response.statusText || 'no details'),
        ),
        method,
        path,
        status,
        code,
        attempts,
        body,
      }),
    };
  }

  /** Turns a raw API answer into an endpoint, events dotted; anything else is an unexpected answer. */
  private toEndpoint(value: unknown, context: ErrorContext): AqueductWebhookEndpoint {
    if (!isRecord(value) || typeof value.id !== 'string') {
      throw unexpected(context, 'a webhook endpoint has no string "id"');
    }
    const events = Array.isArray(value.enabledEvents) ? value.enabledEvents : [];
    return {
      ...value,
      enabledEvents: events.filter((event) => typeof event === 'string').map(normaliseEventType),
    } as AqueductWebhookEndpoint;
  }

  /** Anything a server (or a proxy) echoes back is scrubbed of the key before it is kept. */
  private redact(text: string): string {
    return text.split(this.#apiKey).join(REDACTED);
  }

  private redactDeep(value: unknown): unknown {
    if (typeof value === 'string') {
      return this.redact(value);
    }
    if (Array.isArray(value)) {
      return value.map((item) => this.redactDeep(item));
    }
    if (isRecord(value)) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [this.redact(key), this.redactDeep(item)]),
      );
    }
    return value;
  }
}

interface ErrorContext {
  method: string;
  path: string;
  status: number;
  attempts: number;
}

/** A 2xx whose body is not what the call returns: not retried, since asking again gives the same. */
function unexpected(context: ErrorContext, detail: string): AqueductApiError {
  return new AqueductApiError({
    ...context,
    code: UNEXPECTED_RESPONSE,
    message: httpFailure(
      context.method,
      context.path,
      context.status,
      `unexpected answer: ${detail}`,
    ),
  });
}

function webhookEndpointBody(input: CreateWebhookEndpointInput): Record<string, unknown> {
  const fail = (field: string, problem: string) =>
    new TypeError(invalidArgument('createWebhookEndpoint', field, problem));
  if (!isRecord(input)) {
    throw fail('input', 'must be an object { url, enabledEvents, secret, description? }');
  }
  const { url, enabledEvents, secret, description } = input;
  if (typeof url !== 'string' || !isHttpUrl(url)) {
    throw fail('url', 'must be an absolute http:// or https:// URL');
  }
  if (
    !Array.isArray(enabledEvents) ||
    enabledEvents.length === 0 ||
    !enabledEvents.every((event) => typeof event === 'string' && event.trim() !== '')
  ) {
    throw fail('enabledEvents', 'must be a non-empty array of event names');
  }
  // The secret is never echoed, even when wrong.
  if (typeof secret !== 'string' || secret.trim() === '') {
    throw fail('secret', 'must be a non-empty string');
  }
  if (description !== undefined && typeof description !== 'string') {
    throw fail('description', 'must be a string when given');
  }
  return {
    url,
    enabledEvents: [...new Set(enabledEvents.map(toApiEventName))],
    secret,
    ...(description === undefined ? {} : { description }),
  };
}

function checkApiKey(apiKey: unknown): string {
  if (typeof apiKey !== 'string' || apiKey.trim() === '') {
    throw new Error(MISSING_API_KEY);
  }
  const trimmed = apiKey.trim();
  if (!HEADER_TOKEN.test(trimmed)) {
    throw new Error(MALFORMED_API_KEY);
  }
  return trimmed;
}

function checkBaseUrl(baseUrl: unknown): string {
  if (typeof baseUrl !== 'string' || !isHttpUrl(baseUrl)) {
    throw new Error(invalidClientOption('baseUrl', 'must be an absolute http:// or https:// URL'));
  }
  return new URL(baseUrl).href.replace(/\/+$/, '');
}

function checkNumber(field: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(invalidClientOption(field, `must be an integer >= ${min}`));
  }
  return value;
}

function checkIdempotencyKey(key: unknown): string | undefined {
  if (key === undefined) {
    return undefined;
  }
  if (
    typeof key !== 'string' ||
    key.length > IDEMPOTENCY_KEY_MAX_LENGTH ||
    !HEADER_TOKEN.test(key)
  ) {
    throw new TypeError(
      invalidArgument(
        'createWebhookEndpoint',
        'idempotencyKey',
        `must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters`,
      ),
    );
  }
  return key;
}

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
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

function parseJson(text: string): unknown {
  if (text.trim() === '') {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Nested class-validator errors → `provisioning.provisioningOrgs.0.users.1.email: ...`. */
function flatten(errors: ValidationError[], parent: string): string[] {
  return errors.flatMap((error) => {
    const path = `${parent}.${error.property}`;
    const own = Object.values(error.constraints ?? {}).map((text) => `${path}: ${text}`);
    return [...own, ...flatten(error.children ?? [], path)];
  });
}

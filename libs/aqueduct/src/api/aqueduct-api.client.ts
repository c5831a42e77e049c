import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { retryDelayMs } from '../utils/backoff';
import type { ProvisioningDto } from '../events/provisioning.dto';
import {
  API_MAX_RETRY_AFTER_MS,
  API_PATHS,
  API_RETRY_MAX_DELAY_MS,
} from './aqueduct-api.constants';
import {
  checkIdempotencyKey,
  checkProvisioningId,
  webhookEndpointBody,
} from './aqueduct-api.arguments';
import { type HttpMethod, apiHeaders, attemptOnce } from './aqueduct-api.attempt';
import { resolveApiClientOptions } from './aqueduct-api.client-options';
import type {
  AqueductApiClientOptions,
  AqueductPostOptions,
  AqueductWebhookEndpoint,
  CreateWebhookEndpointInput,
} from './aqueduct-api.interfaces';
import {
  parseJson,
  toEndpoint,
  toEndpointList,
  toProvisioning,
  unexpected,
} from './aqueduct-api.responses';

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
    const resolved = resolveApiClientOptions(options);
    this.#apiKey = resolved.apiKey;
    this.baseUrl = resolved.baseUrl;
    this.timeoutMs = resolved.timeoutMs;
    this.maxRetries = resolved.maxRetries;
    this.retryBaseDelayMs = resolved.retryBaseDelayMs;
    this.fetchImpl = resolved.fetch;
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
    return toEndpoint(json, { method: 'POST', path, status, attempts });
  }

  /** Every webhook endpoint of the account, `enabledEvents` dotted. */
  async listWebhookEndpoints(): Promise<AqueductWebhookEndpoint[]> {
    const path = API_PATHS.webhookEndpoints;
    const { json, status, attempts } = await this.request('GET', path);
    return toEndpointList(json, { method: 'GET', path, status, attempts });
  }

  /**
   * A Provisioning object, as a `ProvisioningDto` (dates as Date, `provisioningOrgs` an array),
   * like the `object` of a `provisioning.*` event: `GET /v1/provisioning/{id}`.
   */
  async getProvisioning(id: string): Promise<ProvisioningDto> {
    const path = API_PATHS.provisioning(checkProvisioningId(id));
    const { json, status, attempts } = await this.request('GET', path);
    return toProvisioning(json, { method: 'GET', path, status, attempts });
  }

  /** One call: attempts until a 2xx, a non-retryable failure, or the retries are spent. */
  private async request(
    method: HttpMethod,
    path: string,
    body?: unknown,
    idempotencyKey?: string,
  ): Promise<{ json: unknown; status: number; attempts: number }> {
    const headers = apiHeaders(this.#apiKey, body, idempotencyKey);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      const outcome = await attemptOnce({
        fetch: this.fetchImpl,
        baseUrl: this.baseUrl,
        timeoutMs: this.timeoutMs,
        apiKey: this.#apiKey,
        method,
        path,
        headers,
        payload,
        attempts: attempt,
      });
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
}

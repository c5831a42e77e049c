import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  Optional,
} from '@nestjs/common';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import { toApiEventName } from '../events/aqueduct-event-types';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { ANY_AQUEDUCT_EVENT } from '../listeners/on-aqueduct-event.decorator';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AqueductApiClient } from './aqueduct-api.client';
import type { AqueductWebhookEndpoint } from './aqueduct-api.interfaces';
import { aqueductTypesListenedTo, compareEndpoints } from './endpoint-problems';
import { printable } from '../utils/printable';

/** What one check found. */
export interface EndpointCheckResult {
  /** True when an endpoint points at `publicUrl` and sends every event type this app listens to. */
  ok: boolean;
  /** One line each: what is wrong and how to fix it (or why the check could not be made). */
  problems: string[];
  /** Endpoints registered on the account (0 when the API could not be asked). */
  endpoints: number;
  checkedAt: Date;
  /** Set when Aqueduct's API could not be asked: the endpoint itself is then not known to be wrong. */
  error?: string;
}

/** Endpoints listed in an alert's details at most (the reason already names the problem). */
const MAX_DETAILED_ENDPOINTS = 20;

/**
 * Catches, hours rather than days later, the setups where Aqueduct sends this app nothing: no
 * endpoint at `publicUrl` (never registered, a typo, a domain change, or deleted) or one that does
 * not send a type a listener waits for. Lists the endpoints at start-up and every
 * `endpointCheck.intervalMs`; a problem opens the `endpoint` alert (health degraded, one mail),
 * a clean check resolves it. An API that cannot be asked is only logged: that is not the
 * endpoint's fault, and an alert for it would cry wolf on every Aqueduct hiccup.
 */
@Injectable()
export class EndpointCheck implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductEndpointCheck');
  private timer?: NodeJS.Timeout;
  private last?: EndpointCheckResult;
  /** Checks run one after the other, so an older answer never overwrites a newer one's alert. */
  private queue: Promise<unknown> = Promise.resolve();
  private running = false;
  private alertWrite?: Promise<unknown>;
  private stopped = false;

  constructor(
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly alerts: AqueductAlerts,
    private readonly registry: AqueductListenerRegistry,
    @Optional() private readonly api?: AqueductApiClient,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.endpointCheck.enabled) {
      return;
    }
    // Not awaited: Aqueduct's API being slow or down must neither delay nor fail start-up.
    this.background();
    this.timer = setInterval(() => this.background(), this.options.endpointCheck.intervalMs);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    // Only the database write is waited for (it needs the pool about to close), not the API call.
    await this.alertWrite;
  }

  /** The last check's result, if one has finished. */
  lastResult(): EndpointCheckResult | undefined {
    return this.last;
  }

  /** Lists the endpoints now, opens or resolves the `endpoint` alert, and says what it found. */
  check(): Promise<EndpointCheckResult> {
    const result = this.queue.then(() => this.run());
    this.queue = result.catch(() => undefined);
    return result;
  }

  private background(): void {
    if (this.running) {
      return; // the previous check is still waiting for the API
    }
    this.running = true;
    this.check()
      .catch((error) =>
        this.logger.error(printable(`Endpoint check failed: ${(error as Error).message}`)),
      )
      .finally(() => (this.running = false));
  }

  private async run(): Promise<EndpointCheckResult> {
    const checkedAt = new Date();
    const { publicUrl } = this.options;
    if (!this.api || !publicUrl) {
      const error = 'the endpoint check needs the apiKey and publicUrl options';
      return this.keep({ ok: false, problems: [error], endpoints: 0, checkedAt, error });
    }
    let endpoints: AqueductWebhookEndpoint[];
    try {
      endpoints = await this.api.listWebhookEndpoints();
    } catch (error) {
      // AqueductApiError messages never carry the key.
      const message = (error as Error).message;
      this.logger.warn(
        printable(`Could not check Aqueduct's webhook endpoints (no alert): ${message}`),
      );
      return this.keep({
        ok: false,
        problems: [`Could not list Aqueduct's webhook endpoints: ${message}`],
        endpoints: 0,
        checkedAt,
        error: message,
      });
    }
    const wantedBy = this.wantedBy();
    const wanted = aqueductTypesListenedTo([Object.keys(wantedBy)]);
    const { problems, missingEvents } = compareEndpoints(publicUrl, wanted, endpoints);
    const result = this.keep({
      ok: problems.length === 0,
      problems,
      endpoints: endpoints.length,
      checkedAt,
    });
    problems.forEach((problem) => this.logger.warn(printable(problem)));
    if (this.stopped) {
      return result;
    }
    const details = {
      publicUrl,
      missingEvents,
      listenedBy: Object.fromEntries(
        Object.entries(wantedBy).map(([type, names]) => [toApiEventName(type), names]),
      ),
      endpoints: endpoints.slice(0, MAX_DETAILED_ENDPOINTS).map((e) => ({
        id: e.id,
        url: e.url,
        enabledEvents: e.enabledEvents.map(toApiEventName),
      })),
    };
    this.alertWrite = (
      result.ok
        ? this.alerts.resolve('endpoint')
        : this.alerts.raise('endpoint', problems.join(' '), details)
    ).catch((error) =>
      this.logger.error(`Could not record the endpoint alert: ${(error as Error).message}`),
    );
    await this.alertWrite;
    return result;
  }

  /** Aqueduct's event types this app listens to (dotted), each with the listeners that want it. */
  private wantedBy(): Record<string, string[]> {
    const byType: Record<string, string[]> = {};
    for (const name of this.registry.names().sort()) {
      const types = this.registry.get(name)?.types ?? new Set<string>();
      const any = types.has(ANY_AQUEDUCT_EVENT);
      for (const type of aqueductTypesListenedTo([types])) {
        (byType[type] ??= []).push(any ? `${name} (*)` : name);
      }
    }
    return byType;
  }

  private keep(result: EndpointCheckResult): EndpointCheckResult {
    this.last = result;
    return result;
  }
}

import type { Type } from '@nestjs/common';
import type { AccessOptions } from './access-options.interface';
import type { AqueductConsoleOptions } from './console-options.interface';
import type { EmailOptions } from './email-options.interface';
import type { ProvisioningAdapter } from './provisioning-adapter.interface';
import type {
  AlertOptions,
  DispatchOptions,
  EndpointCheckOptions,
  ExpiryOptions,
  HealthOptions,
  MetricsOptions,
  RetentionOptions,
} from './runtime-options.interface';
import type { VerificationOptions } from './verification-options.interface';

export type * from './access-options.interface';
export type * from './console-options.interface';
export type * from './runtime-options.interface';
export type * from './verification-options.interface';
/** Options of `AqueductModule.forRoot()` / `forRootAsync()`. */
export interface AqueductModuleOptions {
  /**
   * Webhook secrets. Several may be given during a rotation: a request signed with any of them is
   * accepted. Required unless `verification.scheme` is `custom`. A secret with whitespace around it (a
   * secret file's trailing newline) also verifies without it.
   */
  secrets?: string[];
  /**
   * How Aqueduct proves a request is genuine. Aqueduct does not document it; see the README.
   * @default { scheme: 'shared-secret' }
   */
  verification?: VerificationOptions;
  /**
   * Route of the webhook endpoint (the app's global prefix applies on top of it).
   * @default 'webhooks/aqueduct'
   */
  path?: string;
  /**
   * Largest request body accepted, in bytes; larger ones are answered 413 and not read further.
   * @default 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * How long storing an event may take before the request is answered 503 (the sender retries).
   * @default 5000
   */
  storeTimeoutMs?: number;
  /**
   * Run the module's hot inserts (the webhook route's, and the ledger's `access.*` events) as
   * prepared (named) statements, parsed and planned once per connection. Turn off behind a
   * PgBouncer in transaction mode older than 1.21 (or without `max_prepared_statements`), which
   * cannot route named statements.
   * @default true
   */
  preparedStatements?: boolean;
  /**
   * What an authentic request gets when it cannot be understood: not JSON, not an object, or
   * refused by the DTOs of a known type (a body without a type is accepted, as `unknown`).
   * `'quarantine'`: 200 `{ received, id, quarantined: true, errors }`, stored byte for byte as
   * `quarantined`, no listener run, an alert raised; reprocess it after a fix. `'reject'`: 400
   * naming the fields (stored the same way), which Aqueduct retries four times and then disables
   * the endpoint for.
   * @default 'quarantine'
   */
  invalidEvents?: 'quarantine' | 'reject';
  /** When operators are alerted. */
  alerts?: AlertOptions;
  /** Delivery of stored events to listeners. */
  dispatch?: DispatchOptions;
  /**
   * Keep the access ledger from provisioning events and drive the `ProvisioningAdapter` (the
   * built-in `aqueduct.provisioning` listener). Turn off to receive and fan out events only.
   * @default true
   */
  ledger?: boolean;
  /**
   * Your `ProvisioningAdapter` class: register it as a provider in one of your modules so it can
   * inject your services (it is looked up there), or it is instantiated by the module.
   * @default an adapter that only logs
   */
  provisioningAdapter?: Type<ProvisioningAdapter>;
  /** The grace-period expiry job. */
  expiry?: ExpiryOptions;
  /**
   * Deleting old events (see `RetentionOptions`).
   * @default { enabled: false } (nothing is ever deleted)
   */
  retention?: RetentionOptions;
  /** Access checks: the customer of a request, payment, the cache, the outage fallback. */
  access?: AccessOptions;
  /**
   * Your features, by the Aqueduct product that grants them, for `@RequiresFeature('sso')`,
   * `check(customerId, { feature })` and `getFeatures(customerId)`. A customer has a feature
   * while any product listing it grants access.
   * @example { prod_pro: ['reports', 'api'], prod_team: ['reports', 'api', 'sso'] }
   * @default {} (no features; products are checked by id)
   */
  features?: Record<string, string[]>;
  /** Thresholds of `AqueductHealthIndicator`. */
  health?: HealthOptions;
  /** Prometheus metrics (needs the optional `prom-client` package). */
  metrics?: MetricsOptions;
  /**
   * Aqueduct API key (`Authorization: Api-Key …`). When given, `AqueductApiClient` can be injected.
   * @default undefined
   */
  apiKey?: string;
  /**
   * Base URL of Aqueduct's API.
   * @default 'https://api.tryaqueduct.com'
   */
  apiBaseUrl?: string;
  /**
   * The absolute http(s) URL at which Aqueduct reaches this app's webhook endpoint, as registered
   * with Aqueduct: the route with your global prefix, behind your proxy, e.g.
   * `https://app.example.com/api/webhooks/aqueduct`. With `apiKey`, it turns on `endpointCheck`.
   * @default undefined (the endpoint is not checked)
   */
  publicUrl?: string;
  /**
   * The check that Aqueduct's webhook endpoints point at `publicUrl` with the events this app
   * listens to (see `EndpointCheckOptions`).
   * @default { enabled: true when apiKey and publicUrl are set, intervalMs: 10800000 (3 hours) }
   */
  endpointCheck?: EndpointCheckOptions;
  /**
   * Email the provisioned users when access starts, when the paid period ends, and when access is
   * gone; and operators when a delivery is dead-lettered. Off when not given.
   */
  email?: EmailOptions;
  /**
   * The web console (see `AqueductConsoleOptions`). It refuses to start without a `guard` unless
   * `allowUnauthenticated` is set.
   * @default undefined (no console routes)
   */
  console?: AqueductConsoleOptions;
}

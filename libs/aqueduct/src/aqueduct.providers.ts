import type { DynamicModule, Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { clockProvider, provisioningAdapterProvider } from './access/access.providers';
import { AccessCache } from './access/access-cache';
import { AqueductAccessService } from './access/aqueduct-access.service';
import { AqueductLedger } from './access/aqueduct-ledger.service';
import { ExpiryJob } from './access/expiry.job';
import { ReceiverUptime } from './access/receiver-uptime';
import { ProvisioningListener } from './access/provisioning.listener';
import { ProvisioningReconciler } from './access/provisioning.reconciler';
import { EntitlementGuard } from './access/requires-entitlement.guard';
import { AqueductAlerts } from './alerts/aqueduct-alerts.service';
import { SilenceMonitor } from './access/silence.monitor';
import { HostInstances } from './options/host-instances';
import { VerificationMonitor } from './alerts/verification.monitor';
import { aqueductApiClientProvider } from './api/aqueduct-api.provider';
import { AqueductApiClient } from './api/aqueduct-api.client';
import { EndpointCheck } from './api/endpoint.check';
import { AqueductDispatcher } from './dispatch/aqueduct-dispatcher.service';
import { AqueductHealthIndicator } from './health/aqueduct-health.indicator';
import { ListenerCatchUp } from './listeners/listener-catch-up';
import { AqueductMetrics } from './observability/aqueduct-metrics.service';
import { DeadDeliveryAlert } from './dispatch/dead-delivery.alert';
import { EmailTransportCloser, emailTransportProvider } from './email/email-transport.provider';
import { EmailListener } from './email/email.listener';
import { DeliveriesNotificationListener } from './dispatch/deliveries-notification.listener';
import { DELIVERY_QUEUE } from './storage/delivery-queue.interface';
import { DispatchSignal } from './storage/dispatch-signal';
import { AqueductEventPublisher } from './listeners/aqueduct-event.publisher';
import { AqueductEventCommands } from './admin/aqueduct-event.commands';
import { AqueductEventReader } from './admin/aqueduct-event.reader';
import { AqueductEventsService } from './admin/aqueduct-events.service';
import { PruneJob } from './admin/retention.job';
import { AqueductDeliveryStore } from './storage/aqueduct-delivery.store';
import { AqueductEventStore } from './storage/aqueduct-event.store';
import { AqueductRetentionStore } from './storage/aqueduct-retention.store';
import { AqueductListenerRegistry } from './listeners/aqueduct-listener.registry';
import { AqueductListenersExplorer } from './listeners/aqueduct-listeners.explorer';
import { RawBodyInstaller } from './http/raw-body.installer';
import { AqueductSignatureGuard } from './http/signature.guard';
import { createWebhookController } from './http/webhook.controller';
import { WebhookReceiver } from './http/webhook-receiver.service';
import { webhookRouteProvider } from './http/webhook-route.provider';
import { AQUEDUCT_OPTIONS, resolvedOptionsProvider } from './options/aqueduct-options.provider';
import { AQUEDUCT_CLOCK } from './access/aqueduct-clock';
import { AqueductInbox } from './storage/aqueduct-inbox.service';
import { AqueductSchemaCheck } from './storage/aqueduct-schema.check';
import { PostgresNotifications } from './storage/postgres-notifications';
import { webhookVerifierProvider } from './verification/verification.providers';
import { createConsoleController } from './console/console.controller';
import { consoleProviders, consoleRouteProvider } from './console/console.providers';
import type { AqueductModuleOptions } from './options/aqueduct-options.interface';

/**
 * The webhook's way in, past the route and its verifier: the host's own classes (its verifier,
 * adapter, console guard), the schema check, the inbox, the shared LISTEN connection, the alerts
 * that verification failures raise, the receiver and its guards.
 */
const INGEST_PROVIDERS: Provider[] = [
  HostInstances,
  AqueductSchemaCheck,
  AqueductInbox,
  PostgresNotifications,
  AqueductAlerts,
  VerificationMonitor,
  WebhookReceiver,
  AqueductSignatureGuard,
  RawBodyInstaller,
];

/**
 * Listeners and the dispatcher that runs them, with the stores and admin services over events and
 * the retention job.
 */
const DISPATCH_PROVIDERS: Provider[] = [
  AqueductListenerRegistry,
  AqueductListenersExplorer,
  ListenerCatchUp,
  DispatchSignal,
  DeliveriesNotificationListener,
  AqueductDeliveryStore,
  { provide: DELIVERY_QUEUE, useExisting: AqueductDeliveryStore },
  AqueductEventStore,
  AqueductRetentionStore,
  AqueductEventReader,
  AqueductEventCommands,
  PruneJob,
  AqueductDispatcher,
  AqueductEventsService,
  AqueductEventPublisher,
];

/**
 * The access ledger and what reads it: the clock, the host's adapter, checks, guard, expiry, and
 * the silence alert (the ledger knows when Aqueduct's ends are due).
 */
const ACCESS_PROVIDERS: Provider[] = [
  clockProvider,
  provisioningAdapterProvider,
  AqueductLedger,
  ProvisioningReconciler,
  ProvisioningListener,
  ReceiverUptime,
  AccessCache,
  AqueductAccessService,
  EntitlementGuard,
  ExpiryJob,
  SilenceMonitor,
];

/** What tells people: dead deliveries turned into alerts, and the mails. */
const NOTIFICATION_PROVIDERS: Provider[] = [
  DeadDeliveryAlert,
  emailTransportProvider,
  EmailTransportCloser,
  EmailListener,
];

/** Aqueduct's API client (when `apiKey` is set) and the endpoint check that uses it. */
const API_PROVIDERS: Provider[] = [aqueductApiClientProvider, EndpointCheck];

/** What operators watch: metrics and health. */
const MONITORING_PROVIDERS: Provider[] = [AqueductMetrics, AqueductHealthIndicator];

/** What a host may inject. */
const EXPORTED_PROVIDERS = [
  AqueductEventsService,
  AqueductEventReader,
  AqueductEventCommands,
  AqueductAlerts,
  AqueductDispatcher,
  AqueductAccessService,
  EntitlementGuard,
  ExpiryJob,
  AQUEDUCT_OPTIONS,
  AQUEDUCT_CLOCK,
  AqueductApiClient,
  EndpointCheck,
  AqueductHealthIndicator,
  AqueductMetrics,
];

/**
 * Adds the module's own parts to the definition `ConfigurableModuleBuilder` produced. `options`
 * are known for `forRoot` only: then the console is left out entirely unless configured; with
 * `forRootAsync` its controller is added and mounted (or emptied) once the options resolve.
 */
export function withAqueductInternals(
  definition: DynamicModule,
  options?: AqueductModuleOptions,
): DynamicModule {
  const controller = createWebhookController();
  const consoleController = options && !options.console ? undefined : createConsoleController();
  return {
    ...definition,
    imports: [
      ...(definition.imports ?? []),
      // The schedule module is the host's to register, never the library's (the jobs keep their own crons).
      DiscoveryModule,
    ],
    controllers: consoleController ? [controller, consoleController] : [controller],
    providers: [
      ...(definition.providers ?? []),
      resolvedOptionsProvider,
      webhookVerifierProvider,
      webhookRouteProvider(controller),
      ...INGEST_PROVIDERS,
      ...DISPATCH_PROVIDERS,
      ...ACCESS_PROVIDERS,
      ...NOTIFICATION_PROVIDERS,
      ...API_PROVIDERS,
      ...MONITORING_PROVIDERS,
      ...(consoleController ? [consoleRouteProvider(consoleController), ...consoleProviders] : []),
    ],
    exports: [...(definition.exports ?? []), ...EXPORTED_PROVIDERS],
  };
}

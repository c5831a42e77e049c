import type { DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { clockProvider, provisioningAdapterProvider } from './access/access.providers';
import { AccessCache } from './access/access-cache';
import { AqueductAccessService } from './access/aqueduct-access.service';
import { AqueductLedger } from './access/aqueduct-ledger.service';
import { ExpiryJob } from './access/expiry.job';
import { ProvisioningListener } from './access/provisioning.listener';
import { ProvisioningReconciler } from './access/provisioning.reconciler';
import { EntitlementGuard } from './access/requires-entitlement.guard';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductAlerts } from './alerts/aqueduct-alerts.service';
import { VerificationMonitor } from './alerts/verification.monitor';
import { aqueductApiClientProvider } from './api/aqueduct-api.provider';
import { AqueductApiClient } from './api/aqueduct-api.client';
import { EndpointCheck } from './api/endpoint.check';
import { AqueductDispatcher } from './dispatch/aqueduct-dispatcher.service';
import { AqueductHealthIndicator } from './observability/aqueduct-health.indicator';
import { AqueductMetrics } from './observability/aqueduct-metrics.service';
import { DeadDeliveryAlert } from './dispatch/dead-delivery.alert';
import { emailTransportProvider } from './email/email-transport.provider';
import { EmailListener } from './email/email.listener';
import { DeliveriesNotificationListener } from './dispatch/deliveries-notification.listener';
import { DELIVERY_QUEUE } from './dispatch/delivery-queue.interface';
import { DispatchSignal } from './dispatch/dispatch-signal';
import { PostgresDeliveryQueue } from './dispatch/postgres-delivery.queue';
import { AqueductEventPublisher } from './events/aqueduct-event.publisher';
import { AqueductEventsService } from './events/aqueduct-events.service';
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
import { aqueductEntities } from './storage/aqueduct-storage';
import { webhookVerifierProvider } from './verification/verification.providers';
import { createConsoleController } from './console/console.controller';
import { consoleProviders, consoleRouteProvider } from './console/console.providers';
import type { AqueductModuleOptions } from './interfaces/aqueduct-options.interface';

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
    // Global, so that AqueductAccessService and @RequiresEntitlement work in every host module.
    global: true,
    imports: [
      ...(definition.imports ?? []),
      // No ScheduleModule.forRoot(): that is the host's (the expiry job has a cron of its own).
      DiscoveryModule,
      TypeOrmModule.forFeature(aqueductEntities),
    ],
    controllers: consoleController ? [controller, consoleController] : [controller],
    providers: [
      ...(definition.providers ?? []),
      resolvedOptionsProvider,
      webhookVerifierProvider,
      webhookRouteProvider(controller),
      AqueductSchemaCheck,
      AqueductInbox,
      PostgresNotifications,
      AqueductAlerts,
      VerificationMonitor,
      WebhookReceiver,
      AqueductSignatureGuard,
      RawBodyInstaller,
      AqueductListenerRegistry,
      AqueductListenersExplorer,
      DispatchSignal,
      DeliveriesNotificationListener,
      { provide: DELIVERY_QUEUE, useClass: PostgresDeliveryQueue },
      AqueductDispatcher,
      AqueductEventsService,
      AqueductEventPublisher,
      clockProvider,
      provisioningAdapterProvider,
      AqueductLedger,
      ProvisioningReconciler,
      ProvisioningListener,
      AccessCache,
      AqueductAccessService,
      EntitlementGuard,
      ExpiryJob,
      DeadDeliveryAlert,
      emailTransportProvider,
      EmailListener,
      aqueductApiClientProvider,
      EndpointCheck,
      AqueductMetrics,
      AqueductHealthIndicator,
      ...(consoleController ? [consoleRouteProvider(consoleController), ...consoleProviders] : []),
    ],
    exports: [
      ...(definition.exports ?? []),
      AqueductEventsService,
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
    ],
  };
}

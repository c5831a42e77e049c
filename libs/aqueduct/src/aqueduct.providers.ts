import type { DynamicModule } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AqueductDispatcher } from './dispatch/aqueduct-dispatcher.service';
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
import { resolvedOptionsProvider } from './options/aqueduct-options.provider';
import { AqueductInbox } from './storage/aqueduct-inbox.service';
import { AqueductSchemaCheck } from './storage/aqueduct-schema.check';
import { aqueductEntities } from './storage/aqueduct-storage';
import { webhookVerifierProvider } from './verification/verification.providers';

/** Adds the module's own parts to the definition `ConfigurableModuleBuilder` produced. */
export function withAqueductInternals(definition: DynamicModule): DynamicModule {
  const controller = createWebhookController();
  return {
    ...definition,
    imports: [
      ...(definition.imports ?? []),
      DiscoveryModule,
      TypeOrmModule.forFeature(aqueductEntities),
    ],
    controllers: [controller],
    providers: [
      ...(definition.providers ?? []),
      resolvedOptionsProvider,
      webhookVerifierProvider,
      webhookRouteProvider(controller),
      AqueductSchemaCheck,
      AqueductInbox,
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
    ],
    exports: [...(definition.exports ?? []), AqueductEventsService, AqueductDispatcher],
  };
}

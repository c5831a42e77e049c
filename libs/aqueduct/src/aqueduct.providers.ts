import type { DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
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
    imports: [...(definition.imports ?? []), TypeOrmModule.forFeature(aqueductEntities)],
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
    ],
    exports: [...(definition.exports ?? [])],
  };
}

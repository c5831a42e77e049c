/**
 * The public API of nestjs-aqueduct: named exports only, listed in the package README's "API"
 * section (a unit test keeps the two equal). Everything else is internal and may change.
 */

// The module and its options.
export { AqueductModule } from './aqueduct.module';
export type { AqueductModuleExtras } from './options/aqueduct-module.definition';
export type {
  AccessCacheOptions,
  AccessFallback,
  AccessOptions,
  AlertOptions,
  AqueductConsoleOptions,
  AqueductModuleOptions,
  CustomerIdResolver,
  CustomVerification,
  DispatchOptions,
  EndpointCheckOptions,
  ExpiryOptions,
  HealthOptions,
  HmacVerification,
  MetricsOptions,
  RetentionOptions,
  SharedSecretVerification,
  StandardWebhooksVerification,
  VerificationOptions,
  VerificationScheme,
} from './options/aqueduct-options.interface';
export type {
  EmailContent,
  EmailOptions,
  EmailTemplate,
  EmailTemplateName,
  EmailTemplateVariables,
} from './options/email-options.interface';
export { aqueductEntities, aqueductMigrations } from './storage/aqueduct-storage';

// Events and listeners.
export { AqueductEventType, type KnownAqueductEventType } from './events/aqueduct-event-types';
export type {
  AqueductEvent,
  AqueductListenerContext,
  InvoicePaidEvent,
  ProvisioningEvent,
} from './events/aqueduct-event.interface';
export {
  ProvisioningDto,
  ProvisioningOrgDto,
  ProvisioningUserDto,
} from './events/provisioning.dto';
export { InvoiceDto } from './events/invoice.dto';
export { CREATED_AT_MISSING } from './events/aqueduct-event.parser';
export {
  ACCESS_EVENT_TYPES,
  AccessEventType,
  type AccessEventTypeName,
} from './events/access-event-types';
export type { AccessEvent, AccessEventObject } from './events/access-event.interface';
export type { AnnouncedStatus, EntitlementStatus } from './events/access-status';
export {
  ANY_AQUEDUCT_EVENT,
  OnAqueductEvent,
  type OnAqueductEventOptions,
} from './listeners/on-aqueduct-event.decorator';
export { EVENT_EMITTER_PREFIX } from './listeners/aqueduct-event.publisher';
export { PROVISIONING_LISTENER } from './access/provisioning.listener';
export { EMAIL_LISTENER } from './email/email.listener';
export { AqueductDispatcher } from './dispatch/aqueduct-dispatcher.service';

// Access.
export {
  AqueductAccessService,
  type AccessAnswerSource,
  type AccessCheck,
  type AccessQuery,
  type CustomerFeatures,
  type Entitlement,
  type Provisioning,
} from './access/aqueduct-access.service';
export type { AccessCacheState } from './access/access-cache';
export type { AccessSegment } from './access/access-timeline';
export { customerIdFrom } from './access/customer-id.resolvers';
export {
  EntitlementGuard,
  RequiresEntitlement,
  RequiresFeature,
} from './access/requires-entitlement.guard';
export { ExpiryJob, type SweepResult } from './access/expiry.job';
export { AQUEDUCT_CLOCK, type AqueductClock } from './access/aqueduct-clock';
export type {
  ProvisioningAdapter,
  ProvisioningGrant,
} from './options/provisioning-adapter.interface';
export { LoggingProvisioningAdapter } from './access/logging-provisioning.adapter';

// Verification.
export type {
  VerifiedWebhook,
  WebhookRequest,
  WebhookVerifier,
} from './options/webhook-verifier.interface';
export {
  WebhookVerificationError,
  type VerificationFailureKind,
} from './verification/webhook-verification.error';
export { StandardWebhooksVerifier } from './verification/standard-webhooks.verifier';
export { HmacVerifier } from './verification/hmac.verifier';
export { SharedSecretVerifier } from './verification/shared-secret.verifier';
export { AqueductSignatureGuard } from './http/signature.guard';
export { isAqueductWebhookRoute } from './http/webhook-route.util';
export type { WebhookAck } from './http/webhook-receiver.service';

// Stored events: reads, commands, their errors.
export { AqueductEventsService } from './admin/aqueduct-events.service';
export { AqueductEventReader } from './admin/aqueduct-event.reader';
export {
  AqueductEventCommands,
  type PruneRequest,
  type PruneResult,
  type ReprocessResult,
} from './admin/aqueduct-event.commands';
export {
  AqueductAdminError,
  AqueductEventStillInvalidError,
  AqueductNotFoundError,
} from './admin/aqueduct-admin.errors';
export type {
  AqueductDeliveryState,
  AqueductEventStatus,
  BacklogCounts,
  DeliveryCounts,
  DeliveryFilter,
  EventFilter,
  EventPage,
  EventSummary,
  StoredDelivery,
  StoredEvent,
} from './storage/aqueduct-storage.types';
export {
  ATTEMPT_LOG_LIMIT,
  isAttemptRun,
  type DeliveryAttempt,
  type DeliveryAttemptOutcome,
  type DeliveryAttemptRun,
  type DeliveryRestart,
} from './storage/delivery-attempt-log';

// Operating it: alerts, health, metrics, Aqueduct's API.
export { AqueductAlerts } from './alerts/aqueduct-alerts.service';
export { ALERT_RAISED_EVENT, type AlertKind, type AqueductAlert } from './alerts/alert.interfaces';
export type { UnauthorizedReason } from './alerts/verification.monitor';
export { DELIVERY_DEAD_EVENT } from './dispatch/dead-delivery.alert';
export {
  AqueductHealthIndicator,
  type AqueductHealthResult,
} from './health/aqueduct-health.indicator';
export { AqueductMetrics } from './observability/aqueduct-metrics.service';
export { AqueductApiClient } from './api/aqueduct-api.client';
export { AqueductApiError } from './api/aqueduct-api.error';
export type {
  AqueductApiClientOptions,
  AqueductPostOptions,
  AqueductWebhookEndpoint,
  CreateWebhookEndpointInput,
} from './api/aqueduct-api.interfaces';
export { EndpointCheck, type EndpointCheckResult } from './api/endpoint.check';

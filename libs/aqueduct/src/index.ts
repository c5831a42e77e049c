export * from './aqueduct.constants';
export { AqueductModule } from './aqueduct.module';
export { AQUEDUCT_MODULE_OPTIONS } from './aqueduct.module-definition';
export * from './interfaces/aqueduct-options.interface';
export * from './events/aqueduct-event-types';
export {
  ProvisioningDto,
  ProvisioningOrgDto,
  ProvisioningUserDto,
  MAX_ID_LENGTH,
} from './events/provisioning.dto';
export { InvoiceDto } from './events/invoice.dto';
export {
  parseAqueductEvent,
  type ParsedEvent,
  CREATED_AT_MISSING,
  MAX_TYPE_LENGTH,
} from './events/aqueduct-event.parser';
export {
  AqueductEventEntity,
  type AqueductEventStatus,
} from './storage/entities/aqueduct-event.entity';
export { aqueductEntities, aqueductMigrations } from './storage/aqueduct-storage';
export { AqueductSignatureGuard } from './http/signature.guard';
export { AqueductAlerts } from './alerts/aqueduct-alerts.service';
export { ALERT_RAISED_EVENT, type AlertKind, type AqueductAlert } from './alerts/alert.interfaces';
export type { UnauthorizedReason } from './alerts/verification.monitor';
export type { WebhookAck } from './http/webhook-receiver.service';
export { isAqueductWebhookRoute } from './http/webhook-route.util';
export * from './verification/webhook-verifier.interface';
export {
  WebhookVerificationError,
  type VerificationFailureKind,
} from './verification/webhook-verification.error';
export { StandardWebhooksVerifier } from './verification/standard-webhooks.verifier';
export { HmacVerifier } from './verification/hmac.verifier';
export { SharedSecretVerifier } from './verification/shared-secret.verifier';
export * from './listeners/aqueduct-event.interface';
export {
  OnAqueductEvent,
  ANY_AQUEDUCT_EVENT,
  type OnAqueductEventOptions,
} from './listeners/on-aqueduct-event.decorator';
export {
  AqueductEventsService,
  type StoredEvent,
  type StoredDelivery,
  type EventFilter,
  type EventSummary,
  type EventPage,
  type BacklogCounts,
  type DeliveryFilter,
  type DeliveryCounts,
  type ReprocessResult,
} from './events/aqueduct-events.service';
export { AqueductDispatcher } from './dispatch/aqueduct-dispatcher.service';
export type { DeliveryQueue, ClaimedDelivery } from './dispatch/delivery-queue.interface';
export {
  ATTEMPT_LOG_LIMIT,
  type DeliveryAttempt,
  type DeliveryAttemptRun,
  type DeliveryAttemptOutcome,
  type DeliveryRestart,
  isAttemptRun,
} from './dispatch/delivery-attempt-log';
export {
  AqueductDeliveryEntity,
  type AqueductDeliveryState,
} from './storage/entities/aqueduct-delivery.entity';
export { EVENT_EMITTER_PREFIX } from './events/aqueduct-event.publisher';
export { AQUEDUCT_CLOCK, type AqueductClock } from './access/aqueduct-clock';
export * from './access/provisioning-adapter.interface';
export { LoggingProvisioningAdapter } from './access/logging-provisioning.adapter';
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
export { customerIdFrom, type CustomerIdResolver } from './access/customer-id.resolvers';
export {
  RequiresEntitlement,
  RequiresFeature,
  EntitlementGuard,
} from './access/requires-entitlement.guard';
export { ExpiryJob, EXPIRY_JOB, type SweepResult } from './access/expiry.job';
export {
  AccessEventType,
  type AccessEventTypeName,
  ACCESS_EVENT_TYPES,
} from './access/access-event-types';
export type { AccessEventObject, AccessEvent } from './access/access-event.interface';
export { PROVISIONING_LISTENER } from './access/provisioning.listener';
export { provisioningKey } from './access/aqueduct-ledger.service';
export {
  AqueductAccessEntity,
  type EntitlementStatus,
  type AnnouncedStatus,
} from './storage/entities/aqueduct-access.entity';
export { AqueductProvisioningEntity } from './storage/entities/aqueduct-provisioning.entity';
export { AqueductInvoicePaymentEntity } from './storage/entities/aqueduct-invoice-payment.entity';
export * from './email/email.interfaces';
export { EMAIL_LISTENER } from './email/email.listener';
export { DELIVERY_DEAD_EVENT } from './dispatch/dead-delivery.alert';
export { AqueductApiClient } from './api/aqueduct-api.client';
export { AqueductApiError } from './api/aqueduct-api.error';
export type {
  AqueductApiClientOptions,
  AqueductPostOptions,
  CreateWebhookEndpointInput,
  AqueductWebhookEndpoint,
} from './api/aqueduct-api.interfaces';
export { EndpointCheck, type EndpointCheckResult } from './api/endpoint.check';
export {
  compareEndpoints,
  normaliseEndpointUrl,
  aqueductTypesListenedTo,
  CHECKED_EVENT_TYPES,
  type EndpointComparison,
  type CheckedEndpoint,
} from './api/endpoint-problems';
export {
  AqueductHealthIndicator,
  type AqueductHealthResult,
} from './observability/aqueduct-health.indicator';
export { AqueductMetrics } from './observability/aqueduct-metrics.service';

/** `nestjs-aqueduct/testing`: named exports only, listed in the package README's "API" section. */
export {
  signAqueductRequest,
  type SignAqueductRequestOptions,
  type SignedAqueductRequest,
} from './sign-aqueduct-request';
export {
  AqueductSubscription,
  aqueductEvent,
  aqueductSubscription,
  invoicePaidEvent,
  provisioningEndEvent,
  provisioningObject,
  provisioningStartEvent,
  type AqueductEventPayload,
  type ProvisioningPayload,
  type SubscriptionOptions,
} from './aqueduct-event.factory';
export { postAqueductEvent, type PostedAqueductEvent } from './post-aqueduct-event';
export { AqueductTestClock } from './aqueduct-test-clock';
export {
  waitForDeliveries,
  type DeliveriesOutcome,
  type WaitForDeliveriesOptions,
} from './wait-for-deliveries';

import type { ExecutionContext } from '@nestjs/common';
import { AQUEDUCT_WEBHOOK_ROUTE } from '../aqueduct.constants';

/**
 * For a host's global guard (auth, throttling): true when the request is for the Aqueduct webhook
 * route, which authenticates itself with its signature.
 *
 * ```ts
 * canActivate(context) { if (isAqueductWebhookRoute(context)) return true; ... }
 * ```
 */
export function isAqueductWebhookRoute(context: ExecutionContext): boolean {
  return Reflect.getMetadata(AQUEDUCT_WEBHOOK_ROUTE, context.getClass()) === true;
}

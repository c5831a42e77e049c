import type { ServerResponse } from 'node:http';
import {
  Controller,
  Post,
  Req,
  Res,
  SetMetadata,
  type Type,
  UseFilters,
  UseGuards,
  VERSION_NEUTRAL,
} from '@nestjs/common';
import { AQUEDUCT_WEBHOOK_ROUTE } from '../aqueduct.constants';
import { ARRIVED_AT, RAW_BODY } from './raw-body.reader';
import { AqueductSignatureGuard, VERIFIED_WEBHOOK, type VerifiedRequest } from './signature.guard';
import { WebhookExceptionFilter } from './webhook-exception.filter';
import { writeAck } from './webhook.ack';
import { WebhookReceiver } from './webhook-receiver.service';

/** Name of the webhook controller's one handler (for `servedPaths`). */
export const WEBHOOK_HANDLER = 'receive';

/**
 * A controller class of its own for each module registration: its route path comes from options
 * that `forRootAsync` only knows once resolved, and is bound to this class (never to a shared one)
 * by `webhookRouteProvider` before Nest registers routes.
 */
export function createWebhookController(): Type<unknown> {
  @Controller({ version: VERSION_NEUTRAL })
  @SetMetadata(AQUEDUCT_WEBHOOK_ROUTE, true)
  @UseFilters(WebhookExceptionFilter)
  class AqueductWebhookController {
    constructor(private readonly receiver: WebhookReceiver) {}

    /** Answers 200 with the ack once the event is stored; a failure goes to the filter. */
    @Post()
    @UseGuards(AqueductSignatureGuard)
    async receive(@Req() request: VerifiedRequest, @Res() response: ServerResponse): Promise<void> {
      const ack = await this.receiver.receive(
        request[RAW_BODY] as Buffer,
        request.headers,
        request[VERIFIED_WEBHOOK] ?? {},
        request[ARRIVED_AT],
      );
      writeAck(response, ack);
    }
  }
  return AqueductWebhookController;
}

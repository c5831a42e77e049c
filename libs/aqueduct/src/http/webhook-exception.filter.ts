import { Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { RETRY_AFTER_SECONDS } from '../aqueduct.constants';
import { VerificationMonitor } from '../alerts/verification.monitor';
import { AqueductExceptionFilter } from './aqueduct-exception.filter';
import { RAW_BODY, type RequestWithRawBody } from './raw-body.reader';
import { isOwnAnswer, noteRefusal } from './webhook.own-answers';

/**
 * Scoped to the webhook controller, so a host's global filters cannot reshape what Aqueduct
 * sees. Every answer is `{ statusCode, error, message }`; unexpected errors become a generic 500
 * whose detail stays in the log. A refusal the module did not answer itself (a host's global
 * guard, throttler, interceptor or pipe) counts as a failed delivery: every retry would meet it,
 * and Aqueduct disables the endpoint after the last one.
 */
@Catch()
export class WebhookExceptionFilter extends AqueductExceptionFilter {
  constructor(private readonly monitor: VerificationMonitor) {
    super(new Logger('AqueductWebhook'), 'Webhook request failed');
  }

  protected answer(exception: unknown, request: Request, response: Response): void {
    noteRefusal(request);
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const body = exception.getResponse();
      if (statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
        response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      }
      this.noticeHostRefusal(exception, statusCode, request);
      response
        .status(statusCode)
        .json(
          typeof body === 'object' ? body : { statusCode, error: exception.name, message: body },
        );
      return;
    }
    this.logUnexpected(exception);
    this.noticeHostRefusal(exception, HttpStatus.INTERNAL_SERVER_ERROR, request);
    response.status(HttpStatus.INTERNAL_SERVER_ERROR).json({
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: 'Internal Server Error',
      message: 'the event could not be processed',
    });
  }

  private noticeHostRefusal(
    exception: unknown,
    statusCode: number,
    request: RequestWithRawBody,
  ): void {
    if (isOwnAnswer(exception) || statusCode < 300) {
      return;
    }
    const what = exception instanceof HttpException ? exception.name : 'an error';
    this.monitor.failure(
      'host-refused',
      `answered ${statusCode} (${what}) by the app itself, not the module: a global guard, ` +
        'throttler, interceptor or pipe; exempt the webhook route (isAqueductWebhookRoute, see ' +
        'the README)',
      Object.keys(request.headers),
      { body: request[RAW_BODY] },
    );
  }
}

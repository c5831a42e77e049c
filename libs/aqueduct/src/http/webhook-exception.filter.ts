import { Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { RETRY_AFTER_SECONDS } from '../aqueduct.constants';
import { AqueductExceptionFilter } from './aqueduct-exception.filter';

/**
 * Scoped to the webhook controller, so a host's global filters cannot reshape what Aqueduct
 * sees. Every answer is `{ statusCode, error, message }`; unexpected errors become a generic 500
 * whose detail stays in the log.
 */
@Catch()
export class WebhookExceptionFilter extends AqueductExceptionFilter {
  constructor() {
    super(new Logger('AqueductWebhook'), 'Webhook request failed');
  }

  protected answer(exception: unknown, _request: Request, response: Response): void {
    if (exception instanceof HttpException) {
      const statusCode = exception.getStatus();
      const body = exception.getResponse();
      if (statusCode === HttpStatus.SERVICE_UNAVAILABLE) {
        response.setHeader('Retry-After', String(RETRY_AFTER_SECONDS));
      }
      response
        .status(statusCode)
        .json(
          typeof body === 'object' ? body : { statusCode, error: exception.name, message: body },
        );
      return;
    }
    this.logUnexpected(exception);
    response.status(HttpStatus.INTERNAL_SERVER_ERROR).json({
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: 'Internal Server Error',
      message: 'the event could not be processed',
    });
  }
}

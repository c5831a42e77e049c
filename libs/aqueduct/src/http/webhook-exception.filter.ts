import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import type { Response } from 'express';
import { RETRY_AFTER_SECONDS } from '../aqueduct.constants';
import { printableLines } from '../utils/printable';

/**
 * Scoped to the webhook controller, so a host's global filters cannot reshape what Aqueduct
 * sees. Every answer is `{ statusCode, error, message }`; unexpected errors become a generic 500
 * whose detail stays in the log.
 */
@Catch()
export class WebhookExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('AqueductWebhook');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) {
      return;
    }
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
    this.logger.error(
      printableLines(`Webhook request failed: ${(exception as Error)?.stack ?? String(exception)}`),
    );
    response.status(HttpStatus.INTERNAL_SERVER_ERROR).json({
      statusCode: HttpStatus.INTERNAL_SERVER_ERROR,
      error: 'Internal Server Error',
      message: 'the event could not be processed',
    });
  }
}

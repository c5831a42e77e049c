import type { ArgumentsHost, ExceptionFilter, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { printableLines } from '../utils/printable';

/**
 * What the module's exception filters (the webhook's, the console's) have in common: nothing is
 * answered once an answer has begun (its headers are gone), and an error no handler expected is
 * logged with its stack, its detail never sent to the client. Subclasses say what to answer.
 */
export abstract class AqueductExceptionFilter implements ExceptionFilter {
  /**
   * @param logger where unexpected errors are logged
   * @param failure the start of their log line (`Webhook request failed`)
   */
  protected constructor(
    protected readonly logger: Logger,
    private readonly failure: string,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const response = http.getResponse<Response>();
    if (response.headersSent) {
      return;
    }
    this.answer(exception, http.getRequest<Request>(), response);
  }

  /** Answers `exception`, no answer having begun. */
  protected abstract answer(exception: unknown, request: Request, response: Response): void;

  /** Logs an error no handler expected, with its stack (escaped, so it cannot forge log lines). */
  protected logUnexpected(exception: unknown): void {
    this.logger.error(
      printableLines(`${this.failure}: ${(exception as Error)?.stack ?? String(exception)}`),
    );
  }
}

import { Catch, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AqueductAdminError, AqueductNotFoundError } from '../admin/aqueduct-admin.errors';
import { AqueductExceptionFilter } from '../http/aqueduct-exception.filter';
import { ConsoleView } from './console-view';
import { errorPage } from './console-pages/error.page';
import { layout } from './console-pages/layout.page';

/**
 * Console errors as pages, with the console's security headers: a refused guard is a 403 page,
 * a bad query a 400 naming the parameter, an unexpected error a 500 whose detail stays in the log.
 */
@Catch()
export class ConsoleExceptionFilter extends AqueductExceptionFilter {
  constructor(private readonly view: ConsoleView) {
    super(new Logger('AqueductConsole'), 'Console request failed');
  }

  protected answer(exception: unknown, request: Request, response: Response): void {
    let status: number = HttpStatus.INTERNAL_SERVER_ERROR;
    let messages = ['The page could not be shown; the details are in the application log.'];
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      messages = messagesOf(exception);
    } else if (exception instanceof AqueductAdminError) {
      status =
        exception instanceof AqueductNotFoundError
          ? HttpStatus.NOT_FOUND
          : HttpStatus.UNPROCESSABLE_ENTITY;
      messages = [exception.message];
    } else {
      this.logUnexpected(exception);
    }
    this.view.send(request, response, status, (context) =>
      layout(context, `${status}`, errorPage(context, status, messages)),
    );
  }
}

/** The messages of an HTTP exception's answer, one per line of the error page. */
function messagesOf(exception: HttpException): string[] {
  const body = exception.getResponse();
  const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
  const list = Array.isArray(message) ? message : [message ?? exception.message];
  return list.map(String);
}

import {
  type CanActivate,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
} from '@nestjs/common';
import type { Request } from 'express';
import { CSRF_COOKIE, CSRF_FIELD } from './console.constants';
import { ConsoleCsrf } from './console-csrf';
import { isCrossOrigin, readCookie, readForm } from './console-request';

/** Refuses a console POST from another site, or without the token of the page it came from. */
@Injectable()
export class ConsoleCsrfGuard implements CanActivate {
  constructor(private readonly csrf: ConsoleCsrf) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    if (isCrossOrigin(request)) {
      throw new ForbiddenException(
        'This form was sent from another site. Open the console and use its buttons.',
      );
    }
    const form = await readForm(request);
    if (!this.csrf.matches(readCookie(request, CSRF_COOKIE), form[CSRF_FIELD])) {
      throw new ForbiddenException(
        'The form’s security token is missing or does not match. Reload the page and try again.',
      );
    }
    return true;
  }
}

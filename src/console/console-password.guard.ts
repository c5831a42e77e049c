import {
  type CanActivate,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * An example guard for the Aqueduct console in production: HTTP Basic auth against
 * AQUEDUCT_CONSOLE_PASSWORD (any user name), so a browser asks for it. A real app would rather
 * check its own session and roles here; the console runs whatever guard it is given.
 */
@Injectable()
export class ConsolePasswordGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<Request>();
    const expected = this.config.get<string>('AQUEDUCT_CONSOLE_PASSWORD');
    const [scheme, encoded] = (request.headers.authorization ?? '').split(' ');
    const credentials =
      scheme?.toLowerCase() === 'basic' && encoded ? Buffer.from(encoded, 'base64').toString() : '';
    // user:password, where only the password may contain colons (RFC 7617).
    const password = credentials.includes(':')
      ? credentials.slice(credentials.indexOf(':') + 1)
      : '';
    // Compared as hashes: equal lengths for timingSafeEqual, and no length leak.
    const digest = (text: string) => createHash('sha256').update(text).digest();
    if (expected && password && timingSafeEqual(digest(password), digest(expected))) {
      return true;
    }
    context
      .switchToHttp()
      .getResponse<Response>()
      .setHeader('WWW-Authenticate', 'Basic realm="Aqueduct console", charset="UTF-8"');
    throw new UnauthorizedException('Sign in to use the Aqueduct console.');
  }
}

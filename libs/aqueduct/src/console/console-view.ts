import { Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { randomBytes } from 'node:crypto';
import { CSRF_COOKIE } from './console.constants';
import { ConsoleCsrf } from './console-csrf';
import type { SafeHtml } from './console-html';
import { consoleBase, consoleLinks } from './console-routes';
import { readCookie } from './console-request';
import type { PageContext } from './console-pages/layout.page';

/**
 * Sends console pages with the headers that keep them inert: a CSP allowing only this response's
 * own stylesheet (no script at all), no framing, no caching, no referrer leaking event ids.
 */
@Injectable()
export class ConsoleView {
  constructor(private readonly csrf: ConsoleCsrf) {}

  send(
    request: Request,
    response: Response,
    status: number,
    page: (context: PageContext) => SafeHtml,
  ): void {
    const base = consoleBase(request);
    const nonce = randomBytes(16).toString('base64');
    const context: PageContext = {
      links: consoleLinks(base),
      nonce,
      csrf: this.csrfToken(request, response, base),
    };
    const body = page(context).value;
    response
      .status(status)
      .set({
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy':
          `default-src 'none'; style-src 'nonce-${nonce}'; img-src 'self' data:; ` +
          `form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
        'X-Frame-Options': 'DENY',
        'X-Content-Type-Options': 'nosniff',
        'Cache-Control': 'no-store',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Opener-Policy': 'same-origin',
      })
      .send(body);
  }

  /** 303 See Other: after a POST, the browser GETs the page, so a reload never re-submits. */
  redirect(response: Response, location: string): void {
    response.set({ 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' });
    response.redirect(303, location);
  }

  /**
   * The cookie's token while it is genuine, so that several open tabs keep working; a new one
   * otherwise. The cookie is scoped to the console's path and never sent cross-site.
   */
  private csrfToken(request: Request, response: Response, base: string): string {
    const current = readCookie(request, CSRF_COOKIE);
    if (this.csrf.isGenuine(current)) {
      return current;
    }
    const token = this.csrf.issue();
    response.cookie(CSRF_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.secure,
      path: base,
    });
    return token;
  }
}

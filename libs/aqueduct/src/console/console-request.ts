import { BadRequestException } from '@nestjs/common';
import type { Request } from 'express';
import getRawBody from 'raw-body';
import { CONSOLE_FORM_MAX_BYTES } from './console.constants';

/** One cookie's value, or undefined. */
export function readCookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const separator = part.indexOf('=');
    if (separator > 0 && part.slice(0, separator).trim() === name) {
      try {
        return decodeURIComponent(part.slice(separator + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/**
 * The submitted form. Nest's default urlencoded parser has usually read it already; a host that
 * turned body parsing off still gets working forms, read here with a small limit.
 */
export async function readForm(request: Request): Promise<Record<string, unknown>> {
  if (request.body && typeof request.body === 'object' && !Buffer.isBuffer(request.body)) {
    return request.body as Record<string, unknown>;
  }
  if (request.readableEnded || !request.readable) {
    return {};
  }
  let text: string;
  try {
    text = await getRawBody(request, { limit: CONSOLE_FORM_MAX_BYTES, encoding: 'utf8' });
  } catch {
    throw new BadRequestException('the form could not be read');
  }
  const form = Object.fromEntries(new URLSearchParams(text));
  request.body = form;
  return form;
}

/**
 * A browser's signal that the request comes from another site. `Sec-Fetch-Site` (set by the
 * browser, never by a page) decides when present; else an `Origin` naming another host. The
 * console's `Referrer-Policy: no-referrer` makes browsers send `Origin: null` even on its own
 * forms, so `null` proves nothing either way and the token decides, as it does for clients that
 * send neither header.
 */
export function isCrossOrigin(request: Request): boolean {
  const fetchSite = request.headers['sec-fetch-site'];
  if (fetchSite !== undefined) {
    return fetchSite !== 'same-origin' && fetchSite !== 'none';
  }
  const origin = request.headers.origin;
  if (origin === undefined || origin === 'null') {
    return false;
  }
  const hosts = [request.headers.host, firstValue(request.headers['x-forwarded-host'])];
  try {
    const { host } = new URL(origin);
    return !hosts.some((candidate) => candidate !== undefined && candidate === host);
  } catch {
    return true;
  }
}

function firstValue(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value?.split(',')[0].trim();
}

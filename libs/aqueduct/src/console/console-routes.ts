import type { Request } from 'express';

/** Sub-routes of the console, under its configured path. */
export const CONSOLE_ROUTES = {
  events: '',
  event: 'events/:id',
  replay: 'events/:id/replay',
  redrive: 'events/:id/redrive',
  reprocess: 'events/:id/reprocess',
  dismiss: 'events/:id/dismiss',
  customer: 'customers/:customerId',
  /** Any other path under the console's (GET): the console's own 404 page, behind its guard. */
  unknown: '*rest',
} as const;

/** Parameter of the `unknown` route: the segments after the console's path. */
const UNKNOWN_REST = 'rest';

const SUB_ROUTES = Object.values(CONSOLE_ROUTES)
  .filter((route) => route !== '' && route !== CONSOLE_ROUTES.unknown)
  .sort((a, b) => b.length - a.length);

/**
 * The console's own URL path as the browser sees it (global prefix included, no trailing slash),
 * for links, redirects and the cookie path: the request path less the matched sub-route's segments.
 */
export function consoleBase(request: Request): string {
  const pattern = String(request.route?.path ?? '').replace(/\/+$/, '');
  const subRoute = SUB_ROUTES.find((route) => pattern.endsWith(`/${route}`));
  const depth = pattern.endsWith(`/${CONSOLE_ROUTES.unknown}`)
    ? restDepth(request)
    : subRoute
      ? subRoute.split('/').length
      : 0;
  const segments = (request.originalUrl ?? request.url)
    .split('?')[0]
    .replace(/\/+$/, '')
    .split('/');
  return segments.slice(0, segments.length - depth).join('/') || '/';
}

/**
 * Segments the `unknown` route's wildcard matched: Express gives them as a list (`/a/b/` is
 * `['a', 'b', '']`; an encoded `%2F` stays inside its segment, as in the URL split above).
 */
function restDepth(request: Request): number {
  const rest: unknown = request.params?.[UNKNOWN_REST];
  const segments = Array.isArray(rest) ? [...rest] : String(rest ?? '').split('/');
  while (segments.length > 0 && segments[segments.length - 1] === '') {
    segments.pop();
  }
  return segments.length;
}

/** Links between pages. */
export const consoleLinks = (base: string) => ({
  events: (query: Record<string, string | undefined> = {}) => {
    const params = new URLSearchParams(
      Object.entries(query).filter((entry): entry is [string, string] => !!entry[1]),
    ).toString();
    return params ? `${base}?${params}` : base;
  },
  event: (id: string) => `${base}/events/${encodeURIComponent(id)}`,
  replay: (id: string) => `${base}/events/${encodeURIComponent(id)}/replay`,
  redrive: (id: string) => `${base}/events/${encodeURIComponent(id)}/redrive`,
  reprocess: (id: string) => `${base}/events/${encodeURIComponent(id)}/reprocess`,
  dismiss: (id: string) => `${base}/events/${encodeURIComponent(id)}/dismiss`,
  customer: (customerId: string) => `${base}/customers/${encodeURIComponent(customerId)}`,
});

export type ConsoleLinks = ReturnType<typeof consoleLinks>;

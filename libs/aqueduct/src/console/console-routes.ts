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
} as const;

const SUB_ROUTES = Object.values(CONSOLE_ROUTES)
  .filter((route) => route !== '')
  .sort((a, b) => b.length - a.length);

/**
 * The console's own URL path as the browser sees it (global prefix included, no trailing slash),
 * for links, redirects and the cookie path: the request path less the matched sub-route's segments.
 */
export function consoleBase(request: Request): string {
  const pattern = String(request.route?.path ?? '').replace(/\/+$/, '');
  const subRoute = SUB_ROUTES.find((route) => pattern.endsWith(`/${route}`));
  const depth = subRoute ? subRoute.split('/').length : 0;
  const segments = (request.originalUrl ?? request.url)
    .split('?')[0]
    .replace(/\/+$/, '')
    .split('/');
  return segments.slice(0, segments.length - depth).join('/') || '/';
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

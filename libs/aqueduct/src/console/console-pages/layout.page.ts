import type { BacklogCounts } from '../../storage/aqueduct-storage.types';
import { html, type SafeHtml, trusted } from '../console-html';
import type { ConsoleLinks } from '../console-routes';
import { formatDuration } from '../../utils/format-duration';
import { CONSOLE_CSS } from './console.styles';

/** What every page is rendered with. */
export interface PageContext {
  links: ConsoleLinks;
  /** CSP nonce of this response's `<style>`. */
  nonce: string;
  /** CSRF token for the page's forms. */
  csrf: string;
}

/** The frame of every page: the stylesheet, the top bar with the backlog, the content. */
export function layout(
  context: PageContext,
  title: string,
  content: SafeHtml,
  backlog?: BacklogCounts,
): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>${title} · Aqueduct console</title>
        <style nonce="${context.nonce}">
          ${trusted(CONSOLE_CSS)}
        </style>
      </head>
      <body>
        <header class="top">
          <a href="${context.links.events()}">Aqueduct console</a>
          <nav><a href="${context.links.events()}">Events</a></nav>
          ${backlog ? backlogStats(backlog) : null}
        </header>
        <main>
          ${backlog?.quarantined ? quarantineBanner(context, backlog.quarantined) : null}${content}
        </main>
      </body>
    </html>`;
}

/** On every page while events wait in quarantine: they reach no listener until someone acts. */
function quarantineBanner(context: PageContext, count: number): SafeHtml {
  return html`<div class="banner" role="alert">
    ${count} authentic ${count === 1 ? 'event is' : 'events are'} in quarantine: not understood, so
    no listener ran.
    <a href="${context.links.events({ status: 'quarantined' })}">Review them</a> and reprocess once
    fixed, or dismiss.
  </div>`;
}

function backlogStats(backlog: BacklogCounts): SafeHtml {
  const waiting = backlog.oldestPendingSince
    ? formatDuration(Date.now() - new Date(backlog.oldestPendingSince).getTime())
    : null;
  return html`<div class="stats" aria-label="Deliveries">
    <span class="stat">${backlog.pending} pending</span>
    <span class="stat">${backlog.active} running</span>
    <span class="stat${backlog.dead > 0 ? ' alert' : ''}">${backlog.dead} dead</span>
    ${waiting ? html`<span class="stat">oldest due ${waiting} ago</span>` : null}
  </div>`;
}

import { html, type SafeHtml } from '../console-html';
import type { PageContext } from './layout.page';

/** A failed request: the status, what went wrong, and a way back. */
export function errorPage(context: PageContext, status: number, messages: string[]): SafeHtml {
  return html`<h1>${status} ${TITLES[status] ?? 'Error'}</h1>
    ${messages.map((message) => html`<p>${message}</p>`)}
    <p><a href="${context.links.events()}">Back to the events</a></p>`;
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  422: 'Cannot be done',
  500: 'Something went wrong',
};

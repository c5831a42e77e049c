import type {
  EmailContent,
  EmailTemplate,
  EmailTemplateName,
  EmailTemplateVariables,
} from '../options/email-options.interface';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export const escapeHtml = (value: string) => value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

type Vars = EmailTemplateVariables;

/** Plain text of each default mail. The HTML version is the same text, escaped, in paragraphs. */
const DEFAULTS: Record<EmailTemplateName, (v: Vars) => { subject: string; text: string }> = {
  'access-started': (v) => ({
    subject: `Your access to ${v.productName} has started`,
    // The transition's moment (a user who joins, joins now) and the paid period's end; the end of
    // access only when the paid period is behind it (a start that arrives during its grace period).
    text: `Hello ${v.userName},\n\nYour access to ${v.productName} for ${v.orgName} started on ${v.at}. ${
      v.paidUntil
        ? `The current paid period runs until ${v.paidUntil}.`
        : `It runs until ${v.accessUntil}.`
    }\n`,
  }),
  'access-renewed': (v) => ({
    subject: `Your access to ${v.productName} was renewed`,
    text: `Hello ${v.userName},\n\nYour access to ${v.productName} for ${v.orgName} was renewed: the new period runs until ${v.endDate}.\n`,
  }),
  'period-ended': (v) => ({
    subject: `Your paid period for ${v.productName} has ended`,
    text: `Hello ${v.userName},\n\nThe paid period of ${v.productName} for ${v.orgName} ended on ${v.endDate}. Your access continues until ${v.accessUntil}; renew before then to keep it.\n`,
  }),
  'access-ended': (v) => ({
    subject: `Your access to ${v.productName} has ended`,
    text: `Hello ${v.userName},\n\nYour access to ${v.productName} for ${v.orgName} ended on ${v.accessUntil}.\n`,
  }),
  'operator-alert': (v) => ({
    subject: `[Aqueduct] Action needed: ${v.alertKind}`,
    text: `${v.alertReason}\n\nWhat was seen:\n${v.alertDetails ?? '{}'}\n\n${
      v.alertResolvedAt
        ? `It was resolved on ${v.alertResolvedAt}, before this mail went out: what raised it has stopped. If it returns, it is mailed again.`
        : 'The alert stays open (health degraded) until it is resolved; it is mailed once per incident.'
    }\n`,
  }),
  'delivery-dead': (v) => ({
    subject: `[Aqueduct] ${v.listener} failed for good (${v.eventType} event)`,
    text: `The delivery ${v.deliveryId} (listener ${v.listener}, event ${v.eventId} of type ${v.eventType}) failed ${v.attempts} times and was dead-lettered.\n\nLast error: ${v.lastError}\n\nFix the cause, then redrive it: npx nestjs-aqueduct events redrive ${v.deliveryId} (or AqueductEventsService.redrive('${v.deliveryId}') from the app).\n`,
  }),
};

/** Renders a template: the host's override where given, the default for the rest. */
export function renderEmail(
  name: EmailTemplateName,
  variables: Vars,
  override?: EmailTemplate,
): EmailContent {
  const base = DEFAULTS[name](variables);
  const given: Partial<EmailContent> =
    override === undefined
      ? {}
      : typeof override === 'function'
        ? definedOnly(override(variables))
        : {
            subject: override.subject && fill(override.subject, variables, false),
            text: override.text && fill(override.text, variables, false),
            html: override.html && fill(override.html, variables, true),
          };
  // An empty text is no mail: the default's.
  const text = given.text || base.text;
  // A text of your own without HTML of its own is the HTML too: most mail clients show the HTML
  // part, and a default one would hide your words (a link, a name).
  return { subject: given.subject ?? base.subject, text, html: given.html ?? toHtml(text) };
}

/** An http(s) address in escaped text, without the punctuation that may end its sentence. */
const LINK = /https?:\/\/[^\s<>"']+?(?=[.,;:!?)]*(?:\s|$))/g;

/** The HTML part of a text: escaped, its paragraphs kept, its web addresses made links. */
function toHtml(text: string): string {
  return text
    .trim()
    .split(/\n{2,}/)
    .map(
      (paragraph) =>
        `<p>${escapeHtml(paragraph)
          .replace(LINK, (url) => `<a href="${url}">${url}</a>`)
          .replace(/\n/g, '<br>')}</p>`,
    )
    .join('\n');
}

function fill(template: string, variables: Vars, html: boolean): string {
  return template.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, name: string) => {
    const value = String((variables as unknown as Record<string, unknown>)[name] ?? '');
    return html ? escapeHtml(value) : value;
  });
}

function definedOnly(content: Partial<EmailContent>): Partial<EmailContent> {
  return Object.fromEntries(Object.entries(content).filter(([, value]) => value !== undefined));
}

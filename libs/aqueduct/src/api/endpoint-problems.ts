import {
  AqueductEventType,
  normaliseEventType,
  toApiEventName,
} from '../events/aqueduct-event-types';
import { ANY_AQUEDUCT_EVENT } from '../listeners/on-aqueduct-event.decorator';
import type { AqueductWebhookEndpoint } from './aqueduct-api.interfaces';

/**
 * Aqueduct's types an endpoint must deliver when this app listens to them: those Aqueduct's guide
 * says it sends. `provisioning.update` is left out on purpose: it only appears in an example of
 * `enabledEvents`, so it may not exist, and requiring it would flag every app that registered as
 * the guide says (the ledger listens to it), and print a fix that Aqueduct might refuse.
 */
export const CHECKED_EVENT_TYPES: readonly string[] = [
  AqueductEventType.ProvisioningStart,
  AqueductEventType.ProvisioningEnd,
  AqueductEventType.InvoicePaid,
];

/**
 * What the check needs of an endpoint (the client's answer, `enabledEvents` in either spelling),
 * with the fields Aqueduct sent beyond them: one may say the endpoint is turned off.
 */
export type CheckedEndpoint = Pick<AqueductWebhookEndpoint, 'id' | 'url' | 'enabledEvents'> &
  Record<string, unknown>;

/** Values of an endpoint's `status` that mean it delivers nothing. */
const OFF_STATUSES = /^(disabled|inactive|paused|deactivated|suspended|off)$/i;

/**
 * Whether Aqueduct says it turned the endpoint off (after its retries failed, or by hand), and how
 * it says so (`status: "disabled"`). Aqueduct's API does not document the field, so the usual
 * spellings are read; an endpoint with none of them counts as on.
 */
export function turnedOff(endpoint: CheckedEndpoint): string | null {
  for (const flag of ['enabled', 'active', 'isActive', 'is_active']) {
    if (endpoint[flag] === false) {
      return `${flag}: false`;
    }
  }
  if (endpoint.disabled === true) {
    return 'disabled: true';
  }
  if (typeof endpoint.status === 'string' && OFF_STATUSES.test(endpoint.status.trim())) {
    return `status: ${JSON.stringify(endpoint.status)}`;
  }
  for (const stamp of ['disabledAt', 'disabled_at']) {
    if (typeof endpoint[stamp] === 'string' && endpoint[stamp] !== '') {
      return `${stamp}: ${endpoint[stamp]}`;
    }
  }
  return null;
}

export interface EndpointComparison {
  /** One line each, for a person: what is wrong and the command that fixes it. Empty when fine. */
  problems: string[];
  /** Ids of the endpoints whose `url` is the public URL. */
  matching: string[];
  /** Wanted events none of them delivers, underscored (`invoice_paid`). */
  missingEvents: string[];
}

/**
 * The URL as compared: scheme and host lower-cased, default port, trailing slashes and fragment
 * dropped. The path and query keep their case: servers route them case-sensitively.
 */
export function normaliseEndpointUrl(url: string): string {
  const trimmed = url.trim();
  try {
    const { protocol, host, pathname, search } = new URL(trimmed);
    return `${protocol}//${host}${pathname.replace(/\/+$/, '')}${search}`;
  } catch {
    return trimmed.replace(/\/+$/, '');
  }
}

/**
 * Which of `CHECKED_EVENT_TYPES` the given listeners want (their types in either spelling; `'*'`
 * wants them all), in that order. The module's own types (`access.*`, `alert.*`) never count:
 * Aqueduct does not send them.
 */
export function aqueductTypesListenedTo(listeners: Iterable<Iterable<string>>): readonly string[] {
  const wanted = new Set<string>();
  for (const types of listeners) {
    for (const type of types) {
      if (type === ANY_AQUEDUCT_EVENT) {
        return CHECKED_EVENT_TYPES;
      }
      wanted.add(normaliseEventType(type));
    }
  }
  return CHECKED_EVENT_TYPES.filter((type) => wanted.has(type));
}

/**
 * Compares Aqueduct's endpoint list with what this app needs: an endpoint at `publicUrl`, and
 * between the endpoints at that URL (each delivers on its own) every `wanted` event type.
 * Pure, so that the service and `endpoints check` report the same problems in the same words.
 */
export function compareEndpoints(
  publicUrl: string,
  wanted: readonly string[],
  endpoints: readonly CheckedEndpoint[],
): EndpointComparison {
  const target = normaliseEndpointUrl(publicUrl);
  const matches = endpoints.filter((e) => normaliseEndpointUrl(e.url) === target);
  const wantedNames = unique(wanted.map(toApiEventName));
  if (matches.length === 0) {
    const seen = endpoints.length
      ? ` (the account has ${endpoints.length}: ${endpoints
          .slice(0, 5)
          .map((e) => e.url)
          .join(', ')}${endpoints.length > 5 ? ', …' : ''})`
      : ' (the account has none)';
    const events = wantedNames.length ? wantedNames : CHECKED_EVENT_TYPES.map(toApiEventName);
    return {
      problems: [
        `No webhook endpoint registered with Aqueduct points at ${publicUrl}${seen}, so no ` +
          `event reaches this app. Register it: ${registerCommand(publicUrl, events)}`,
      ],
      matching: [],
      missingEvents: wantedNames,
    };
  }
  const on = matches.filter((e) => turnedOff(e) === null);
  if (on.length === 0) {
    const which = matches.map((e) => `${e.id} (${turnedOff(e)})`).join(', ');
    return {
      problems: [
        `Aqueduct has turned off its webhook endpoint ${which} for ${publicUrl}, so no event ` +
          `reaches this app (Aqueduct does this after a delivery failed all its retries). Turn it ` +
          `back on in Aqueduct's dashboard, then look there for what it gave up on meanwhile: ` +
          `Aqueduct does not send it again.`,
      ],
      matching: matches.map((e) => e.id),
      missingEvents: wantedNames,
    };
  }
  const enabled = new Set(on.flatMap((e) => e.enabledEvents.map(toApiEventName)));
  // Not documented by Aqueduct; if it ever answers '*' (Stripe's "all events"), nothing is missing.
  const missing = enabled.has(ANY_AQUEDUCT_EVENT)
    ? []
    : wantedNames.filter((name) => !enabled.has(name));
  const ids = on.map((e) => e.id);
  const matching = matches.map((e) => e.id);
  if (missing.length === 0) {
    return { problems: [], matching, missingEvents: [] };
  }
  const all = unique([...enabled, ...missing]);
  const which = ids.length === 1 ? `endpoint ${ids[0]}` : `endpoints ${ids.join(', ')}`;
  return {
    problems: [
      `Aqueduct's webhook ${which} for ${publicUrl} does not send ${missing.join(', ')}, which ` +
        `this app listens to, so those events never arrive. Add them to the endpoint in ` +
        `Aqueduct's dashboard, or register it again with every event and then delete ` +
        `${ids.join(', ')} (else events arrive twice): ${registerCommand(publicUrl, all)}`,
    ],
    matching,
    missingEvents: missing,
  };
}

/** The command line that registers the endpoint; secrets stay in the environment. */
function registerCommand(url: string, events: string[]): string {
  return (
    `npx nestjs-aqueduct endpoints register --url ${shellWord(url)} --events ${events.join(',')} ` +
    `--secret "$AQUEDUCT_WEBHOOK_SECRET" --api-key "$AQUEDUCT_API_KEY"`
  );
}

/** Quoted only when the shell would otherwise split or expand it (`?`, `&` in a query). */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

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

/** What the check needs of an endpoint (the client's answer, `enabledEvents` in either spelling). */
export type CheckedEndpoint = Pick<AqueductWebhookEndpoint, 'id' | 'url' | 'enabledEvents'>;

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
  const enabled = new Set(matches.flatMap((e) => e.enabledEvents.map(toApiEventName)));
  // Not documented by Aqueduct; if it ever answers '*' (Stripe's "all events"), nothing is missing.
  const missing = enabled.has(ANY_AQUEDUCT_EVENT)
    ? []
    : wantedNames.filter((name) => !enabled.has(name));
  const ids = matches.map((e) => e.id);
  if (missing.length === 0) {
    return { problems: [], matching: ids, missingEvents: [] };
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
    matching: ids,
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

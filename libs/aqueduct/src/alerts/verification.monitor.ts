import { Inject, Injectable, Logger } from '@nestjs/common';
import { STANDARD_WEBHOOKS_HEADERS } from '../aqueduct.constants';
import { BODY_REFUSAL_FIX } from '../aqueduct.messages';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { DEFAULT_HMAC_HEADER } from '../options/aqueduct-options.defaults';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AqueductAlerts } from './aqueduct-alerts.service';
import { RefusedBodies } from './refused-bodies';
import { formatDuration } from '../utils/format-duration';
import { printable } from '../utils/printable';

/** Why a request was refused, as counted and alerted on. */
export type UnauthorizedReason =
  | 'missing'
  | 'other-scheme'
  | 'malformed'
  | 'stale-timestamp'
  | 'bad-signature'
  | 'error'
  /** Refused by the host's own middleware, global guard, throttler, interceptor or pipe. */
  | 'host-refused'
  /** Refused before it could be verified: over `maxBodyBytes` (413). */
  | 'too-large'
  /** Refused before it could be verified: a content coding that cannot be decoded (415). */
  | 'unsupported'
  /** Refused before it could be verified: a body that could not be read or decoded (400). */
  | 'unreadable';

/** What else is known of a refusal, beyond its reason. */
export interface RefusalSignals {
  /**
   * Signed with a configured secret, refused only for its timestamp: every retry of it will be
   * refused the same way, so the alert opens at once.
   */
  authentic?: boolean;
  /** Refused whatever the sender does on its retries (413, 415): the alert opens at once. */
  certain?: boolean;
  /** The raw body, to know the same request when it comes again (a sender retrying it). */
  body?: Buffer;
}

/** One log line per reason per this long, per instance; the lines in between are counted. */
const LOG_EVERY_MS = 60_000;

const STANDARD_SIGNATURES: readonly string[] = STANDARD_WEBHOOKS_HEADERS.signature;

/**
 * Refusals the raw-body reader answers, before any verifier, with their status: counted by the
 * reader's own metric (`outcome`), logged with the fix.
 */
const BEFORE_VERIFICATION: ReadonlyMap<UnauthorizedReason, number> = new Map([
  ['too-large', 413],
  ['unsupported', 415],
  ['unreadable', 400],
]);

/** Header names that tell which scheme a request was signed with (never their values). */
const SCHEME_MARKERS: { scheme: string; matches: (name: string) => boolean }[] = [
  {
    scheme: 'standard-webhooks',
    matches: (name) => STANDARD_SIGNATURES.includes(name),
  },
  { scheme: 'shared-secret (authorization)', matches: (name) => name === 'authorization' },
  {
    scheme: 'hmac',
    matches: (name) => /signature|hmac/.test(name) && !STANDARD_SIGNATURES.includes(name),
  },
];

interface Failure {
  at: number;
  reason: UnauthorizedReason;
  headers: string[];
}

/** Why the alert opens: a streak, a refusal that will repeat, or a request refused once more. */
type Trigger =
  | { kind: 'streak' }
  | { kind: 'authentic'; detail: string }
  | { kind: 'certain'; reason: UnauthorizedReason; detail: string }
  | { kind: 'repeated'; reason: UnauthorizedReason; firstAt: number; now: number };

/**
 * Notices a setup that cannot work in minutes, not after Aqueduct's 43 hours of retries: counts
 * every refusal by reason (metrics, rate-limited logs naming header names only), and opens the
 * `verification` alert (health degraded, one mail to `email.alertTo` naming the reason, what the
 * requests carried and what is configured) when
 * - `alerts.verificationFailures` requests fail within `alerts.verificationWindowMs` with no success
 *   in between (a busy endpoint);
 * - the same request is refused again (a quiet endpoint: Aqueduct's retries of one event come 1, 6,
 *   12 and 24 hours apart, never five in ten minutes);
 * - a refusal will meet every retry whatever the sender does (signed with our secret but stale; a
 *   body over the limit).
 * The next verified request resolves it.
 */
@Injectable()
export class VerificationMonitor {
  private readonly logger = new Logger('AqueductWebhook');
  private failures: Failure[] = [];
  private readonly refusedBodies = new RefusedBodies();
  private readonly logged = new Map<UnauthorizedReason, { at: number; suppressed: number }>();
  private raising?: Promise<unknown>;

  constructor(
    private readonly alerts: AqueductAlerts,
    private readonly metrics: AqueductMetrics,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  /** The reason to count a refusal under: no credentials, but another scheme's, is a wrong setup. */
  classify(kind: UnauthorizedReason, headerNames: string[]): UnauthorizedReason {
    return kind === 'missing' && this.otherSchemes(headerNames).length > 0 ? 'other-scheme' : kind;
  }

  /**
   * Counts a refusal, and opens the alert when it says the endpoint is on its way to being
   * disabled. A refusal before verification (413, 415, 400) is counted by the caller's metric.
   */
  failure(
    reason: UnauthorizedReason,
    detail: string,
    headerNames: string[],
    signals: RefusalSignals = {},
    now = Date.now(),
  ) {
    if (!BEFORE_VERIFICATION.has(reason)) {
      this.metrics.webhookUnauthorized(reason);
    }
    const hint =
      reason === 'other-scheme'
        ? ` (it looks signed with ${this.otherSchemes(headerNames).join(' or ')}, not ${this.options.verification.scheme}: set verification.scheme accordingly)`
        : '';
    this.log(reason, `${detail}${hint}`, headerNames, now);
    this.failures = this.current(now);
    this.failures.push({ at: now, reason, headers: headerNames });
    const firstAt = this.refusedBodies.refusedBefore(signals.body, now);
    const trigger: Trigger | undefined = signals.authentic
      ? { kind: 'authentic', detail }
      : signals.certain && this.carriesCredentials(headerNames)
        ? { kind: 'certain', reason, detail }
        : firstAt !== undefined
          ? { kind: 'repeated', reason, firstAt, now }
          : this.failures.length >= this.options.alerts.verificationFailures
            ? { kind: 'streak' }
            : undefined;
    if (trigger && !this.alerts.isOpen('verification') && !this.raising) {
      // A streak may predate a success seen elsewhere (then it is the last incident's); the other
      // triggers are about this very request, refused now.
      this.raise(trigger, trigger.kind === 'streak' ? new Date(this.failures[0].at) : undefined);
    }
  }

  /** A verified request was answered 2xx: the setup works; the alert, if open, is resolved. */
  success(): void {
    if (this.failures.length > 0) {
      this.failures = [];
    }
    // A raise still in flight opens it after this success: resolved once it has.
    void (this.raising ?? Promise.resolve()).then(() => {
      if (this.alerts.isOpen('verification')) {
        return this.alerts
          .resolve('verification')
          .catch((error) => this.logger.error(`Could not resolve the alert: ${error.message}`));
      }
    });
  }

  /** Refusals in the current window, by reason (for health). */
  recent(now = Date.now()): Partial<Record<UnauthorizedReason, number>> {
    const counts: Partial<Record<UnauthorizedReason, number>> = {};
    for (const failure of this.current(now)) {
      counts[failure.reason] = (counts[failure.reason] ?? 0) + 1;
    }
    return counts;
  }

  /**
   * The refusals that still count: within the window, and after the alert was last resolved (by
   * any instance: a verified request elsewhere means the setup works again).
   */
  private current(now = Date.now()): Failure[] {
    const resolved = this.alerts.lastResolvedAt('verification')?.getTime() ?? 0;
    const since = Math.max(now - this.options.alerts.verificationWindowMs, resolved);
    return this.failures.filter((f) => f.at > since);
  }

  private raise(trigger: Trigger, seenSince: Date | undefined): void {
    const [summary, details] = this.describe(trigger);
    this.raising = this.alerts
      .raise('verification', summary, details, seenSince)
      .then((opened) => {
        // Resolved by another instance after these refusals began: they are of the last incident.
        if (!opened && !this.alerts.isOpen('verification')) {
          this.failures = this.current();
        }
      })
      .catch((error) => this.logger.error(`Could not raise the alert: ${error.message}`))
      .finally(() => (this.raising = undefined));
  }

  private describe(trigger: Trigger): [string, Record<string, unknown>] {
    const byReason = this.recent();
    const configured = this.expected();
    switch (trigger.kind) {
      case 'authentic':
        return [
          `A webhook request signed with a configured secret was refused for its timestamp (${trigger.detail}). ` +
            "Either this server's clock is off (check it), or the sender keeps a delivery's first " +
            'timestamp on its retries, and every retry will be refused until Aqueduct disables the ' +
            'endpoint: raise verification.toleranceSeconds to cover its retries (172800 covers its ' +
            '43 hours; a replay is still a duplicate, deduplicated on its delivery id), or a replay ' +
            'of a captured delivery is being attempted.',
          { byReason, authentic: true, configured },
        ];
      case 'certain':
        return [
          `A webhook request was refused before it could be verified (${trigger.reason}: ${trigger.detail}). ` +
            'If Aqueduct sent it, every retry gets the same answer and Aqueduct then disables ' +
            `the endpoint: ${this.hint(trigger.reason)}`,
          { byReason, configured },
        ];
      case 'repeated': {
        return [
          `The same webhook request was refused again (${trigger.reason}), ` +
            `${formatDuration(trigger.now - trigger.firstAt)} after it was first refused: its ` +
            'sender is retrying it, and Aqueduct disables the endpoint ' +
            `after its last retry (1, 6, 12 and 24 hours apart): ${this.hint(trigger.reason)}`,
          {
            byReason,
            headersSeen: this.headersSeen(),
            configured,
            firstRefusedAt: new Date(trigger.firstAt),
          },
        ];
      }
      case 'streak': {
        const main = (Object.entries(byReason).sort((a, b) => b[1] - a[1])[0]?.[0] ??
          'bad-signature') as UnauthorizedReason;
        const minutes = Math.round(this.options.alerts.verificationWindowMs / 60_000);
        return [
          `${this.failures.length} webhook requests failed verification within ${minutes} min, none ` +
            `verified since the first of them (mostly ${main}); Aqueduct disables the endpoint after ` +
            `its retries: ${this.hint(main)}`,
          {
            byReason,
            headersSeen: this.headersSeen(),
            configured,
            windowMs: this.options.alerts.verificationWindowMs,
          },
        ];
      }
    }
  }

  /** Header names the current refusals carried (never their values). */
  private headersSeen(): string[] {
    return [...new Set(this.failures.flatMap((f) => f.headers))].sort();
  }

  /** Which of the headers the scheme needs the refused requests lacked (not those they had). */
  private missingHeaders(): string {
    const seen = new Set(this.headersSeen());
    const expected = this.expected().headers;
    const lacking = expected.filter((name) => !seen.has(name));
    const carried = expected.filter((name) => seen.has(name));
    if (carried.length === 0) {
      return `the requests carry none of ${expected.join(', ')}`;
    }
    return lacking.length === 0
      ? `the requests carry ${expected.join(', ')}, but not all with a value`
      : `the requests lack ${lacking.join(', ')} (they carry ${carried.join(', ')})`;
  }

  /** What to change for refusals that are mostly `main`. */
  private hint(main: UnauthorizedReason): string {
    const others = this.otherSchemes(this.headersSeen());
    switch (main) {
      case 'other-scheme':
        return `the requests look signed with ${others.join(' or ')}: set verification.scheme accordingly`;
      case 'missing':
        return others.length > 0
          ? `the requests look signed with ${others.join(' or ')}: set verification.scheme accordingly`
          : this.missingHeaders();
      case 'bad-signature':
        return 'no configured secret matches: is AQUEDUCT_WEBHOOK_SECRET the secret registered with Aqueduct?';
      case 'stale-timestamp':
        return "the signed timestamps are outside the tolerance: check this server's clock";
      case 'host-refused':
        return "the app's own middleware, global guard, throttler, interceptor or pipe refuses them before the module sees them: exempt the webhook route (isAqueductWebhookRoute)";
      case 'too-large':
      case 'unsupported':
      case 'unreadable':
        return BODY_REFUSAL_FIX[main];
      default:
        return 'the requests carry credentials this module cannot read';
    }
  }

  /**
   * Whether a request carries the credential header of the configured scheme (any, with a
   * verifier of the host's own): one without is not worth a page for a refusal of its body.
   */
  private carriesCredentials(headerNames: string[]): boolean {
    const { scheme, headers } = this.expected();
    if (scheme === 'standard-webhooks') {
      return headerNames.some((name) => STANDARD_SIGNATURES.includes(name));
    }
    // hmac's and shared-secret's first header carries the signature or the secret; custom: none known.
    return headers.length === 0 || headerNames.includes(headers[0].toLowerCase());
  }

  /** The configured scheme and the headers it reads. */
  private expected(): { scheme: string; headers: string[] } {
    const v = this.options.verification;
    switch (v.scheme) {
      case 'standard-webhooks':
        return {
          scheme: v.scheme,
          headers: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
        };
      case 'hmac':
        return {
          scheme: v.scheme,
          headers: [
            v.header ?? DEFAULT_HMAC_HEADER,
            ...(v.timestampHeader ? [v.timestampHeader] : []),
          ],
        };
      case 'shared-secret':
        return { scheme: v.scheme, headers: [v.header ?? 'authorization'] };
      default:
        return { scheme: v.scheme, headers: [] };
    }
  }

  private otherSchemes(headerNames: string[]): string[] {
    const configured = this.options.verification.scheme;
    return SCHEME_MARKERS.filter(
      (marker) =>
        !marker.scheme.startsWith(configured) && headerNames.some((name) => marker.matches(name)),
    ).map((marker) => marker.scheme);
  }

  private log(reason: UnauthorizedReason, detail: string, headerNames: string[], now: number) {
    const last = this.logged.get(reason);
    if (last && now - last.at < LOG_EVERY_MS) {
      last.suppressed++;
      return;
    }
    const suppressed = last?.suppressed
      ? ` (${last.suppressed} more like it since the last line)`
      : '';
    this.logged.set(reason, { at: now, suppressed: 0 });
    const status = BEFORE_VERIFICATION.get(reason);
    this.logger.warn(
      printable(
        status !== undefined
          ? // Nothing from the request but its size or coding: no header names either.
            `Refused a webhook request with ${status}: ${detail}${suppressed}. If Aqueduct sent it, ` +
              'every retry gets the same answer and Aqueduct then disables the endpoint: ' +
              BODY_REFUSAL_FIX[reason as keyof typeof BODY_REFUSAL_FIX]
          : `Rejected webhook (${reason === 'host-refused' ? 'by the app' : '401'}, ${reason}): ${detail}. Headers present: ${headerNames.join(', ') || '(none)'}${suppressed}`,
      ),
    );
  }
}

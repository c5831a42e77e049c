import { Inject, Injectable, Logger } from '@nestjs/common';
import { STANDARD_WEBHOOKS_HEADERS } from '../aqueduct.constants';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AqueductAlerts } from './aqueduct-alerts.service';
import { printable } from '../utils/printable';

/** Why a request was refused, as counted and alerted on. */
export type UnauthorizedReason =
  | 'missing'
  | 'other-scheme'
  | 'malformed'
  | 'stale-timestamp'
  | 'bad-signature'
  | 'error'
  /** Refused by the host's own global guard, throttler, interceptor or pipe. */
  | 'host-refused';

/** One log line per reason per this long, per instance; the lines in between are counted. */
const LOG_EVERY_MS = 60_000;

const STANDARD_SIGNATURES: readonly string[] = STANDARD_WEBHOOKS_HEADERS.signature;

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

/**
 * Notices a setup that cannot work in minutes, not after Aqueduct's 43 hours of retries: counts
 * every refusal by reason (metrics, rate-limited logs naming header names only), and when
 * `alerts.verificationFailures` requests fail within `alerts.verificationWindowMs` with no success
 * in between, opens the `verification` alert (health degraded, one mail to `email.alertTo` naming
 * the reason, what the requests carried and what is configured). The next verified request
 * resolves it.
 */
@Injectable()
export class VerificationMonitor {
  private readonly logger = new Logger('AqueductWebhook');
  private failures: Failure[] = [];
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
   * Counts a refusal. An `authentic` one (signed with a configured secret, refused only for its
   * timestamp) opens the alert at once: every retry of it will be refused the same way.
   */
  failure(
    reason: UnauthorizedReason,
    detail: string,
    headerNames: string[],
    authentic = false,
    now = Date.now(),
  ) {
    this.metrics.webhookUnauthorized(reason);
    const hint =
      reason === 'other-scheme'
        ? ` (it looks signed with ${this.otherSchemes(headerNames).join(' or ')}, not ${this.options.verification.scheme}: set verification.scheme accordingly)`
        : '';
    this.log(reason, `${detail}${hint}`, headerNames, now);
    const { verificationFailures } = this.options.alerts;
    this.failures = this.current(now);
    this.failures.push({ at: now, reason, headers: headerNames });
    if (
      (authentic || this.failures.length >= verificationFailures) &&
      !this.alerts.isOpen('verification') &&
      !this.raising
    ) {
      const [summary, details] = authentic ? this.describeAuthentic(detail) : this.describe();
      const seenSince = new Date(this.failures[0].at);
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
  }

  success(): void {
    if (this.failures.length > 0) {
      this.failures = [];
    }
    if (this.alerts.isOpen('verification')) {
      void this.alerts
        .resolve('verification')
        .catch((error) => this.logger.error(`Could not resolve the alert: ${error.message}`));
    }
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

  private describe(): [string, Record<string, unknown>] {
    const byReason = this.recent();
    const main = (Object.entries(byReason).sort((a, b) => b[1] - a[1])[0]?.[0] ??
      'bad-signature') as UnauthorizedReason;
    const seen = [...new Set(this.failures.flatMap((f) => f.headers))].sort();
    const configured = this.expected();
    const others = this.otherSchemes(seen);
    const hint =
      main === 'other-scheme' || (main === 'missing' && others.length > 0)
        ? `the requests look signed with ${others.join(' or ')}: set verification.scheme accordingly`
        : main === 'bad-signature'
          ? 'no configured secret matches: is AQUEDUCT_WEBHOOK_SECRET the secret registered with Aqueduct?'
          : main === 'stale-timestamp'
            ? "the signed timestamps are outside the tolerance: check this server's clock"
            : main === 'missing'
              ? `the requests carry none of ${configured.headers.join(', ')}`
              : main === 'host-refused'
                ? "the app's own global guard, throttler, interceptor or pipe refuses them before the module sees them: exempt the webhook route (isAqueductWebhookRoute)"
                : 'the requests carry credentials this module cannot read';
    const minutes = Math.round(this.options.alerts.verificationWindowMs / 60_000);
    const summary =
      `${this.failures.length} webhook requests failed verification within ${minutes} min, none ` +
      `verified since the first of them (mostly ${main}); Aqueduct disables the endpoint after ` +
      `its retries: ${hint}`;
    return [
      summary,
      {
        byReason,
        headersSeen: seen,
        configured,
        windowMs: this.options.alerts.verificationWindowMs,
      },
    ];
  }

  /** The alert for a request signed with our secret and refused for its timestamp. */
  private describeAuthentic(detail: string): [string, Record<string, unknown>] {
    const summary =
      `A webhook request signed with a configured secret was refused for its timestamp (${detail}). ` +
      "Either this server's clock is off (check it), or the sender keeps a delivery's first " +
      'timestamp on its retries, and every retry will be refused until Aqueduct disables the ' +
      'endpoint: raise verification.toleranceSeconds to cover its retries (172800 covers its ' +
      '43 hours; a replay is still a duplicate, deduplicated on its delivery id), or a replay ' +
      'of a captured delivery is being attempted.';
    return [summary, { byReason: this.recent(), authentic: true, configured: this.expected() }];
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
            v.header ?? 'x-aqueduct-signature',
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
    this.logger.warn(
      printable(
        `Rejected webhook (${reason === 'host-refused' ? 'by the app' : '401'}, ${reason}): ${detail}. Headers present: ${headerNames.join(', ') || '(none)'}${suppressed}`,
      ),
    );
  }
}

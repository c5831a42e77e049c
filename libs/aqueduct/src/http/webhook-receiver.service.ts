import {
  BadRequestException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { STANDARD_WEBHOOKS_HEADERS } from '../aqueduct.constants';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import { AqueductDispatcher } from '../dispatch/aqueduct-dispatcher.service';
import { AqueductEventPublisher } from '../listeners/aqueduct-event.publisher';
import { type ParsedEvent, parseAqueductEvent } from '../events/aqueduct-event.parser';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import {
  AqueductInbox,
  type InboxRecord,
  type InboxResult,
} from '../storage/aqueduct-inbox.service';
import { withTimeout } from '../utils/with-timeout';
import type { VerifiedWebhook } from '../options/webhook-verifier.interface';
import { printable } from '../utils/printable';

/** The answer to a stored event. */
export interface WebhookAck {
  received: true;
  id: string;
  duplicate?: true;
  /** Authentic but not understood: stored byte for byte, alerted on, delivered to no listener. */
  quarantined?: true;
  /** Why it was quarantined, each naming its field. */
  errors?: string[];
}

/** Longest delivery id used as it is in a dedup key; a longer one is hashed (the key is indexed). */
const MAX_DELIVERY_ID_IN_KEY = 200;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * The deduplication key: the delivery id when the signature covers it (Standard Webhooks), else
 * the SHA-256 of the raw body, so an id from an unsigned header cannot make one body many events.
 */
export function dedupKeyOf(rawBody: Buffer, verified: VerifiedWebhook): string {
  const id = verified.deliveryIdSigned ? verified.deliveryId : undefined;
  if (!id) {
    return `sha256:${sha256(rawBody)}`;
  }
  return id.length > MAX_DELIVERY_ID_IN_KEY ? `id-sha256:${sha256(id)}` : `id:${id}`;
}

/** Headers kept with each event for debugging. Signatures and secrets are never among them. */
const KEPT_HEADERS = [
  'content-type',
  'content-length',
  'user-agent',
  'x-request-id',
  ...STANDARD_WEBHOOKS_HEADERS.id,
  ...STANDARD_WEBHOOKS_HEADERS.timestamp,
];

/**
 * Turns a verified request into a stored event and the answer to send. The answer is a 2xx only
 * once the row is committed; if Postgres does not answer in time, 503 lets Aqueduct retry. An
 * event that cannot be understood is quarantined and answered 2xx (`invalidEvents: 'quarantine'`):
 * a retry would carry the same bytes, so an error answer could only get the endpoint disabled.
 */
@Injectable()
export class WebhookReceiver {
  private readonly logger = new Logger('AqueductWebhook');
  private readonly keptHeaders: string[];

  constructor(
    private readonly inbox: AqueductInbox,
    private readonly listeners: AqueductListenerRegistry,
    private readonly publisher: AqueductEventPublisher,
    private readonly dispatcher: AqueductDispatcher,
    private readonly metrics: AqueductMetrics,
    private readonly alerts: AqueductAlerts,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {
    const { verification } = options;
    const extra = [
      'deliveryIdHeader' in verification ? verification.deliveryIdHeader : undefined,
      'timestampHeader' in verification ? verification.timestampHeader : undefined,
    ];
    this.keptHeaders = [
      ...KEPT_HEADERS,
      ...extra.filter((h): h is string => !!h).map((h) => h.toLowerCase()),
    ];
  }

  async receive(
    rawBody: Buffer,
    headers: IncomingHttpHeaders,
    verified: VerifiedWebhook,
    arrivedAt: bigint = process.hrtime.bigint(),
  ): Promise<WebhookAck> {
    const seen = { type: 'unknown' };
    const seconds = () => Number(process.hrtime.bigint() - arrivedAt) / 1e9;
    try {
      const ack = await this.handle(rawBody, headers, verified, seen);
      const outcome = ack.quarantined ? 'quarantined' : ack.duplicate ? 'duplicate' : 'accepted';
      this.metrics.webhook(seen.type, outcome, seconds());
      return ack;
    } catch (error) {
      const rejected =
        error instanceof HttpException && error.getStatus() === HttpStatus.BAD_REQUEST;
      this.metrics.webhook(seen.type, rejected ? 'rejected' : 'unavailable', seconds());
      throw error;
    }
  }

  private async handle(
    rawBody: Buffer,
    headers: IncomingHttpHeaders,
    verified: VerifiedWebhook,
    seen: { type: string },
  ): Promise<WebhookAck> {
    const parsed = parseAqueductEvent(rawBody);
    seen.type = parsed.type;
    const record: InboxRecord = {
      dedupKey: dedupKeyOf(rawBody, verified),
      type: parsed.type,
      // Without a createdAt, the arrival time orders the event (and the event says so).
      createdAt: parsed.createdAt ?? (parsed.valid ? new Date() : null),
      // The received text itself: no re-serialisation, and numbers keep their precision.
      payloadJson: parsed.payload === null ? null : rawBody.toString('utf8'),
      rawBody,
      headers: this.pickHeaders(headers),
      deliveryId: verified.deliveryId?.slice(0, 1000) ?? null,
      signedAt: verified.signedAt ?? null,
      status: parsed.valid ? 'accepted' : 'quarantined',
      errors: parsed.valid ? null : parsed.errors,
      warnings: parsed.valid && parsed.warnings.length > 0 ? parsed.warnings : null,
      listeners: this.listeners.namesFor(parsed.type),
    };
    const local = parsed.valid ? this.dispatcher.reserve(record.listeners.length) : undefined;
    record.lease = local;
    let result: InboxResult;
    try {
      result = await this.store(record);
    } catch (error) {
      this.dispatcher.unreserve(local ? record.listeners.length : 0);
      throw error;
    }
    this.runHere(record, result, parsed);
    if (result.status !== 'accepted') {
      return this.quarantined(result, parsed);
    }
    if (!result.duplicate && parsed.valid) {
      this.publisher.publish({
        id: result.id,
        type: parsed.type,
        createdAt: record.createdAt,
        receivedAt: new Date(),
        object: parsed.object,
        payload: parsed.payload as Record<string, unknown>,
      });
    }
    return result.duplicate
      ? { received: true, id: result.id, duplicate: true }
      : { received: true, id: result.id };
  }

  /**
   * A stored event that could not be understood: an alert on the first of an incident, and the
   * answer `invalidEvents` asks for.
   */
  private quarantined(result: InboxResult, parsed: ParsedEvent): WebhookAck {
    const errors = result.errors ?? (parsed.valid ? [] : parsed.errors);
    if (!result.duplicate) {
      this.logger.warn(
        printable(`Quarantined ${parsed.type} event ${result.id}: ${errors.join('; ')}`),
      );
      if (!this.alerts.isOpen('quarantine')) {
        const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
        void this.alerts
          .raise(
            'quarantine',
            `An authentic ${parsed.type} event (${result.id}) was quarantined: ${errors[0]}${more}. ` +
              `Reprocess it once fixed (nestjs-aqueduct events reprocess ${result.id}) or dismiss it.`,
            { eventId: result.id, type: parsed.type, errors: errors.slice(0, 10) },
          )
          .catch((error) => this.logger.error(`Could not raise the alert: ${error.message}`));
      }
    }
    if (this.options.invalidEvents === 'reject') {
      throw new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: errors,
        id: result.id,
      });
    }
    return {
      received: true,
      id: result.id,
      ...(result.duplicate ? { duplicate: true as const } : {}),
      quarantined: true,
      errors,
    };
  }

  /** Runs the listeners of a new event in this instance when its deliveries were leased to it. */
  private runHere(record: InboxRecord, result: InboxResult, parsed: ParsedEvent): void {
    if (!record.lease) {
      return;
    }
    if (result.duplicate || result.status !== 'accepted') {
      this.dispatcher.unreserve(record.listeners.length);
      return;
    }
    const receivedAt = new Date();
    this.dispatcher.runReserved(
      record.listeners.map((listener) => ({
        eventId: result.id,
        listener,
        attempts: 1,
        type: parsed.type,
        createdAt: parsed.createdAt,
        receivedAt,
        payload: parsed.payload,
        // Built once by the parser, shared by the event's listeners.
        object: parsed.valid ? parsed.object : undefined,
      })),
    );
  }

  private async store(record: InboxRecord): Promise<InboxResult> {
    try {
      return await withTimeout(this.inbox.store(record), this.options.storeTimeoutMs);
    } catch (error) {
      this.logger.error(
        printable(
          `Could not store a ${record.type} event, answering 503: ${(error as Error).message}`,
        ),
      );
      throw new ServiceUnavailableException({
        statusCode: 503,
        error: 'Service Unavailable',
        message: 'the event could not be stored; retry later',
      });
    }
  }

  private pickHeaders(headers: IncomingHttpHeaders): Record<string, string> {
    const kept: Record<string, string> = {};
    for (const name of this.keptHeaders) {
      const value = headers[name];
      if (value !== undefined) {
        kept[name] = (Array.isArray(value) ? value.join(', ') : value).slice(0, 512);
      }
    }
    return kept;
  }
}

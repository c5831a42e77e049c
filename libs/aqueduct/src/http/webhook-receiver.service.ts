import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  ServiceUnavailableException,
} from '@nestjs/common';
import type { IncomingHttpHeaders } from 'node:http';
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
import { acceptedAck, quarantinedAck, quarantinedRejection, type WebhookAck } from './webhook.ack';
import { keptHeaderNames, pickHeaders } from './webhook.headers';
import { reportQuarantined } from './webhook-quarantine.alert';
import { bodyText } from './webhook.body-text';
import { ownAnswer } from './webhook.own-answers';
import { toInboxRecord } from './webhook.record';

export type { WebhookAck } from './webhook.ack';
export { dedupKeyOf } from './webhook.record';

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
    this.keptHeaders = keptHeaderNames(options.verification);
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
    const body = bodyText(rawBody, headers['content-type']);
    const parsed = parseAqueductEvent(body.utf8);
    seen.type = parsed.type;
    const record = toInboxRecord({
      rawBody,
      body,
      verified,
      parsed,
      headers: pickHeaders(headers, this.keptHeaders),
      listeners: this.listeners.namesFor(parsed.type),
    });
    const result = await this.storeReserving(record, parsed);
    this.runHere(record, result, parsed);
    if (result.status !== 'accepted') {
      return this.quarantined(result, parsed);
    }
    if (!result.duplicate) {
      this.publish(record, parsed, result.id);
    }
    return acceptedAck(result);
  }

  /** Hands a new event to the in-process event emitter (`@OnEvent` listeners). */
  private publish(record: InboxRecord, parsed: ParsedEvent, id: string): void {
    if (parsed.valid) {
      this.publisher.publish({
        id,
        type: parsed.type,
        createdAt: record.createdAt,
        receivedAt: new Date(),
        object: parsed.object,
        payload: parsed.payload as Record<string, unknown>,
      });
    }
  }

  /**
   * Stores a record, its deliveries leased to this instance when it has room to run them (the
   * fast path); the room is given back if the write fails.
   */
  private async storeReserving(record: InboxRecord, parsed: ParsedEvent): Promise<InboxResult> {
    // Leased here only when this instance runs all of them: one that only others run stays pending.
    const local =
      parsed.valid && this.listeners.allHere(parsed.type)
        ? this.dispatcher.reserve(record.listeners.length)
        : undefined;
    record.lease = local;
    try {
      return await this.store(record, (late) => this.storedLate(record, parsed, late));
    } catch (error) {
      this.dispatcher.unreserve(local ? record.listeners.length : 0);
      throw error;
    }
  }

  /**
   * A write answered 503 (`storeTimeoutMs`) that committed after all: Aqueduct will retry it as
   * a duplicate, so what the answer would have started starts now. Its deliveries, leased to this
   * instance for a run it no longer makes, go back to the queue for any instance at once, not
   * after their lease.
   */
  private storedLate(record: InboxRecord, parsed: ParsedEvent, result: InboxResult): void {
    if (result.duplicate) {
      return;
    }
    if (result.status === 'quarantined') {
      // Its retry will be a duplicate, which says nothing: the alert is raised now or never.
      reportQuarantined(
        this.alerts,
        this.logger,
        result,
        parsed.type,
        this.errorsOf(result, parsed),
      );
      return;
    }
    if (result.status !== 'accepted') {
      return;
    }
    this.logger.warn(
      `The ${record.type} event ${result.id} answered 503 was stored after all; its retry will be a duplicate`,
    );
    if (record.lease) {
      this.dispatcher.releaseLate(result.id, record.listeners);
    }
    this.publish(record, parsed, result.id);
  }

  /**
   * A stored event that could not be understood: an alert on the first of an incident, and the
   * answer `invalidEvents` asks for.
   */
  private quarantined(result: InboxResult, parsed: ParsedEvent): WebhookAck {
    const errors = this.errorsOf(result, parsed);
    reportQuarantined(this.alerts, this.logger, result, parsed.type, errors);
    if (this.options.invalidEvents === 'reject') {
      throw quarantinedRejection(result, errors);
    }
    return quarantinedAck(result, errors);
  }

  /** Why a stored event was quarantined: the store's reasons, else the parser's. */
  private errorsOf(result: InboxResult, parsed: ParsedEvent): string[] {
    return result.errors ?? (parsed.valid ? [] : parsed.errors);
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
        firstRun: true,
        type: parsed.type,
        // As stored (the arrival time when the body had none), so every run orders it the same.
        createdAt: record.createdAt,
        receivedAt,
        payload: parsed.payload,
        // Built once by the parser, shared by the event's listeners.
        object: parsed.valid ? parsed.object : undefined,
      })),
    );
  }

  /** Stores `record` within `storeTimeoutMs`, else 503; a write that commits later is `late`'s. */
  private async store(
    record: InboxRecord,
    late: (result: InboxResult) => void,
  ): Promise<InboxResult> {
    const stored = this.inbox.store(record);
    try {
      return await withTimeout(stored, this.options.storeTimeoutMs);
    } catch (error) {
      stored.then(late, () => undefined);
      this.logger.error(
        printable(
          `Could not store a ${record.type} event, answering 503: ${(error as Error).message}`,
        ),
      );
      throw ownAnswer(
        new ServiceUnavailableException({
          statusCode: 503,
          error: 'Service Unavailable',
          message: 'the event could not be stored; retry later',
        }),
      );
    }
  }
}

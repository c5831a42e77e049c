import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  InternalServerErrorException,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { RAW_BODY_MISSING, WEBHOOK_UNAUTHORIZED } from '../aqueduct.messages';
import { VerificationMonitor } from '../alerts/verification.monitor';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { WebhookVerificationError } from '../verification/webhook-verification.error';
import {
  WEBHOOK_VERIFIER,
  type VerifiedWebhook,
  type WebhookVerifier,
} from '../options/webhook-verifier.interface';
import { ARRIVED_AT, RAW_BODY, type RequestWithRawBody } from './raw-body.reader';
import { ownAnswer } from './webhook.own-answers';
import { printable } from '../utils/printable';

/** Where the guard leaves what the verifier learned (delivery id, signing time). */
export const VERIFIED_WEBHOOK = Symbol('aqueduct.verified');

export type VerifiedRequest = RequestWithRawBody & { [VERIFIED_WEBHOOK]?: VerifiedWebhook };

/**
 * Checks the request against the configured scheme on the raw bytes, before anything is parsed.
 * Refusals are counted by reason and logged (rate-limited, header names only, never values); they
 * may open the `verification` alert (`VerificationMonitor`), which a verified request answered 2xx
 * resolves.
 */
@Injectable()
export class AqueductSignatureGuard implements CanActivate {
  protected readonly logger = new Logger('AqueductWebhook');

  constructor(
    @Inject(WEBHOOK_VERIFIER) private readonly verifier: WebhookVerifier,
    private readonly monitor: VerificationMonitor,
    private readonly metrics: AqueductMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<VerifiedRequest>();
    const rawBody = request[RAW_BODY];
    if (!rawBody) {
      this.logger.error(RAW_BODY_MISSING);
      // Every retry meets the same setup: the alert opens, the endpoint is not disabled unheard.
      this.monitor.failure(
        'unreadable',
        'a body read before the module by a parser that kept no bytes (req.rawBody)',
        Object.keys(request.headers),
        { certain: true },
      );
      throw ownAnswer(new InternalServerErrorException('webhook body was not captured'));
    }
    try {
      // The success that resolves the alert is the 2xx answer (the body reader sees it): the host's
      // interceptors and pipes, which run after this guard, may still refuse the request.
      request[VERIFIED_WEBHOOK] = await this.verifier.verify({ rawBody, headers: request.headers });
      return true;
    } catch (error) {
      this.onRejected(error, request);
      throw ownAnswer(new UnauthorizedException(WEBHOOK_UNAUTHORIZED));
    }
  }

  /** Counts and logs why a request was refused. Override to add your own; never log header values. */
  protected onRejected(error: unknown, request: VerifiedRequest): void {
    const names = Object.keys(request.headers);
    const arrivedAt = request[ARRIVED_AT];
    const seconds = arrivedAt === undefined ? 0 : Number(process.hrtime.bigint() - arrivedAt) / 1e9;
    this.metrics.webhook('unknown', 'unauthorized', seconds);
    if (!(error instanceof WebhookVerificationError)) {
      this.logger.error(
        printable(`Webhook verifier failed: ${(error as Error)?.message ?? String(error)}`),
      );
      this.monitor.failure('error', 'the verifier threw', names, { body: request[RAW_BODY] });
      return;
    }
    const reason = this.monitor.classify(error.kind, names);
    this.monitor.failure(reason, error.reason, names, {
      authentic: error.authentic,
      body: request[RAW_BODY],
    });
  }
}

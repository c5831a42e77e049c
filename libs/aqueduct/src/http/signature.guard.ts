import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  InternalServerErrorException,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { STANDARD_WEBHOOKS_HEADERS } from '../aqueduct.constants';
import { RAW_BODY_MISSING, schemeHint, verificationFailed } from '../aqueduct.messages';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { WebhookVerificationError } from '../verification/webhook-verification.error';
import {
  WEBHOOK_VERIFIER,
  type VerifiedWebhook,
  type WebhookVerifier,
} from '../verification/webhook-verifier.interface';
import { RAW_BODY, type RequestWithRawBody } from './raw-body.reader';

/** Where the guard leaves what the verifier learned (delivery id, signing time). */
export const VERIFIED_WEBHOOK = Symbol('aqueduct.verified');

export type VerifiedRequest = RequestWithRawBody & { [VERIFIED_WEBHOOK]?: VerifiedWebhook };

/** Sent back on every verification failure: the reason goes to the log only. */
const UNAUTHORIZED_MESSAGE = 'webhook signature or secret missing or invalid';

/**
 * Checks the request against the configured scheme on the raw bytes, before anything is parsed.
 * The log names the reason and the header names seen, never their values.
 */
@Injectable()
export class AqueductSignatureGuard implements CanActivate {
  protected readonly logger = new Logger('AqueductWebhook');

  constructor(
    @Inject(WEBHOOK_VERIFIER) private readonly verifier: WebhookVerifier,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly metrics: AqueductMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<VerifiedRequest>();
    const rawBody = request[RAW_BODY];
    if (!rawBody) {
      this.logger.error(RAW_BODY_MISSING);
      throw new InternalServerErrorException('webhook body was not captured');
    }
    try {
      request[VERIFIED_WEBHOOK] = await this.verifier.verify({ rawBody, headers: request.headers });
      return true;
    } catch (error) {
      this.onRejected(error, request);
      throw new UnauthorizedException(UNAUTHORIZED_MESSAGE);
    }
  }

  /** Logs why a request was refused. Override to count or alert; never log header values. */
  protected onRejected(error: unknown, request: VerifiedRequest): void {
    const names = Object.keys(request.headers);
    this.metrics.webhook('unknown', 'unauthorized', 0);
    if (!(error instanceof WebhookVerificationError)) {
      this.logger.error(`Webhook verifier failed: ${(error as Error)?.message ?? String(error)}`);
      return;
    }
    this.logger.warn(verificationFailed(error.reason, names));
    const scheme = this.options.verification.scheme;
    const signedLikeStandardWebhooks = STANDARD_WEBHOOKS_HEADERS.signature.some((h) =>
      names.includes(h),
    );
    if (scheme !== 'standard-webhooks' && signedLikeStandardWebhooks) {
      this.logger.warn(schemeHint(scheme));
    }
  }
}

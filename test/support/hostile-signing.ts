/**
 * How test/hostile-input.e2e-spec.ts signs: the app under attack verifies Standard Webhooks with
 * HOSTILE_SECRET and takes bodies up to HOSTILE_MAX_BODY bytes; the generators here and in
 * hostile-bodies.ts and hostile-unsigned.ts compute their expected answers from these settings.
 */
import fc from 'fast-check';
import { type RawRequest, nowSeconds, standardWebhooksSignature } from './hostile-webhook';

export const HOSTILE_SECRET = `whsec_${Buffer.from('hostile-input-e2e-secret-32-bytes!').toString('base64')}`;
export const HOSTILE_MAX_BODY = 16 * 1024;
/** The default toleranceSeconds, which the app keeps. */
export const TOLERANCE_SECONDS = 300;

type SignatureForm = 'plain' | 'after-garbage' | 'joined-duplicate' | 'repeated-header' | 'v2-too';
export interface SigningOptions {
  family: 'webhook' | 'svix';
  form: SignatureForm;
  skewSeconds: number;
  contentType: string | undefined;
}

let nextId = 0;
const deliveryId = () => `msg_hostile_${process.pid}_${Date.now()}_${nextId++}`;

/** A request signed with the configured secret and scheme, in one of the accepted header forms. */
export function signed(body: Buffer, options: Partial<SigningOptions> = {}): RawRequest {
  const { family = 'webhook', form = 'plain', skewSeconds = 0 } = options;
  const contentType = 'contentType' in options ? options.contentType : 'application/json';
  const id = deliveryId();
  const timestamp = String(nowSeconds() + skewSeconds);
  const signature = standardWebhooksSignature(HOSTILE_SECRET, id, timestamp, body);
  const garbage = 'v1,Z2FyYmFnZS1zaWduYXR1cmUtZ2FyYmFnZS1zaWduYXR1cmU=';
  const signatures: Record<SignatureForm, string | string[]> = {
    plain: signature,
    'after-garbage': `${garbage} ${signature}`,
    'joined-duplicate': `${garbage}, ${signature}`,
    'repeated-header': [garbage, signature],
    'v2-too': `v2,${signature.slice(3)} ${signature}`,
  };
  const headers: RawRequest['headers'] = {
    [`${family}-id`]: id,
    [`${family}-timestamp`]: timestamp,
    [`${family}-signature`]: signatures[form],
  };
  if (contentType !== undefined) {
    headers['content-type'] = contentType;
  }
  return { body, headers };
}

export const signingArb: fc.Arbitrary<SigningOptions> = fc.record({
  family: fc.constantFrom('webhook' as const, 'svix' as const),
  form: fc.constantFrom<SignatureForm>(
    'plain',
    'after-garbage',
    'joined-duplicate',
    'repeated-header',
    'v2-too',
  ),
  // Inside the window with a margin: a second may pass between signing and verifying.
  skewSeconds: fc.integer({ min: -(TOLERANCE_SECONDS - 5), max: TOLERANCE_SECONDS - 5 }),
  // JSON, or none: both are accepted ("none is accepted").
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'text/json',
    'application/vnd.aqueduct.event+json',
    '',
    undefined,
  ),
});

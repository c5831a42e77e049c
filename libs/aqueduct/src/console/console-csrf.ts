import { Inject, Injectable } from '@nestjs/common';
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

/** HKDF `info`: a key for this purpose only, never usable as (or revealing) the webhook secret. */
const KEY_INFO = 'nestjs-aqueduct console csrf v1';
const NONCE_BYTES = 18;

/**
 * Signed double-submit tokens: `<nonce>.<HMAC(key, nonce)>`, set in a cookie and repeated in each
 * form. The key comes from configuration, not from the process, so a token issued by one
 * instance is good on every other one behind the same load balancer.
 */
@Injectable()
export class ConsoleCsrf {
  private readonly key: Buffer;

  constructor(@Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions) {
    // Without a console (or a secret to derive from) nothing is ever checked: any key will do.
    const material = options.console?.csrfSecret ?? options.secrets[0] ?? randomBytes(32);
    this.key = Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), KEY_INFO, 32));
  }

  issue(): string {
    const nonce = randomBytes(NONCE_BYTES).toString('base64url');
    return `${nonce}.${this.sign(nonce)}`;
  }

  /** A token this key signed. */
  isGenuine(token: unknown): token is string {
    if (typeof token !== 'string') {
      return false;
    }
    const [nonce, mac, extra] = token.split('.');
    if (!nonce || !mac || extra !== undefined) {
      return false;
    }
    return safeEqual(mac, this.sign(nonce));
  }

  /** The form's token is the cookie's, and genuine. */
  matches(cookieToken: unknown, formToken: unknown): boolean {
    return (
      this.isGenuine(cookieToken) &&
      typeof formToken === 'string' &&
      safeEqual(cookieToken, formToken)
    );
  }

  private sign(nonce: string): string {
    return createHmac('sha256', this.key).update(nonce).digest('base64url');
  }
}

function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

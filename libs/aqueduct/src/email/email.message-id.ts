import { createHash } from 'node:crypto';

/** The right-hand side when the sender's address has no domain to give (RFC 2606's reserved TLD). */
const FALLBACK_DOMAIN = 'nestjs-aqueduct.invalid';
/** Hex digits of the key's SHA-256 kept: 128 bits, unique enough for one sender's mails. */
const ID_HEX_LENGTH = 32;

/**
 * The Message-ID of one mail, from its record key (the delivery, the recipient, the template): the
 * same on every send of that mail. One sent again because the process died between the mail
 * server's acceptance and its record carries the first one's id, which some mail providers (Gmail
 * among them) show once; nodemailer's own would be random. The key is hashed: it holds the
 * recipient's address, which has no place in a header. The domain is the sender's (`from`).
 */
export function messageIdOf(key: string, from: string): string {
  const hash = createHash('sha256').update(key).digest('hex').slice(0, ID_HEX_LENGTH);
  return `<${hash}@${domainOf(from)}>`;
}

/** The domain of an address like `billing@acme.test` or `Acme <billing@acme.test>`. */
function domainOf(from: string): string {
  const domain = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from.trim())?.[1];
  return domain && !domain.startsWith('.') && !domain.endsWith('.') ? domain : FALLBACK_DOMAIN;
}

import { isUtf8 } from 'node:buffer';
import { TextDecoder } from 'node:util';

/** The `charset` parameter of a Content-Type (`application/json; charset=iso-8859-1`). */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)"?/i;

/** U+FEFF in UTF-8, which some senders write before their JSON. */
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM_WARNING = 'body began with a byte order mark, ignored; the bytes received are kept';

/** A verified body as the parser and the inbox read it. */
export interface BodyText {
  /** The body's text, as UTF-8 bytes: the received bytes themselves when they are UTF-8. */
  utf8: Buffer;
  /** Set when the received bytes were not UTF-8: the warning stored with the event. */
  warning?: string;
}

/**
 * JSON travels as UTF-8 (RFC 8259), and nearly always the body is: it is then read as it is. A
 * body that is not (a sender that encodes in the charset its Content-Type names) is read in that
 * charset when Node knows it, else as UTF-8 with U+FFFD for the bytes that are not; either way the
 * event says so, and keeps the bytes received. Read blindly as UTF-8, "Zoë" reached the ledger and
 * the mails as "Zo\uFFFD", and the signed original was gone.
 */
export function bodyText(rawBody: Buffer, contentType: string | undefined): BodyText {
  const utf16 = utf16Of(rawBody);
  if (!utf16 && isUtf8(rawBody)) {
    // RFC 8259 lets a parser ignore a byte order mark; JSON.parse does not, and a quarantined event
    // is a customer without access.
    return rawBody.subarray(0, UTF8_BOM.length).equals(UTF8_BOM)
      ? { utf8: rawBody.subarray(UTF8_BOM.length), warning: BOM_WARNING }
      : { utf8: rawBody };
  }
  const decoder = decoderFor(utf16 ?? contentType?.match(CHARSET)?.[1]);
  const readAs =
    decoder.encoding === 'utf-8'
      ? 'UTF-8, with U+FFFD for the bytes that are not'
      : decoder.encoding;
  return {
    utf8: Buffer.from(decoder.decode(rawBody)),
    warning: `body is not UTF-8: read as ${readAs}; the bytes received are kept`,
  };
}

/**
 * UTF-16, told by its byte order mark or, as RFC 4627 does, by where the zero bytes of the first
 * character fall (JSON begins with an ASCII character). Without a mark, ASCII in UTF-16 is valid
 * UTF-8 (its zero bytes are NUL), so the declared charset alone would never be looked at.
 */
function utf16Of(body: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  if (body.length < 2) {
    return undefined;
  }
  if ((body[0] === 0xff && body[1] === 0xfe) || (body[0] !== 0 && body[1] === 0)) {
    return body.length >= 4 && body[2] === 0 && body[3] === 0 ? undefined : 'utf-16le'; // not UTF-32
  }
  if ((body[0] === 0xfe && body[1] === 0xff) || (body[0] === 0 && body[1] !== 0)) {
    return 'utf-16be';
  }
  return undefined;
}

function decoderFor(charset: string | undefined): TextDecoder {
  try {
    return new TextDecoder(charset ?? 'utf-8');
  } catch {
    return new TextDecoder('utf-8'); // a charset Node does not know
  }
}

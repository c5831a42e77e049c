import type { NextFunction, Request, Response } from 'express';
import type { Transform } from 'node:stream';
import { promisify } from 'node:util';
import { createBrotliDecompress, createGunzip, inflate, inflateRaw } from 'node:zlib';
import getRawBody from 'raw-body';
import { refuseUnread, tooLarge } from './raw-body.too-large';

/** Where the reader leaves the request body, byte for byte. */
export const RAW_BODY = Symbol('aqueduct.rawBody');

/** When the request arrived (process.hrtime), for the ack-latency metric. */
export const ARRIVED_AT = Symbol('aqueduct.arrivedAt');

export type RequestWithRawBody = Request & {
  [RAW_BODY]?: Buffer;
  [ARRIVED_AT]?: bigint;
  rawBody?: Buffer;
  _body?: boolean;
};

/**
 * The content codings a sender may compress a body with (those Express's own parsers decode), and
 * their decoders. The signature covers the body as sent before its coding, so it is verified, and
 * stored, decoded. `deflate` is read whole first (see `inflateEither`).
 */
const DECODERS: Readonly<Record<string, () => Transform>> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  br: createBrotliDecompress,
};
const DEFLATE = 'deflate';
/** zlib's code for a stream that ended before its end. */
const TRUNCATED_STREAM = 'Z_BUF_ERROR';
const inflateZlib = promisify(inflate);
const inflateBare = promisify(inflateRaw);

/**
 * A `deflate` body as senders write it: zlib-wrapped as the standard says (RFC 1950), or bare
 * (RFC 1951), as .NET's DeflateStream, PHP's gzdeflate and Go's compress/flate do, and as browsers
 * and curl accept. Told apart by the zlib header; decoded at most to `limit` bytes.
 */
async function inflateEither(body: Buffer, limit: number): Promise<Buffer> {
  const wrapped = body.length >= 2 && (body[0] & 0x0f) === 8 && body.readUInt16BE(0) % 31 === 0;
  try {
    return await (wrapped ? inflateZlib : inflateBare)(body, { maxOutputLength: limit });
  } catch (error) {
    throw (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
      ? Object.assign(new Error('too large'), { type: 'entity.too.large' })
      : Object.assign(error as Error, { decoding: true });
  }
}

/** A request the reader refused before it could be verified, for the log and the metrics. */
export interface BodyRefusal {
  status: 400 | 413 | 415;
  outcome: 'too-large' | 'unsupported' | 'unreadable';
  /** What was refused: a size or an encoding (never the body or a header's secret). */
  reason: string;
  /** From the request's arrival to the answer. */
  seconds: number;
  /**
   * The same request would be refused the same way (a size, a coding, bytes that do not decode),
   * unlike a body cut short once.
   */
  repeats: boolean;
}

/**
 * Reads the webhook body as raw bytes, before any JSON parser can touch it, with a hard size limit
 * (on the decoded bytes too: a small compressed body cannot grow past it). Any content type, or
 * none, is read: Aqueduct's is not documented, a genuine delivery refused would get the endpoint
 * disabled, and the signature, not the header, says whether it is genuine (bytes that are not
 * JSON are then quarantined, kept). A gzip, deflate or br body is decoded; only a coding that
 * cannot be decoded is refused (415). Marks the body as read so that the app's own body parsers
 * (which Nest installs globally) skip it. `refused` hears of every refusal (400, 413, 415).
 */
export function createRawBodyReader(
  maxBodyBytes: number,
  refused: (refusal: BodyRefusal, req: RequestWithRawBody) => void,
) {
  const seconds = (req: RequestWithRawBody) =>
    Number(process.hrtime.bigint() - (req[ARRIVED_AT] ?? process.hrtime.bigint())) / 1e9;
  const unsupported = (req: RequestWithRawBody, res: Response, reason: string) => {
    reply(res, 415, 'Unsupported Media Type', reason);
    refused(
      { status: 415, outcome: 'unsupported', reason, seconds: seconds(req), repeats: true },
      req,
    );
  };
  const tooBig = (req: RequestWithRawBody, res: Response, size: string) => {
    tooLarge(req, res, maxBodyBytes);
    refused(
      {
        status: 413,
        outcome: 'too-large',
        reason: `a body of ${size} over maxBodyBytes (${maxBodyBytes})`,
        seconds: seconds(req),
        repeats: true,
      },
      req,
    );
  };
  const unreadable = (req: RequestWithRawBody, reason: string, repeats: boolean) =>
    refused({ status: 400, outcome: 'unreadable', reason, seconds: seconds(req), repeats }, req);
  return function aqueductRawBody(
    req: RequestWithRawBody,
    res: Response,
    next: NextFunction,
  ): void {
    req[ARRIVED_AT] = process.hrtime.bigint();
    // An empty header names no encoding: the body is as sent (identity).
    const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase() || 'identity';
    const decoder = DECODERS[encoding];
    if (encoding !== 'identity' && encoding !== DEFLATE && !decoder) {
      return unsupported(
        req,
        res,
        `content-encoding "${encoding}" is not supported (gzip, deflate and br are)`,
      );
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      return tooBig(req, res, `${declared} bytes`);
    }
    const decoding = decoder ? req.pipe(decoder()) : undefined;
    const read = getRawBody(decoding ?? req, { limit: maxBodyBytes });
    (encoding === DEFLATE ? read.then((body) => inflateEither(body, maxBodyBytes)) : read).then(
      (body) => {
        req[RAW_BODY] = body;
        req.rawBody = body;
        req._body = true;
        next();
      },
      (error: { type?: string; status?: number; decoding?: boolean; code?: string }) => {
        if (decoding) {
          // What is left of the request is read out (413) or dropped, not decoded.
          req.unpipe(decoding);
          decoding.destroy();
        }
        if (error.type === 'entity.too.large') {
          const size =
            encoding !== 'identity'
              ? `more than ${maxBodyBytes} bytes decoded`
              : `more than ${maxBodyBytes} bytes`;
          return tooBig(req, res, size);
        }
        if ((error.decoding || (decoding && !error.type)) && !req.socket?.destroyed) {
          // zlib's own error: the bytes are not what the coding says, the sender's fault. The rest
          // of the body is read out, or the connection would hang (a sender keeping it alive).
          refuseUnread(req, res, maxBodyBytes, {
            statusCode: 400,
            error: 'Bad Request',
            message: `request body could not be decoded as ${encoding}`,
          });
          // Bytes that are not the coding at all meet every retry; a stream that ends early
          // (Z_BUF_ERROR) may be one transfer cut short.
          return unreadable(
            req,
            `a body that is not valid ${encoding}`,
            error.code !== TRUNCATED_STREAM,
          );
        }
        // A request whose socket is gone has no one to answer; any other (a body already read by
        // something in front of the reader, a sender that stopped mid-body) gets an answer now
        // rather than a connection left hanging until the sender gives up.
        if (!res.headersSent && !req.socket?.destroyed) {
          reply(
            res,
            error.status && error.status < 500 ? error.status : 400,
            'Bad Request',
            'request body could not be read',
          );
          unreadable(
            req,
            'a body that could not be read (cut short, or read before the module)',
            false,
          );
        }
      },
    );
  };
}

function reply(res: Response, statusCode: number, error: string, message: string): void {
  if (res.headersSent) {
    return;
  }
  res.status(statusCode).json({ statusCode, error, message });
}

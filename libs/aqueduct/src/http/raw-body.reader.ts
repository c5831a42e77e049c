import type { NextFunction, Request, Response } from 'express';
import getRawBody from 'raw-body';
import { tooLarge } from './raw-body.too-large';

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

const JSON_MEDIA_TYPE = /^(application\/json|application\/[\w.+-]+\+json|text\/json)$/;

/** A request the reader refused before it could be verified, for the log and the metrics. */
export interface BodyRefusal {
  status: 413 | 415;
  outcome: 'too-large' | 'unsupported';
  /** What was refused: a size, a media type or an encoding (never the body or a header's secret). */
  reason: string;
  /** What the operator changes if the sender was Aqueduct. */
  fix: string;
  /** From the request's arrival to the answer. */
  seconds: number;
}

/**
 * Reads the webhook body as raw bytes, before any JSON parser can touch it, with a hard size limit.
 * A request without a content type is read too: Aqueduct's is not documented, and refusing a
 * genuine delivery would get the endpoint disabled. Marks the body as read so that the app's own
 * body parsers (which Nest installs globally) skip it. `refused` hears of every 413 and 415.
 */
export function createRawBodyReader(maxBodyBytes: number, refused: (refusal: BodyRefusal) => void) {
  const seconds = (req: RequestWithRawBody) =>
    Number(process.hrtime.bigint() - (req[ARRIVED_AT] ?? process.hrtime.bigint())) / 1e9;
  const unsupported = (req: RequestWithRawBody, res: Response, reason: string, fix: string) => {
    reply(res, 415, 'Unsupported Media Type', reason);
    refused({ status: 415, outcome: 'unsupported', reason, fix, seconds: seconds(req) });
  };
  const tooBig = (req: RequestWithRawBody, res: Response, size: string) => {
    tooLarge(req, res, maxBodyBytes);
    refused({
      status: 413,
      outcome: 'too-large',
      reason: `a body of ${size} over maxBodyBytes (${maxBodyBytes})`,
      fix: 'raise the maxBodyBytes option',
      seconds: seconds(req),
    });
  };
  return function aqueductRawBody(
    req: RequestWithRawBody,
    res: Response,
    next: NextFunction,
  ): void {
    req[ARRIVED_AT] = process.hrtime.bigint();
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (mediaType !== '' && !JSON_MEDIA_TYPE.test(mediaType)) {
      return unsupported(
        req,
        res,
        `content-type must be application/json, got "${mediaType}"`,
        'tell us (an issue) which content type Aqueduct sends',
      );
    }
    // An empty header names no encoding: the body is as sent (identity).
    const encoding = (req.headers['content-encoding'] ?? '').trim().toLowerCase() || 'identity';
    if (encoding !== 'identity') {
      return unsupported(
        req,
        res,
        `content-encoding "${encoding}" is not supported`,
        'have the proxy in front of this app decode the body, or tell us (an issue)',
      );
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      return tooBig(req, res, `${declared} bytes`);
    }
    getRawBody(req, { limit: maxBodyBytes }).then(
      (body) => {
        req[RAW_BODY] = body;
        req.rawBody = body;
        req._body = true;
        next();
      },
      (error: { type?: string; status?: number }) => {
        if (error.type === 'entity.too.large') {
          return tooBig(req, res, `more than ${maxBodyBytes} bytes`);
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

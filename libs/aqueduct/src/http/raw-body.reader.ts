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

/**
 * Reads the webhook body as raw bytes, before any JSON parser can touch it, with a hard size limit.
 * A request without a content type is read too: Aqueduct's is not documented, and refusing a
 * genuine delivery would get the endpoint disabled. Marks the body as read so that the app's own
 * body parsers (which Nest installs globally) skip it.
 */
export function createRawBodyReader(maxBodyBytes: number) {
  return function aqueductRawBody(
    req: RequestWithRawBody,
    res: Response,
    next: NextFunction,
  ): void {
    req[ARRIVED_AT] = process.hrtime.bigint();
    const mediaType = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    if (mediaType !== '' && !JSON_MEDIA_TYPE.test(mediaType)) {
      return reply(
        res,
        415,
        'Unsupported Media Type',
        `content-type must be application/json, got "${mediaType}"`,
      );
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      return reply(
        res,
        415,
        'Unsupported Media Type',
        `content-encoding "${encoding}" is not supported`,
      );
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      return tooLarge(req, res, maxBodyBytes);
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
          return tooLarge(req, res, maxBodyBytes);
        }
        if (!res.headersSent && !req.destroyed) {
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

import type { NextFunction, Request, Response } from 'express';
import getRawBody from 'raw-body';

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

/**
 * How much of a refused body is read out after the 413, so that the sender sees the answer instead
 * of a reset: closing a socket with unread bytes makes the kernel send RST, and a sender still
 * writing then gets EPIPE/ECONNRESET, often before it has read the answer. Like nginx's lingering
 * close, the rest is read and discarded, bounded so that a sender cannot keep the socket busy: at
 * most DRAIN_FACTOR times maxBodyBytes (but at least DRAIN_MIN_BYTES) and DRAIN_MS from the 413.
 * Past a bound the socket is destroyed.
 */
const DRAIN_FACTOR = 8;
const DRAIN_MIN_BYTES = 8 * 1024 * 1024;
const DRAIN_MS = 5000;

/**
 * Answers 413 at once, then reads out the rest of the body. The answer is written whole (headers
 * and body, with Content-Length) but ended only when the body has been read out: ending it earlier
 * would close the socket (`Connection: close`) with the rest of the body unread. Most senders stop
 * once they have the answer; one that keeps sending is cut off at the bounds.
 */
function tooLarge(req: Request, res: Response, maxBodyBytes: number): void {
  if (res.headersSent) {
    return;
  }
  const statusCode = 413;
  const payload = Buffer.from(
    JSON.stringify({
      statusCode,
      error: 'Payload Too Large',
      message: `request body exceeds the limit of ${maxBodyBytes} bytes`,
    }),
  );
  res.statusCode = statusCode;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', payload.length);
  res.setHeader('Connection', 'close');
  res.write(payload);

  const socket = req.socket;
  const maxDrainBytes = Math.max(maxBodyBytes * DRAIN_FACTOR, DRAIN_MIN_BYTES);
  let drained = 0;
  const timer = setTimeout(() => cutOff(), DRAIN_MS);
  timer.unref();
  const onData = (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > maxDrainBytes) {
      cutOff();
    }
  };
  const cleanup = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('close', cleanup);
  };
  // The whole body is in: the answer ends and the connection closes cleanly (FIN, no RST).
  const onEnd = () => {
    cleanup();
    res.end();
  };
  // Past a bound: the sender gets a reset, as before the drain existed, but only one that will not stop.
  const cutOff = () => {
    cleanup();
    socket.destroy();
  };
  req.on('data', onData);
  req.once('end', onEnd);
  // The sender went away (or the socket was destroyed): nothing left to do.
  req.once('close', cleanup);
  req.on('error', () => undefined); // a reset sender: nothing to answer any more
  if (req.destroyed) {
    cleanup();
    return;
  }
  if (req.readableEnded) {
    onEnd();
    return;
  }
  // raw-body pauses the request when it gives up; a request not read yet starts flowing here.
  req.resume();
}

function reply(res: Response, statusCode: number, error: string, message: string): void {
  if (res.headersSent) {
    return;
  }
  res.status(statusCode).json({ statusCode, error, message });
}

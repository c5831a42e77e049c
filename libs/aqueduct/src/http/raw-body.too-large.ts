import type { Request, Response } from 'express';

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

const PAYLOAD_TOO_LARGE = 413;

/** Answers 413 at once, then reads out the rest of the body (`refuseUnread`). */
export function tooLarge(req: Request, res: Response, maxBodyBytes: number): void {
  refuseUnread(req, res, maxBodyBytes, {
    statusCode: PAYLOAD_TOO_LARGE,
    error: 'Payload Too Large',
    message: `request body exceeds the limit of ${maxBodyBytes} bytes`,
  });
}

/**
 * Answers a request whose body is left partly unread (413, or a body that is not what its coding
 * says), then reads out the rest. The answer is written whole (headers and body, with
 * Content-Length) but ended only when the body has been read out: ending it earlier would close the
 * socket (`Connection: close`) with the rest of the body unread. Most senders stop once they have
 * the answer; one that keeps sending is cut off at the bounds.
 */
export function refuseUnread(
  req: Request,
  res: Response,
  maxBodyBytes: number,
  answer: { statusCode: number; error: string; message: string },
): void {
  if (res.headersSent) {
    return;
  }
  const payload = Buffer.from(JSON.stringify(answer));
  res.statusCode = answer.statusCode;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', payload.length);
  res.setHeader('Connection', 'close');
  res.write(payload);
  drainThenEnd(req, res, Math.max(maxBodyBytes * DRAIN_FACTOR, DRAIN_MIN_BYTES));
}

/** Reads out and discards the rest of the body, then ends the answer; past a bound, cuts off. */
function drainThenEnd(req: Request, res: Response, maxDrainBytes: number): void {
  const socket = req.socket;
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

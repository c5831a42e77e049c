/**
 * A body over `maxBodyBytes` is answered 413, and the sender sees that answer: the rest of its body
 * is read out and discarded (bounded) before the connection closes, instead of a reset mid-upload
 * (EPIPE / ECONNRESET on the sender's side). Real sockets: the app listens on a port.
 */
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { useTestApp } from './support/use-test-app';

const SECRET = `whsec_${Buffer.from('body-limit-e2e-secret-body-limit!').toString('base64')}`;
const PATH = '/webhooks/aqueduct';
const LIMIT = 1024 * 1024; // the default maxBodyBytes
const BODY_BYTES = 5_000_000;
const ATTEMPTS = 10;
const TOO_LARGE = {
  statusCode: 413,
  error: 'Payload Too Large',
  message: `request body exceeds the limit of ${LIMIT} bytes`,
};

/** What one attempt ended with: the answer, or the sender's error code. */
type Outcome = { status: number; body: unknown } | { error: string };

/** A JSON-looking body of `bytes` bytes (its content does not matter: it is never parsed). */
function bigBody(bytes: number): Buffer {
  const body = Buffer.alloc(bytes, 'a');
  body.write('{"blob":"');
  body.write('"}', bytes - 2);
  return body;
}

function errorCode(error: unknown): string {
  const cause = (error as { cause?: { code?: string } }).cause;
  return cause?.code ?? (error as { code?: string }).code ?? String(error);
}

describe('Body over maxBodyBytes: the sender sees the 413', () => {
  let port: number;

  const host = useTestApp({
    aqueduct: { secrets: [SECRET], verification: { scheme: 'standard-webhooks' } },
  });
  beforeAll(async () => {
    await host.app.listen(0, '127.0.0.1');
    port = (host.app.getHttpServer().address() as AddressInfo).port;
  });

  /**
   * Node's fetch (undici). A Buffer body declares its Content-Length, so the 413 comes before any
   * reading; a stream body is sent chunked, and the limit is found out while reading.
   */
  async function sendWithFetch(body: Buffer | ReadableStream<Uint8Array>): Promise<Outcome> {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        // Needed by Node's fetch for a stream body (not in the DOM typings of RequestInit).
        ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
      } as RequestInit);
      return { status: res.status, body: await res.json() };
    } catch (error) {
      return { error: errorCode(error) };
    }
  }

  /**
   * http.request streaming the body in 64 KiB chunks, chunked encoding (no Content-Length): the
   * limit is only found out while reading. Writes chunk after chunk, honouring back-pressure, until
   * all is sent or the connection closes (Node's client stops sending once it has the whole answer).
   */
  function sendChunked(body: Buffer): Promise<Outcome> {
    return new Promise((resolve) => {
      let settled = false;
      const settle = (outcome: Outcome) => {
        if (!settled) {
          settled = true;
          resolve(outcome);
        }
      };
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        path: PATH,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      let answer: Outcome | undefined;
      req.on('error', (error) => settle({ error: errorCode(error) }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => settle({ error: errorCode(error) }));
        res.on('end', () => {
          answer = {
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(chunks).toString()),
          };
          // Wait for the connection to close: an error on it (EPIPE, reset) still counts.
          if (req.destroyed) {
            settle(answer);
          }
        });
      });
      req.on('close', () => settle(answer ?? { error: 'closed without an answer' }));
      const CHUNK = 64 * 1024;
      let offset = 0;
      const write = () => {
        while (offset < body.length && !req.destroyed) {
          const chunk = body.subarray(offset, offset + CHUNK);
          offset += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', write);
            return;
          }
        }
        if (!req.destroyed) {
          req.end();
        }
      };
      write();
    });
  }

  async function tenTimes(send: () => Promise<Outcome>): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (let i = 0; i < ATTEMPTS; i++) {
      outcomes.push(await send());
    }
    return outcomes;
  }

  const expectAll413 = (outcomes: Outcome[]) =>
    expect(outcomes).toEqual(
      Array.from({ length: ATTEMPTS }, () => ({ status: 413, body: TOO_LARGE })),
    );

  /** A request on a new connection is served as usual (401: it is not signed). */
  async function expectServedAfterwards(): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${port}${PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', connection: 'close' },
      body: '{"type":"provisioning.start"}',
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ statusCode: 401 });
  }

  it('fetch, 5 MB with Content-Length, 10 times: every attempt gets the 413 with its message', async () => {
    expectAll413(await tenTimes(() => sendWithFetch(bigBody(BODY_BYTES))));
    await expectServedAfterwards();
  });

  it('fetch, 5 MB streamed without Content-Length, 10 times: every attempt gets the 413', async () => {
    const body = bigBody(BODY_BYTES);
    const outcomes = await tenTimes(() =>
      sendWithFetch(
        new ReadableStream({
          start(controller) {
            for (let offset = 0; offset < body.length; offset += 64 * 1024) {
              controller.enqueue(body.subarray(offset, offset + 64 * 1024));
            }
            controller.close();
          },
        }),
      ),
    );
    expectAll413(outcomes);
    await expectServedAfterwards();
  });

  it('http.request, 5 MB chunked without Content-Length, 10 times: every attempt gets the 413', async () => {
    expectAll413(await tenTimes(() => sendChunked(bigBody(BODY_BYTES))));
    await expectServedAfterwards();
  });

  /**
   * A raw sender that sends its whole body, chunked, whatever comes back, and only then reads:
   * the answer it got and the error its socket had, if any.
   */
  function wholeBodySender(body: Buffer) {
    return new Promise<{ answer: string; error?: string }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const received: Buffer[] = [];
      let error: string | undefined;
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
      socket.on('close', () => resolve({ answer: Buffer.concat(received).toString(), error }));
      socket.write(
        `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          'Transfer-Encoding: chunked\r\n\r\n',
      );
      const CHUNK = 64 * 1024;
      for (let offset = 0; offset < body.length; offset += CHUNK) {
        const chunk = body.subarray(offset, offset + CHUNK);
        socket.write(`${chunk.length.toString(16)}\r\n`);
        socket.write(chunk);
        socket.write('\r\n');
      }
      socket.end('0\r\n\r\n');
    });
  }

  it('a raw sender that sends all 5 MB before reading, 10 times: the 413, then a clean close', async () => {
    for (let i = 0; i < ATTEMPTS; i++) {
      const { answer, error } = await wholeBodySender(bigBody(BODY_BYTES));
      expect({ error, status: answer.split('\r\n')[0] }).toEqual({
        error: undefined,
        status: 'HTTP/1.1 413 Payload Too Large',
      });
      expect(answer.endsWith(JSON.stringify(TOO_LARGE))).toBe(true);
    }
    await expectServedAfterwards();
  });

  /**
   * A raw sender that declares a huge body and writes it as `pace` says, until the server closes
   * the connection: what it got back, how much it wrote, and when the connection ended.
   */
  function hostileSender(pace: { chunkBytes: number; everyMs: number; first: number }) {
    return new Promise<{ answer: string; wrote: number; afterMs: number }>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      const received: Buffer[] = [];
      const started = Date.now();
      let timer: NodeJS.Timeout | undefined;
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('error', () => undefined); // the reset is the point
      socket.on('close', () => {
        clearInterval(timer);
        resolve({
          answer: Buffer.concat(received).toString(),
          wrote: socket.bytesWritten,
          afterMs: Date.now() - started,
        });
      });
      socket.write(
        `POST ${PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${100 * LIMIT * 1024}\r\n\r\n`,
      );
      socket.write(Buffer.alloc(pace.first, 'a'));
      const chunk = Buffer.alloc(pace.chunkBytes, 'a');
      const flood = () => {
        while (!socket.destroyed && socket.write(chunk)) {
          // as fast as the socket takes it
        }
      };
      if (pace.everyMs === 0) {
        socket.on('drain', flood);
        flood();
      } else {
        timer = setInterval(() => socket.destroyed || socket.write(chunk), pace.everyMs);
      }
    });
  }

  it('a sender that never stops is cut off after 8 × maxBodyBytes read out, not kept busy', async () => {
    const { answer, wrote, afterMs } = await hostileSender({
      first: 0,
      chunkBytes: 64 * 1024,
      everyMs: 0,
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    // 8 MiB read out, plus what the kernel buffers held on both sides of a loopback connection.
    expect(wrote).toBeGreaterThan(8 * LIMIT);
    expect(wrote).toBeLessThan(8 * LIMIT + 32 * 1024 * 1024);
    expect(afterMs).toBeLessThan(4000); // the byte bound, not the time bound
    await expectServedAfterwards();
  });

  it('a sender that trickles is cut off 5 s after the 413', async () => {
    const { answer, afterMs } = await hostileSender({
      first: 2 * LIMIT,
      chunkBytes: 1024,
      everyMs: 100,
    });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain(TOO_LARGE.message);
    expect(afterMs).toBeGreaterThanOrEqual(4500);
    expect(afterMs).toBeLessThan(8000);
    await expectServedAfterwards();
  });
});

/**
 * A body that is not what its coding says (400) on a kept-alive connection: the answer is read,
 * and the connection closes cleanly (the rest of the body read out first), never left hanging.
 */
import express from 'express';
import { type AddressInfo, type Socket, connect } from 'node:net';
import type { Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { createRawBodyReader } from './raw-body.reader';

const MAX = 1024 * 1024;

/** Reads whole HTTP/1.1 responses off the socket (Content-Length framed). */
function responses(socket: Socket) {
  let buffered = Buffer.alloc(0);
  const waiting: ((status: number) => void)[] = [];
  const parsed: number[] = [];
  socket.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    for (;;) {
      const head = buffered.indexOf('\r\n\r\n');
      if (head < 0) return;
      const text = buffered.subarray(0, head).toString();
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? 0);
      if (buffered.length < head + 4 + length) return;
      buffered = buffered.subarray(head + 4 + length);
      const status = Number(text.split(' ')[1]);
      const w = waiting.shift();
      if (w) w(status);
      else parsed.push(status);
    }
  });
  return (ms: number) =>
    new Promise<number | string>((resolve) => {
      if (parsed.length) return resolve(parsed.shift()!);
      const timer = setTimeout(() => resolve('no answer'), ms);
      socket.once('close', () => resolve('closed'));
      waiting.push((s) => {
        clearTimeout(timer);
        resolve(s);
      });
    });
}

describe('raw-body reader: a garbled gzip body on a kept-alive connection', () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    const app = express();
    app.post(
      '/hook',
      createRawBodyReader(MAX, () => undefined),
      (_req, res) => {
        res.json({ ok: true });
      },
    );
    server = app.listen(0);
    await new Promise((r) => server.once('listening', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });

  const exchange = async (encoding: string) => {
    const socket = connect(port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const next = responses(socket);
    const garbled = randomBytes(512 * 1024); // within maxBodyBytes, not gzip
    socket.write(
      `POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
        `Content-Encoding: ${encoding}\r\nContent-Length: ${garbled.length}\r\n\r\n`,
    );
    socket.write(garbled);
    const first = await next(3000);
    // The same connection, as a sender keeping it alive does: the next delivery.
    socket.write(
      `POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    );
    const second = await next(3000);
    socket.destroy();
    return { first, second };
  };

  it('an unsupported coding (415, nothing read) keeps the connection usable', async () => {
    expect(await exchange('compress')).toEqual({ first: 415, second: 200 });
  });

  it('answers 400, then closes the connection cleanly instead of leaving it hanging', async () => {
    expect(await exchange('gzip')).toEqual({ first: 400, second: 'closed' });
  });
});

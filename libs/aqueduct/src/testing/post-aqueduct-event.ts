import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { DEFAULT_WEBHOOK_PATH } from '../options/aqueduct-options.defaults';
import { type SignAqueductRequestOptions, signAqueductRequest } from './sign-aqueduct-request';

export interface PostedAqueductEvent {
  status: number;
  /** The parsed JSON answer, e.g. `{ received: true, id }`. */
  body: any;
}

/** Ephemeral listeners opened for calls, shared by the calls in flight on one server. */
interface Ephemeral {
  users: number;
  ready: Promise<AddressInfo>;
}
const ephemeral = new WeakMap<object, Ephemeral>();
const closing = new WeakMap<object, Promise<void>>();

/**
 * The server's address: its own when the app listens, else an ephemeral port opened for the call
 * and shared with the calls made meanwhile (so concurrent calls work), closed after the last.
 */
async function acquire(
  server: any,
): Promise<{ address: AddressInfo; release: () => Promise<void> }> {
  const own = server.address() as AddressInfo | null;
  if (own && !ephemeral.has(server)) {
    return { address: own, release: async () => undefined };
  }
  let session = ephemeral.get(server);
  if (!session) {
    const previous = closing.get(server);
    session = {
      users: 0,
      ready: (async () => {
        await previous;
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        return server.address() as AddressInfo;
      })(),
    };
    ephemeral.set(server, session);
  }
  session.users++;
  const current = session;
  const address = await current.ready;
  return {
    address,
    release: async () => {
      if (--current.users > 0) {
        return;
      }
      ephemeral.delete(server);
      // fetch keeps connections alive; close them, or close() would wait for their timeout.
      const closed = new Promise<void>((resolve) => {
        server.closeIdleConnections?.();
        server.close(() => resolve());
      });
      closing.set(server, closed);
      await closed;
    },
  };
}

/**
 * Signs `payload` and POSTs it to the app's webhook endpoint over a real socket, as Aqueduct
 * would. The app needs no `listen()`: like supertest, an ephemeral port is opened for the call.
 */
export async function postAqueductEvent(
  app: INestApplication,
  payload: unknown,
  options: SignAqueductRequestOptions & { path?: string },
): Promise<PostedAqueductEvent> {
  const { body, headers } = signAqueductRequest(payload, options);
  const { address, release } = await acquire(app.getHttpServer());
  try {
    const path = (options.path ?? DEFAULT_WEBHOOK_PATH).replace(/^\/?/, '/');
    const response = await fetch(`http://127.0.0.1:${address.port}${path}`, {
      method: 'POST',
      headers,
      body,
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: response.status, body: parsed };
  } finally {
    await release();
  }
}

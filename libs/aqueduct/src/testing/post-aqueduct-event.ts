import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import { DEFAULT_WEBHOOK_PATH } from '../aqueduct.constants';
import { type SignAqueductRequestOptions, signAqueductRequest } from './sign-aqueduct-request';

export interface PostedAqueductEvent {
  status: number;
  /** The parsed JSON answer, e.g. `{ received: true, id }`. */
  body: any;
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
  const server = app.getHttpServer();
  let address = server.address() as AddressInfo | null;
  const opened = !address;
  if (opened) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    address = server.address() as AddressInfo;
  }
  try {
    const path = (options.path ?? DEFAULT_WEBHOOK_PATH).replace(/^\/?/, '/');
    const response = await fetch(`http://127.0.0.1:${address!.port}${path}`, {
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
    if (opened) {
      // fetch keeps connections alive; close them, or close() would wait for their timeout.
      server.closeIdleConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }
}

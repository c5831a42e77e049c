import type { INestApplication } from '@nestjs/common';
import { postAqueductEvent } from 'nestjs-aqueduct/testing';

/** Posts a payload signed with the shared secret and expects it stored; returns the event id. */
export async function postAccepted(
  app: INestApplication,
  payload: unknown,
  secret: string,
): Promise<string> {
  const answer = await postAqueductEvent(app, payload, { scheme: 'shared-secret', secret });
  if (answer.status !== 200) {
    throw new Error(`expected 200, got ${answer.status}: ${JSON.stringify(answer.body)}`);
  }
  return answer.body.id;
}

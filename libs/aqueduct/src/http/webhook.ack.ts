import type { ServerResponse } from 'node:http';
import { BadRequestException, HttpStatus } from '@nestjs/common';
import { ownAnswer } from './webhook.own-answers';
import type { InboxResult } from '../storage/aqueduct-inbox.service';

/** The answer to a stored event. */
export interface WebhookAck {
  received: true;
  id: string;
  duplicate?: true;
  /** Authentic but not understood: stored byte for byte, alerted on, delivered to no listener. */
  quarantined?: true;
  /** Why it was quarantined, each naming its field. */
  errors?: string[];
}

/** The answer to an accepted event, new or a copy of one already stored. */
export function acceptedAck(result: InboxResult): WebhookAck {
  return result.duplicate
    ? { received: true, id: result.id, duplicate: true }
    : { received: true, id: result.id };
}

/** The answer to a quarantined event under `invalidEvents: 'quarantine'`: a 2xx. */
export function quarantinedAck(result: InboxResult, errors: string[]): WebhookAck {
  return {
    received: true,
    id: result.id,
    ...(result.duplicate ? { duplicate: true as const } : {}),
    quarantined: true,
    errors,
  };
}

/** The answer to a quarantined event under `invalidEvents: 'reject'`: a 400 naming its errors. */
export function quarantinedRejection(result: InboxResult, errors: string[]): BadRequestException {
  return ownAnswer(
    new BadRequestException({
      statusCode: 400,
      error: 'Bad Request',
      message: errors,
      id: result.id,
    }),
  );
}

/**
 * Sends the 200 with its ack through Node's response itself, not Express's `res.json`: that generic
 * path (the charset parsed back out of the type it set, an ETag hashed from every body, a freshness
 * check) cost 20–60 µs of CPU per request (bench/RESULTS.md), for a small answer no sender caches.
 * Headers set before (by the host's middleware or interceptors) go out with it.
 */
export function writeAck(response: ServerResponse, ack: WebhookAck): void {
  const body = JSON.stringify(ack);
  response.writeHead(HttpStatus.OK, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  response.end(body);
}

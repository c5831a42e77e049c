import { Injectable, Logger, Optional } from '@nestjs/common';
import { EventEmitter2 } from '@nestjs/event-emitter';
import type { AqueductEvent } from '../listeners/aqueduct-event.interface';

/** Prefix of the names events are published under on @nestjs/event-emitter: `aqueduct.<type>`. */
export const EVENT_EMITTER_PREFIX = 'aqueduct.';

/**
 * Publishes each newly accepted event on @nestjs/event-emitter (when the host imports
 * `EventEmitterModule`), for hosts that prefer `@OnEvent('aqueduct.provisioning.start')`.
 * Best-effort, in the receiving instance only, after the answer: not stored, not retried. Use
 * `@OnAqueductEvent` for anything that must happen.
 */
@Injectable()
export class AqueductEventPublisher {
  private readonly logger = new Logger('AqueductEvents');

  constructor(@Optional() private readonly emitter?: EventEmitter2) {}

  publish(event: AqueductEvent): void {
    if (!this.emitter) {
      return;
    }
    setImmediate(() => {
      try {
        const result = this.emitter!.emitAsync(`${EVENT_EMITTER_PREFIX}${event.type}`, event);
        result.catch((error: Error) =>
          this.logger.error(`An @OnEvent listener of ${event.type} failed: ${error.message}`),
        );
      } catch (error) {
        this.logger.error(
          `An @OnEvent listener of ${event.type} failed: ${(error as Error).message}`,
        );
      }
    });
  }
}

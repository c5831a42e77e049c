import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { AqueductEvent } from '../events/aqueduct-event.interface';
import { printable } from '../utils/printable';

/** Prefix of the names events are published under on @nestjs/event-emitter: `aqueduct.<type>`. */
export const EVENT_EMITTER_PREFIX = 'aqueduct.';

/** What the module uses of @nestjs/event-emitter's `EventEmitter2`. */
interface Emitter {
  emitAsync(event: string, ...values: unknown[]): Promise<unknown[]>;
}

/**
 * Publishes each newly accepted event on @nestjs/event-emitter (when the host imports
 * `EventEmitterModule`), for hosts that prefer `@OnEvent('aqueduct.provisioning.start')`.
 * Best-effort, in the receiving instance only, after the answer: not stored, not retried. Use
 * `@OnAqueductEvent` for anything that must happen. The package is an optional peer: it is looked
 * up at start-up and never loaded at import time, so an app without it starts.
 */
@Injectable()
export class AqueductEventPublisher implements OnApplicationBootstrap {
  private readonly logger = new Logger('AqueductEvents');
  private emitter?: Emitter;

  constructor(private readonly moduleRef: ModuleRef) {}

  onApplicationBootstrap(): void {
    let emitterClass: unknown;
    try {
      emitterClass = require('@nestjs/event-emitter').EventEmitter2;
    } catch {
      return; // not installed: nothing to publish to
    }
    try {
      this.emitter = this.moduleRef.get(emitterClass as never, { strict: false }) as Emitter;
    } catch {
      // installed, but the host does not import EventEmitterModule
    }
  }

  publish(event: AqueductEvent): void {
    const emitter = this.emitter;
    if (!emitter) {
      return;
    }
    setImmediate(() => {
      try {
        emitter
          .emitAsync(`${EVENT_EMITTER_PREFIX}${event.type}`, event)
          .catch((error: Error) =>
            this.logger.error(
              printable(`An @OnEvent listener of ${event.type} failed: ${error.message}`),
            ),
          );
      } catch (error) {
        this.logger.error(
          printable(`An @OnEvent listener of ${event.type} failed: ${(error as Error).message}`),
        );
      }
    });
  }
}

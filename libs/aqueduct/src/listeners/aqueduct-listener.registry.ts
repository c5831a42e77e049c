import { Injectable } from '@nestjs/common';
import { normaliseEventType } from '../events/aqueduct-event-types';
import type { AqueductListenerHandler } from '../events/aqueduct-event.interface';
import { ANY_AQUEDUCT_EVENT } from './on-aqueduct-event.decorator';

export interface RegisteredListener {
  name: string;
  types: Set<string>;
  handler: AqueductListenerHandler;
}

/** Listener names end up in a primary key and in delivery ids (`<eventId>:<listener>`). */
const LISTENER_NAME = /^[A-Za-z0-9_.$@/-]{1,200}$/;

/** The listeners of this instance, by name. Filled once at start-up by the explorer. */
@Injectable()
export class AqueductListenerRegistry {
  private readonly listeners = new Map<string, RegisteredListener>();
  private readonly byType = new Map<string, string[]>();

  add(name: string, types: string[], handler: AqueductListenerHandler): void {
    if (!LISTENER_NAME.test(name)) {
      throw new Error(
        `Aqueduct listener name "${name}" may only use letters, digits and _ . $ @ / -`,
      );
    }
    if (this.listeners.has(name)) {
      throw new Error(
        `Two Aqueduct listeners are named "${name}"; give one a name with @OnAqueductEvent(type, { name })`,
      );
    }
    this.listeners.set(name, {
      name,
      types: new Set(types.map((t) => (t === ANY_AQUEDUCT_EVENT ? t : normaliseEventType(t)))),
      handler,
    });
    this.byType.clear();
  }

  get(name: string): RegisteredListener | undefined {
    return this.listeners.get(name);
  }

  names(): string[] {
    return [...this.listeners.keys()];
  }

  /** Names of the listeners that must receive an event of this type (memoised per type). */
  namesFor(type: string): string[] {
    let names = this.byType.get(type);
    if (!names) {
      names = [...this.listeners.values()]
        .filter((l) => l.types.has(ANY_AQUEDUCT_EVENT) || l.types.has(type))
        .map((l) => l.name);
      this.byType.set(type, names);
    }
    return names;
  }
}

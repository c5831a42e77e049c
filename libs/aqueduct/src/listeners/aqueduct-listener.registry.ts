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

/** A listener and an event type it takes (`*`: every type), as the listener register keeps them. */
export interface ListenerPair {
  name: string;
  eventType: string;
}

/** Who must receive an event of one type. */
interface TypeListeners {
  names: string[];
  /** Whether this instance runs all of them (their deliveries may be leased here). */
  allHere: boolean;
}

/**
 * The listeners of this instance, by name (filled once at start-up by the explorer), and those
 * only other instances run (learnt from the listener register).
 */
@Injectable()
export class AqueductListenerRegistry {
  private readonly listeners = new Map<string, RegisteredListener>();
  /** Pairs other instances run and this one does not, by type; `*`: every type. */
  private elsewhere = new Map<string, string[]>();
  private readonly byType = new Map<string, TypeListeners>();

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

  /**
   * Names of the listeners that must receive an event of this type: this instance's, then those
   * only other instances run (memoised per type).
   */
  namesFor(type: string): string[] {
    return this.forType(type).names;
  }

  /** Whether this instance runs every listener of this type, so their deliveries may run here. */
  allHere(type: string): boolean {
    return this.forType(type).allHere;
  }

  /** Whether this instance runs the listener for this type. */
  runs(name: string, type: string): boolean {
    const types = this.listeners.get(name)?.types;
    return !!types && (types.has(ANY_AQUEDUCT_EVENT) || types.has(type));
  }

  /**
   * Sets the pairs other instances run (from the register); keeps those this instance lacks, and
   * returns them when they changed.
   */
  runElsewhere(pairs: ListenerPair[]): ListenerPair[] | undefined {
    const missing = pairs
      .filter(({ name, eventType }) => !this.runs(name, eventType))
      .sort((a, b) => `${a.name} ${a.eventType}`.localeCompare(`${b.name} ${b.eventType}`));
    const elsewhere = new Map<string, string[]>();
    for (const { name, eventType } of missing) {
      elsewhere.set(eventType, [...(elsewhere.get(eventType) ?? []), name]);
    }
    if (sameLists(elsewhere, this.elsewhere)) {
      return undefined;
    }
    this.elsewhere = elsewhere;
    this.byType.clear();
    return missing;
  }

  private forType(type: string): TypeListeners {
    let listeners = this.byType.get(type);
    if (!listeners) {
      const here = this.names().filter((name) => this.runs(name, type));
      const others = [
        ...new Set([
          ...(this.elsewhere.get(ANY_AQUEDUCT_EVENT) ?? []),
          ...(this.elsewhere.get(type) ?? []),
        ]),
      ].filter((name) => !here.includes(name));
      listeners = { names: [...here, ...others], allHere: others.length === 0 };
      this.byType.set(type, listeners);
    }
    return listeners;
  }
}

function sameLists(a: Map<string, string[]>, b: Map<string, string[]>): boolean {
  return (
    a.size === b.size && [...a].every(([type, names]) => b.get(type)?.join(' ') === names.join(' '))
  );
}

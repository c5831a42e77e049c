import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import type { AqueductListenerHandler } from '../events/aqueduct-event.interface';
import { listenerTypeUnmatchable, scopedListener } from '../aqueduct.messages';
import { normaliseEventType } from '../events/aqueduct-event-types';
import { unmatchableType } from '../events/module-event-types';
import { printable } from '../utils/printable';
import { AqueductListenerRegistry } from './aqueduct-listener.registry';
import {
  AQUEDUCT_LISTENER_METADATA,
  type AqueductListenerMetadata,
} from './on-aqueduct-event.decorator';

/**
 * Finds `@OnAqueductEvent` methods on every provider and controller at start-up. Methods are
 * called directly, bound to their instance: no guards, interceptors or filters of the host apply.
 */
@Injectable()
export class AqueductListenersExplorer implements OnModuleInit, OnApplicationBootstrap {
  private readonly logger = new Logger('AqueductListeners');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: AqueductListenerRegistry,
  ) {}

  onModuleInit(): void {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    // One instance may be reachable through several providers (a `useExisting` alias, the same
    // value under two tokens): its listeners are registered once.
    const seen = new Set<object>();
    for (const wrapper of wrappers) {
      this.explore(wrapper, seen);
    }
  }

  /** Once every module is initialised: the built-in listeners register in their own `onModuleInit`. */
  onApplicationBootstrap(): void {
    this.logger.log(`Aqueduct listeners: ${this.registry.names().join(', ') || '(none)'}`);
  }

  private explore(wrapper: InstanceWrapper, seen: Set<object>): void {
    if (wrapper.isAlias) {
      return;
    }
    if (!wrapper.isDependencyTreeStatic()) {
      this.refuseScoped(wrapper);
      return;
    }
    const { instance } = wrapper;
    if (!instance || typeof instance !== 'object' || seen.has(instance)) {
      return;
    }
    seen.add(instance);
    const prototype = Object.getPrototypeOf(instance);
    for (const [method, metadata] of this.listenerMethods(prototype)) {
      const name = metadata.options.name ?? `${instance.constructor.name}.${method}`;
      const handler: AqueductListenerHandler = (event, context) => instance[method](event, context);
      this.registry.add(name, metadata.types, handler);
      this.warnUnmatchable(name, metadata.types);
    }
  }

  /** A listener waiting for a type no event has would silently never run: said at start-up. */
  private warnUnmatchable(name: string, types: string[]): void {
    for (const type of types) {
      const why = unmatchableType(type === '*' ? type : normaliseEventType(type));
      if (why) {
        this.logger.warn(printable(listenerTypeUnmatchable(name, type, why)));
      }
    }
  }

  /**
   * A request-scoped (or transient) provider has no instance outside a request, and listeners run
   * outside any request: one with listeners would silently never run. Stop start-up instead.
   */
  private refuseScoped(wrapper: InstanceWrapper): void {
    const prototype = (wrapper.metatype as { prototype?: object } | undefined)?.prototype;
    const methods = prototype ? [...this.listenerMethods(prototype)].map(([method]) => method) : [];
    if (methods.length > 0) {
      throw new Error(scopedListener(String(wrapper.name), methods));
    }
  }

  private *listenerMethods(prototype: object): Iterable<[string, AqueductListenerMetadata]> {
    for (const method of this.scanner.getAllMethodNames(prototype)) {
      const metadata = this.reflector.get<AqueductListenerMetadata | undefined>(
        AQUEDUCT_LISTENER_METADATA,
        (prototype as Record<string, unknown>)[method] as () => unknown,
      );
      if (metadata) {
        yield [method, metadata];
      }
    }
  }
}

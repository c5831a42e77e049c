import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';
import type { AqueductListenerHandler } from './aqueduct-event.interface';
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
export class AqueductListenersExplorer implements OnModuleInit {
  private readonly logger = new Logger('AqueductListeners');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly registry: AqueductListenerRegistry,
  ) {}

  onModuleInit(): void {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      this.explore(wrapper);
    }
    this.logger.log(`Aqueduct listeners: ${this.registry.names().join(', ') || '(none)'}`);
  }

  private explore(wrapper: InstanceWrapper): void {
    const { instance } = wrapper;
    if (!instance || typeof instance !== 'object' || !wrapper.isDependencyTreeStatic()) {
      return;
    }
    const prototype = Object.getPrototypeOf(instance);
    for (const method of this.scanner.getAllMethodNames(prototype)) {
      const metadata = this.reflector.get<AqueductListenerMetadata | undefined>(
        AQUEDUCT_LISTENER_METADATA,
        prototype[method],
      );
      if (!metadata) {
        continue;
      }
      const name = metadata.options.name ?? `${instance.constructor.name}.${method}`;
      const handler: AqueductListenerHandler = (event, context) => instance[method](event, context);
      this.registry.add(name, metadata.types, handler);
    }
  }
}

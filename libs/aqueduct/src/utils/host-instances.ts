import { Injectable, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { invalidOption } from '../aqueduct.messages';

/**
 * The classes a host names in the options (the provisioning adapter, a custom verifier, the
 * console's guard): its registered instance if it has one (so it can inject the host's services),
 * else one created with the module's injector; one each, looked up at first use. All of them are
 * looked up once at start-up too: a class that cannot be created (a dependency only the host's
 * module provides, the class not in its `providers`) stops the app there, naming the option,
 * instead of starting and failing every webhook (401: Aqueduct retries, then disables the
 * endpoint), every provisioning or every console page.
 */
@Injectable()
export class HostInstances implements OnApplicationBootstrap {
  private readonly instances = new Map<Type<unknown>, Promise<unknown>>();
  /** The classes asked for, with the option that names each. */
  private readonly wanted = new Map<Type<unknown>, string>();

  constructor(private readonly moduleRef: ModuleRef) {}

  /** The host's class `type`, configured as `option`, created at first use. */
  lazy<T>(type: Type<T>, option: string): () => Promise<T> {
    this.wanted.set(type, option);
    return () => this.instance(type);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const [type, option] of this.wanted) {
      try {
        await this.instance(type);
      } catch (error) {
        const cause = String((error as Error)?.message ?? error).split('\n')[0];
        throw new Error(
          invalidOption(
            option,
            `names ${type.name}, which could not be created (${cause}); add ${type.name} to the ` +
              `providers of the module that imports AqueductModule, next to what it injects`,
          ),
        );
      }
    }
  }

  private instance<T>(type: Type<T>): Promise<T> {
    let instance = this.instances.get(type) as Promise<T> | undefined;
    if (!instance) {
      instance = (async () => {
        try {
          return this.moduleRef.get<T>(type, { strict: false }) as T;
        } catch {
          return this.moduleRef.create(type);
        }
      })();
      this.instances.set(type, instance);
    }
    return instance;
  }
}

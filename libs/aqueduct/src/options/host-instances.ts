import { Inject, Injectable, type OnApplicationBootstrap, type Type } from '@nestjs/common';
import { HttpAdapterHost, ModuleRef } from '@nestjs/core';
import { invalidOption } from '../aqueduct.messages';
import { AQUEDUCT_OPTIONS } from './aqueduct-options.provider';
import type { ResolvedAqueductOptions } from './aqueduct-options.resolved';

/** What a host class is used by: HTTP (the verifier, the console's guard) or the dispatcher (the adapter). */
export type HostClassUse = 'http' | 'dispatch';

/**
 * The classes a host names in the options (the provisioning adapter, a custom verifier, the
 * console's guard): its registered instance if it has one (so it can inject the host's services),
 * else one created with the module's injector; one each, looked up at first use. Those this
 * process will use are looked up once at start-up too (the verifier and the guard where HTTP is
 * served, the adapter where deliveries are dispatched): one that cannot be created stops the app
 * there, naming the option, instead of starting and failing every webhook (401: Aqueduct retries,
 * then disables the endpoint), every provisioning or every console page. A worker without HTTP
 * that shares the options never creates the HTTP ones.
 */
@Injectable()
export class HostInstances implements OnApplicationBootstrap {
  private readonly instances = new Map<Type<unknown>, Promise<unknown>>();
  /** The classes asked for, with the option that names each and what uses it. */
  private readonly wanted = new Map<Type<unknown>, { option: string; use: HostClassUse }>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly adapterHost: HttpAdapterHost,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
  ) {}

  /** The host's class `type`, configured as `option` and used by `use`, created at first use. */
  lazy<T>(type: Type<T>, option: string, use: HostClassUse): () => Promise<T> {
    this.wanted.set(type, { option, use });
    return () => this.instance(type);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const [type, { option, use }] of this.wanted) {
      if (use === 'http' ? !this.adapterHost.httpAdapter : !this.options.dispatch.enabled) {
        continue; // never used by this process
      }
      try {
        await this.instance(type);
      } catch (error) {
        throw new Error(invalidOption(option, `names ${type.name}, ${whyNot(type, error)}`));
      }
    }
  }

  private instance<T>(type: Type<T>): Promise<T> {
    let instance = this.instances.get(type) as Promise<T> | undefined;
    if (!instance) {
      instance = (async () => {
        try {
          return this.moduleRef.get<T>(type, { strict: false }) as T;
        } catch (error) {
          if (isScoped(error)) {
            throw error; // registered, but not a singleton: creating another would not help
          }
          return this.moduleRef.create(type);
        }
      })();
      this.instances.set(type, instance);
    }
    return instance;
  }
}

/** Nest's refusal to `get` a request- or transient-scoped provider. */
const isScoped = (error: unknown) =>
  (error as Error)?.constructor?.name === 'InvalidClassScopeException';

/** Why the class could not be had, and what to do about it. */
function whyNot(type: Type<unknown>, error: unknown): string {
  if (isScoped(error)) {
    return (
      `which is request- or transient-scoped (or injects something that is): the module calls it ` +
      `outside any request, so it must be a singleton (the default scope)`
    );
  }
  const cause = String((error as Error)?.message ?? error).split('\n')[0];
  return (
    `which could not be created (${cause}); add ${type.name} to the providers of the module that ` +
    `imports AqueductModule, next to what it injects`
  );
}

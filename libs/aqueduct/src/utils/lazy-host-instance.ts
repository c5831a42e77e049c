import type { Type } from '@nestjs/common';
import type { ModuleRef } from '@nestjs/core';

/**
 * A class the host configured: its registered instance if it has one (looked up at first use,
 * once every module is instantiated), else a new one created with the module's injector.
 */
export function lazyHostInstance<T>(moduleRef: ModuleRef, type: Type<T>): () => Promise<T> {
  let instance: Promise<T> | undefined;
  return () =>
    (instance ??= (async () => {
      try {
        return moduleRef.get<T>(type, { strict: false }) as T;
      } catch {
        return moduleRef.create(type);
      }
    })());
}

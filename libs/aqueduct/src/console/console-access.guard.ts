import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { isObservable, lastValueFrom } from 'rxjs';
import { HostInstances } from '../options/host-instances';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';

/**
 * Runs the host's console guard on every console route. The guard is the host's class, taken
 * from the host's providers when registered there so it can inject the host's services.
 * Without one (only with `allowUnauthenticated`) everyone is let in.
 */
@Injectable()
export class ConsoleAccessGuard implements CanActivate {
  private readonly hostGuard?: () => Promise<CanActivate>;
  private readonly open: boolean;

  constructor(
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
    hostInstances: HostInstances,
  ) {
    const guard = options.console?.guard;
    this.hostGuard = guard ? hostInstances.lazy(guard, 'console.guard', 'http') : undefined;
    this.open = options.console?.allowUnauthenticated === true;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.hostGuard) {
      return this.open;
    }
    const verdict = (await this.hostGuard()).canActivate(context);
    return isObservable(verdict) ? lastValueFrom(verdict) : verdict;
  }
}

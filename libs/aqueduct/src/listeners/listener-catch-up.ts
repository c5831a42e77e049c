import {
  type BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import { CATCH_UP_SQL, REGISTER_LISTENERS_SQL } from '../storage/aqueduct-listeners.sql';
import { AqueductListenerRegistry } from './aqueduct-listener.registry';
import { ANY_AQUEDUCT_EVENT } from './on-aqueduct-event.decorator';

/**
 * How long after a listener first appeared events received without it are given to it: longer
 * than any rolling deploy, so the last instance of the previous release has stopped by then.
 */
export const CATCH_UP_FOR_MS = 24 * 3_600_000;
/** How often an instance looks for events received without its new listeners. */
export const CATCH_UP_INTERVAL_MS = 60_000;
/** Each look goes back this far past the last: an intake that was still committing then. */
const INTAKE_OVERLAP_MS = 60_000;

/**
 * An event's deliveries are created, with the event, for the listeners of the instance that
 * received it. During a rolling deploy that adds a listener (a handler of your own, or the email
 * listener once `email` is configured), the instances still on the previous release take events
 * and create no delivery for it: its work (a welcome mail, a user provisioned) would never happen.
 * So every dispatching instance registers its listeners at start-up (`aqueduct_listeners`: when
 * each first appeared), and for a day after one first appeared, gives it, every minute, the events
 * received since that have none for it. Events received before it first appeared are not given to
 * it: replay those (`events replay`) when it should.
 */
@Injectable()
export class ListenerCatchUp implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductDispatcher');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  /** This instance's listeners that appeared less than `CATCH_UP_FOR_MS` ago, when last looked. */
  private young: string[] = [];

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly registry: AqueductListenerRegistry,
    private readonly deliveries: AqueductDeliveryStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.options.dispatch.enabled || this.registry.names().length === 0) {
      return;
    }
    // Start-up does not fail on it: a database that does not answer now is tried again in a minute.
    const registered = await this.register().then(
      () => true,
      (error: Error) => {
        this.logger.warn(
          `Registering the listeners failed (retried in a minute): ${error.message}`,
        );
        return false;
      },
    );
    if (!registered || this.young.length > 0) {
      this.timer = setInterval(() => this.background(), CATCH_UP_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Gives each of this instance's young listeners the events received without it since its last
   * look; returns how many deliveries it created, by listener.
   */
  async catchUp(): Promise<Record<string, number>> {
    await this.register();
    const created: Record<string, number> = {};
    for (const name of this.young) {
      const types = this.registry.get(name)?.types ?? new Set<string>();
      const [{ created: n }]: { created: number }[] = await this.dataSource.query(CATCH_UP_SQL, [
        name,
        types.has(ANY_AQUEDUCT_EVENT) ? null : [...types],
        INTAKE_OVERLAP_MS,
      ]);
      if (n > 0) {
        created[name] = n;
        this.logger.log(
          `Listener ${name} is new: gave it ${n} event(s) that instances without it received`,
        );
      }
    }
    if (Object.keys(created).length > 0) {
      await this.deliveries.announce();
    }
    if (this.young.length === 0) {
      clearInterval(this.timer);
    }
    return created;
  }

  /** Registers this instance's listeners, and notes which appeared less than a day ago. */
  private async register(): Promise<void> {
    const rows: { name: string; young: boolean }[] = await this.dataSource.query(
      REGISTER_LISTENERS_SQL,
      [this.registry.names(), CATCH_UP_FOR_MS],
    );
    this.young = rows.filter((row) => row.young).map((row) => row.name);
  }

  private background(): void {
    if (this.running) {
      return;
    }
    this.running = this.catchUp()
      .catch((error: Error) =>
        this.logger.warn(
          `Catching up new listeners failed (retried in a minute): ${error.message}`,
        ),
      )
      .finally(() => (this.running = undefined));
  }
}

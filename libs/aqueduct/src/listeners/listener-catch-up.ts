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
import { ANY_TYPE, CATCH_UP_SQL, REGISTER_LISTENERS_SQL } from '../storage/aqueduct-listeners.sql';
import { AqueductListenerRegistry } from './aqueduct-listener.registry';
import { ANY_AQUEDUCT_EVENT } from './on-aqueduct-event.decorator';

/**
 * How long after a listener first appeared events received without it are given to it: longer
 * than any rolling deploy, so the last instance of the previous release has stopped by then.
 */
export const CATCH_UP_FOR_MS = 24 * 3_600_000;
/** How often an instance registers its listeners and looks for events received without them. */
export const CATCH_UP_INTERVAL_MS = 60_000;
/** Each look goes back this far past its mark: slack for clocks (the mark waits for open writes). */
const INTAKE_OVERLAP_MS = 60_000;
/**
 * A pair no instance ran for this long counts as appearing anew when one runs it again: a listener
 * (or an event type of one) a release took away and a later one gives back.
 */
const REAPPEARS_AFTER_MS = 3_600_000;

/** A listener and one event type it takes (`*`: every type), as the register keeps them. */
interface Pair {
  name: string;
  eventType: string;
}

/**
 * An event's deliveries are created, with the event, for the listeners of the instance that
 * received it. During a rolling deploy that adds a listener (a handler of your own, the email
 * listener once `email` is configured) or an event type to one, the instances still on the
 * previous release take events and create no delivery for it: its work (a welcome mail, a user
 * provisioned) would never happen. So every dispatching instance registers its listeners, per
 * event type, at start-up and every minute (`aqueduct_listeners`: when each pair first appeared),
 * and for a day after a pair first appeared, gives its listener, every minute, the events of that
 * type received since that have no delivery for it. Events received before it first appeared are
 * not given to it: replay those (`events replay`) when it should.
 */
@Injectable()
export class ListenerCatchUp implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductDispatcher');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  /** This instance's pairs that appeared less than `CATCH_UP_FOR_MS` ago, when last looked. */
  private young: Pair[] = [];

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
    await this.register().catch((error: Error) =>
      this.logger.warn(`Registering the listeners failed (retried in a minute): ${error.message}`),
    );
    // Every minute, also when nothing is young: the register must see which pairs still run.
    this.timer = setInterval(() => this.background(), CATCH_UP_INTERVAL_MS);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * Registers this instance's listeners, and gives each young pair's listener the events of its
   * type received without it since its last look; returns how many deliveries it created, by
   * listener.
   */
  async catchUp(): Promise<Record<string, number>> {
    await this.register();
    const created: Record<string, number> = {};
    for (const { name, eventType } of this.young) {
      const [{ created: n }]: { created: number }[] = await this.dataSource.query(CATCH_UP_SQL, [
        name,
        eventType === ANY_TYPE ? null : eventType,
        INTAKE_OVERLAP_MS,
      ]);
      if (n > 0) {
        created[name] = (created[name] ?? 0) + n;
        this.logger.log(
          `Listener ${name} is new for ${eventType}: gave it ${n} event(s) that instances without it received`,
        );
      }
    }
    if (Object.keys(created).length > 0) {
      await this.deliveries.announce();
    }
    return created;
  }

  /** Registers this instance's pairs, and notes which appeared less than a day ago. */
  private async register(): Promise<void> {
    const pairs = this.registry.names().flatMap((name): [string, string][] => {
      const types = this.registry.get(name)?.types ?? new Set<string>();
      return types.has(ANY_AQUEDUCT_EVENT)
        ? [[name, ANY_TYPE]]
        : [...types].map((type): [string, string] => [name, type]);
    });
    const rows: (Pair & { young: boolean })[] = await this.dataSource.query(
      REGISTER_LISTENERS_SQL,
      [
        pairs.map(([name]) => name),
        pairs.map(([, type]) => type),
        CATCH_UP_FOR_MS,
        REAPPEARS_AFTER_MS,
      ],
    );
    this.young = rows
      .filter((row) => row.young)
      .map(({ name, eventType }) => ({ name, eventType }));
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

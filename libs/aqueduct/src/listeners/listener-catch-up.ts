import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
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
import {
  ANY_TYPE,
  CATCH_UP_SQL,
  FORGET_INSTANCE_SQL,
  LIVE_LISTENERS_SQL,
  REGISTER_LISTENERS_SQL,
} from '../storage/aqueduct-listeners.sql';
import { AqueductListenerRegistry, type ListenerPair } from './aqueduct-listener.registry';
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
/**
 * An instance seen this recently still runs its listeners: three of its looks, so one that failed
 * (a database blip) does not make them look gone. One that stops says so at once.
 */
const RUNS_ELSEWHERE_MS = 3 * CATCH_UP_INTERVAL_MS;
/** An instance not seen for this long stopped without a word (a crash): its row is deleted. */
const FORGET_INSTANCE_AFTER_MS = 24 * 3_600_000;
const READING_OTHERS = 'Reading the listeners of other instances';

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
 *
 * Where instances run different listeners for good (a receive-only tier without the email
 * listener, a worker tier with handlers of its own), that day would not be enough: so every
 * instance, dispatching or not, also reads every minute which pairs the other dispatching
 * instances run (`aqueduct_instances`: each records its pairs every minute and deletes its row when
 * it stops), and creates their deliveries too, pending, for an instance that runs them.
 */
@Injectable()
export class ListenerCatchUp implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AqueductDispatcher');
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopping = false;
  /** This instance's row in `aqueduct_instances`: host and process, for an operator reading it. */
  private readonly instanceId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  /** This instance's pairs that appeared less than `CATCH_UP_FOR_MS` ago, when last looked. */
  private young: ListenerPair[] = [];

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly registry: AqueductListenerRegistry,
    private readonly deliveries: AqueductDeliveryStore,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    // Kept in `running`: a start-up that fails elsewhere shuts down while this look is under way.
    this.running = this.firstLook().finally(() => (this.running = undefined));
    await this.running;
    if (!this.stopping) {
      // Every minute, also when nothing is young: the register must see which pairs still run.
      this.timer = setInterval(() => this.background(), CATCH_UP_INTERVAL_MS);
      this.timer.unref();
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
    if (this.registers()) {
      // Its listeners then get no more deliveries from instances without them (unless others run
      // them): a release that removes a listener leaves none waiting for it.
      await this.dataSource
        .query(FORGET_INSTANCE_SQL, [this.instanceId])
        .catch((error: Error) =>
          this.logger.warn(`Removing this instance from the register failed: ${error.message}`),
        );
    }
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

  /**
   * Reads which pairs other instances ran lately, so that events received here get their
   * deliveries too; says so when that set changes. Returns the pairs this instance lacks.
   */
  async learn(): Promise<ListenerPair[]> {
    const live: ListenerPair[] = await this.dataSource.query(LIVE_LISTENERS_SQL, [
      this.instanceId,
      RUNS_ELSEWHERE_MS,
    ]);
    const missing = this.registry.runElsewhere(live);
    if (missing?.length) {
      const pairs = missing.map(({ name, eventType }) => `${name} (${eventType})`).join(', ');
      this.logger.log(
        `Other instances run listeners this one does not: ${pairs}; the events received here get their deliveries too, for them to run`,
      );
    }
    return missing ?? [];
  }

  /** Start-up does not fail on it: a database that does not answer now is tried again in a minute. */
  private async firstLook(): Promise<void> {
    if (this.registers()) {
      await this.register().catch(this.failed('Registering the listeners'));
    }
    await this.learn().catch(this.failed(READING_OTHERS));
  }

  /** Whether this instance runs listeners, and so keeps them registered and caught up. */
  private registers(): boolean {
    return this.options.dispatch.enabled && this.registry.names().length > 0;
  }

  /**
   * Registers this instance's pairs, and notes which appeared less than a day ago; records this
   * instance as running them.
   */
  private async register(): Promise<void> {
    const pairs = this.registry.names().flatMap((name): [string, string][] => {
      const types = this.registry.get(name)?.types ?? new Set<string>();
      return types.has(ANY_AQUEDUCT_EVENT)
        ? [[name, ANY_TYPE]]
        : [...types].map((type): [string, string] => [name, type]);
    });
    const names = pairs.map(([name]) => name);
    const types = pairs.map(([, type]) => type);
    const rows: (ListenerPair & { young: boolean })[] = await this.dataSource.query(
      REGISTER_LISTENERS_SQL,
      [
        names,
        types,
        CATCH_UP_FOR_MS,
        REAPPEARS_AFTER_MS,
        this.instanceId,
        FORGET_INSTANCE_AFTER_MS,
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
    const catchUp = this.registers() ? this.catchUp() : Promise.resolve();
    this.running = catchUp
      .catch(this.failed('Catching up new listeners'))
      .then(() => this.learn())
      .catch(this.failed(READING_OTHERS))
      .finally(() => (this.running = undefined));
  }

  private failed(what: string): (error: Error) => void {
    return (error) => this.logger.warn(`${what} failed (retried in a minute): ${error.message}`);
  }
}

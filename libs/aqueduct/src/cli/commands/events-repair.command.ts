import type { Command } from 'commander';
import { AqueductEventCommands } from '../../admin/aqueduct-event.commands';
import { output, printable } from '../cli-output';
import { notFound } from './admin.errors';
import { addDatabaseOptions, type DbFlags, onDatabase } from './database.options';
import { eventIdCommand, requireIdOrAll } from './events.options';

/** `events replay <eventId>`: every listener of the event runs again. */
export function registerEventsReplay(events: Command): void {
  eventIdCommand(
    events,
    'replay',
    'run all listeners of an event again (same idempotency keys)',
  ).action(async (eventId: string, flags: DbFlags) => {
    const scheduled = await onDatabase(flags, (app) =>
      app.get(AqueductEventCommands).replay(eventId).catch(notFound),
    );
    output(
      flags.json,
      { eventId, scheduled },
      () => `replaying ${printable(eventId)}: ${scheduled} deliveries scheduled`,
    );
  });
}

interface RedriveFlags extends DbFlags {
  allDead?: boolean;
  listener?: string;
}

/** `events redrive [deliveryId] [--all-dead]`: dead deliveries back to pending. */
export function registerEventsRedrive(events: Command): void {
  addDatabaseOptions(
    events
      .command('redrive')
      .description('put a dead delivery (<eventId>:<listener>) back to pending, or all dead ones')
      .argument('[deliveryId]')
      .option('--all-dead', 'every dead delivery')
      .option('--listener <name>', 'with --all-dead: only this listener'),
  ).action(async (deliveryId: string | undefined, flags: RedriveFlags) => {
    requireIdOrAll(deliveryId, flags.allDead, 'give a <deliveryId> or --all-dead');
    const count = await onDatabase(flags, async (app) => {
      const service = app.get(AqueductEventCommands);
      if (flags.allDead) {
        return service.redriveDead(flags.listener);
      }
      await service.redrive(deliveryId as string).catch(notFound);
      return 1;
    });
    output(flags.json, { redriven: count }, () => `${count} deliveries back to pending`);
  });
}

/** `events dismiss <eventId>`: a quarantined event set aside for good. */
export function registerEventsDismiss(events: Command): void {
  eventIdCommand(
    events,
    'dismiss',
    'set a quarantined event aside for good: no listener will run, no alert',
  ).action(async (eventId: string, flags: DbFlags) => {
    await onDatabase(flags, (app) =>
      app.get(AqueductEventCommands).dismiss(eventId).catch(notFound),
    );
    output(flags.json, { dismissed: eventId }, () => `${printable(eventId)} dismissed`);
  });
}

import type { Command } from 'commander';
import { AqueductEventReader } from '../../admin/aqueduct-event.reader';
import type { StoredDelivery } from '../../storage/aqueduct-storage.types';
import { isAttemptRun } from '../../storage/delivery-attempt-log';
import { printableJson } from '../../utils/printable';
import { output, printable, table } from '../cli-output';
import { notFound } from './admin.errors';
import { type DbFlags, onDatabase } from './database.options';
import { eventIdCommand } from './events.options';
import { iso } from './text.format';

/** What `getEvent` gives: the event with its deliveries. */
type ShownEvent = Awaited<ReturnType<AqueductEventReader['getEvent']>>;

/** `events show <eventId>`: one event, its payload, its deliveries and their attempts. */
export function registerEventsShow(events: Command): void {
  eventIdCommand(events, 'show', 'one event, its payload and its deliveries').action(
    async (eventId: string, flags: DbFlags) => {
      const event = await onDatabase(flags, (app) =>
        app.get(AqueductEventReader).getEvent(eventId).catch(notFound),
      );
      output(flags.json, event, () => eventText(event));
    },
  );
}

/** The event for people: its line, errors and warnings, payload, deliveries and attempts. */
function eventText(event: ShownEvent): string {
  return [
    `${printable(event.id)}  ${printable(event.type)}  ${event.status}  received ${iso(event.receivedAt)}`,
    event.errors?.length ? `errors: ${event.errors.map(printable).join('; ')}` : '',
    event.warnings?.length ? `warnings: ${event.warnings.map(printable).join('; ')}` : '',
    printableJson(event.payload, 2),
    table(
      ['listener', 'state', 'attempts', 'last error'],
      event.deliveries.map((d) => [
        printable(d.listener),
        d.state,
        String(d.attempts),
        printable(d.lastError),
      ]),
    ),
    // Every attempt, as the console shows them: what happened, where, and how long it took.
    table(
      ['listener', '#', 'outcome', 'started', 'ms', 'instance', 'error'],
      event.deliveries.flatMap(attemptRows),
    ),
  ]
    .filter(Boolean)
    .join('\n');
}

/** A row per entry of a delivery's attempt log: a run, or a replay or redrive marker. */
function attemptRows(delivery: StoredDelivery): string[][] {
  return (delivery.attemptLog ?? []).map((entry) =>
    isAttemptRun(entry)
      ? [
          printable(delivery.listener),
          String(entry.attempt),
          printable(entry.outcome),
          printable(entry.startedAt),
          entry.durationMs === null ? '' : String(entry.durationMs),
          printable(entry.instance),
          printable(entry.error),
        ]
      : [
          printable(delivery.listener),
          '',
          printable(entry.outcome),
          printable(entry.at),
          '',
          '',
          '',
        ],
  );
}

import type { Command } from 'commander';
import type { AqueductDeliveryState } from '../../storage/aqueduct-storage.types';
import { registerEventsList } from './events-list.command';
import { registerEventsPrune } from './events-prune.command';
import {
  registerEventsDismiss,
  registerEventsRedrive,
  registerEventsReplay,
} from './events-repair.command';
import { registerEventsReprocess } from './events-reprocess.command';
import { registerEventsShow } from './events-show.command';

/*
 * Human output: every value that comes from a stored event (its type, payload, errors, the
 * listeners' errors) or from the command line goes through `printable`, so a sender's escape
 * sequence is shown (`\u001b[31m`), never acted on by the terminal.
 */

/** `events list|show|replay|redrive|reprocess|dismiss|prune`: the stored events. */
export function registerEvents(program: Command): void {
  const events = program
    .command('events')
    .description('inspect stored events, replay them, redrive dead deliveries, prune old ones');
  registerEventsList(events);
  registerEventsShow(events);
  registerEventsReplay(events);
  registerEventsRedrive(events);
  registerEventsReprocess(events);
  registerEventsDismiss(events);
  registerEventsPrune(events);
}

export type { AqueductDeliveryState };

import { Injectable } from '@nestjs/common';
import type { DeliveryFilter, EventFilter } from '../storage/aqueduct-storage.types';
import { AqueductEventCommands, type PruneRequest } from './aqueduct-event.commands';
import { AqueductEventReader } from './aqueduct-event.reader';

/**
 * Both sides in one injectable, as hosts used them before 0.3: the reads of
 * `AqueductEventReader` and the commands of `AqueductEventCommands`, which can also be injected
 * on their own. Errors are the domain's (`AqueductNotFoundError`, `AqueductEventStillInvalidError`).
 */
@Injectable()
export class AqueductEventsService {
  constructor(
    readonly reader: AqueductEventReader,
    readonly commands: AqueductEventCommands,
  ) {}

  listEvents(filter?: EventFilter) {
    return this.reader.listEvents(filter);
  }
  pageEvents(filter?: EventFilter) {
    return this.reader.pageEvents(filter);
  }
  getEvent(id: string) {
    return this.reader.getEvent(id);
  }
  listDeliveries(filter?: DeliveryFilter) {
    return this.reader.listDeliveries(filter);
  }
  counts() {
    return this.reader.counts();
  }
  backlog() {
    return this.reader.backlog();
  }
  quarantinedCount() {
    return this.reader.quarantinedCount();
  }
  replay(eventId: string) {
    return this.commands.replay(eventId);
  }
  reprocess(eventId: string) {
    return this.commands.reprocess(eventId);
  }
  reprocessQuarantined() {
    return this.commands.reprocessQuarantined();
  }
  dismiss(eventId: string) {
    return this.commands.dismiss(eventId);
  }
  redrive(deliveryId: string) {
    return this.commands.redrive(deliveryId);
  }
  redriveDead(listener?: string) {
    return this.commands.redriveDead(listener);
  }
  prune(request: PruneRequest) {
    return this.commands.prune(request);
  }
}

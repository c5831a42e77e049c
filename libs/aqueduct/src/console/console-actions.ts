import { BadRequestException, Injectable, Logger } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AqueductEventCommands } from '../admin/aqueduct-event.commands';
import { eventIdParam } from './console-query';
import { readForm } from './console-request';
import { consoleBase, consoleLinks } from './console-routes';
import { ConsoleView } from './console-view';

/**
 * The console's actions (its POST routes) on one event: each runs its command, logs it, and
 * redirects to the event's page with a query saying what happened (shown there as a flash).
 */
@Injectable()
export class ConsoleActions {
  private readonly logger = new Logger('AqueductConsole');

  constructor(
    private readonly commands: AqueductEventCommands,
    private readonly view: ConsoleView,
  ) {}

  async replay(request: Request, response: Response, id: string) {
    const scheduled = await this.commands.replay(eventIdParam(id));
    this.logger.log(`Console: event ${id} replayed (${scheduled} deliveries scheduled)`);
    this.backToEvent(request, response, id, `replayed=${scheduled}`);
  }

  async redrive(request: Request, response: Response, id: string) {
    const { listener } = await readForm(request);
    if (typeof listener !== 'string' || listener === '') {
      throw new BadRequestException('Form field "listener" must name the delivery’s listener.');
    }
    await this.commands.redrive(`${eventIdParam(id)}:${listener}`);
    this.logger.log(`Console: delivery ${id}:${listener} redriven`);
    this.backToEvent(request, response, id, `redriven=${encodeURIComponent(listener)}`);
  }

  async reprocess(request: Request, response: Response, id: string) {
    const result = await this.commands.reprocess(eventIdParam(id));
    this.logger.log(`Console: event ${id} reprocessed: ${result.status}`);
    this.backToEvent(request, response, id, `reprocessed=${result.status}`);
  }

  async dismiss(request: Request, response: Response, id: string) {
    await this.commands.dismiss(eventIdParam(id));
    this.logger.log(`Console: event ${id} dismissed`);
    this.backToEvent(request, response, id, 'dismissed=1');
  }

  private backToEvent(request: Request, response: Response, id: string, query: string): void {
    this.view.redirect(response, `${consoleLinks(consoleBase(request)).event(id)}?${query}`);
  }
}

import {
  BadRequestException,
  Controller,
  Get,
  Inject,
  Logger,
  NotFoundException,
  Param,
  Post,
  Query,
  Req,
  Res,
  type Type,
  UseFilters,
  UseGuards,
  VERSION_NEUTRAL,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { AccessEventType } from '../events/access-event-types';
import { AqueductAccessService } from '../access/aqueduct-access.service';
import { AQUEDUCT_CLOCK, type AqueductClock } from '../access/aqueduct-clock';
import { AqueductEventType } from '../events/aqueduct-event-types';
import { AqueductEventCommands } from '../admin/aqueduct-event.commands';
import { AqueductEventReader } from '../admin/aqueduct-event.reader';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { ConsoleAccessGuard } from './console-access.guard';
import { ConsoleCsrfGuard } from './console-csrf.guard';
import { ConsoleExceptionFilter } from './console-exception.filter';
import { customerPage } from './console-pages/customer.page';
import { eventPage } from './console-pages/event.page';
import { eventsPage } from './console-pages/events.page';
import { layout } from './console-pages/layout.page';
import { isEventId, parseCursor, parseEventQuery } from './console-query';
import { readForm } from './console-request';
import { CONSOLE_ROUTES, consoleBase, consoleLinks } from './console-routes';
import { ConsoleView } from './console-view';

/** Offered in the type filter; any other type can be typed in. */
const KNOWN_TYPES = [...Object.values(AqueductEventType), ...Object.values(AccessEventType)];

/** Name of the handler of the console's home page, the event list (for `servedPaths`). */
export const CONSOLE_HOME_HANDLER = 'list';

/**
 * A controller class of its own for each module registration, like the webhook's: its path comes
 * from options that `forRootAsync` only knows once resolved (see `consoleRouteProvider`).
 */
export function createConsoleController(): Type<unknown> {
  @Controller({ version: VERSION_NEUTRAL })
  @UseGuards(ConsoleAccessGuard)
  @UseFilters(ConsoleExceptionFilter)
  class AqueductConsoleController {
    private readonly logger = new Logger('AqueductConsole');
    private readonly pageSize: number;

    constructor(
      private readonly events: AqueductEventReader,
      private readonly commands: AqueductEventCommands,
      private readonly access: AqueductAccessService,
      private readonly view: ConsoleView,
      @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
      @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
    ) {
      this.pageSize = options.console?.pageSize ?? 0;
    }

    @Get(CONSOLE_ROUTES.events)
    async list(@Req() request: Request, @Res() response: Response, @Query() query: object) {
      const { filter, form } = parseEventQuery(query as Record<string, unknown>, this.pageSize);
      const [page, backlog] = await Promise.all([
        this.events.pageEvents(filter),
        this.events.backlog(),
      ]);
      this.view.send(request, response, 200, (context) =>
        layout(context, 'Events', eventsPage(context, page, form, KNOWN_TYPES), backlog),
      );
    }

    @Get(CONSOLE_ROUTES.event)
    async show(
      @Req() request: Request,
      @Res() response: Response,
      @Param('id') id: string,
      @Query() query: Record<string, unknown>,
    ) {
      const [event, backlog] = await Promise.all([
        this.events.getEvent(eventId(id)),
        this.events.backlog(),
      ]);
      this.view.send(request, response, 200, (context) =>
        layout(context, event.type, eventPage(context, event, flash(query)), backlog),
      );
    }

    @Post(CONSOLE_ROUTES.replay)
    @UseGuards(ConsoleCsrfGuard)
    async replay(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      const scheduled = await this.commands.replay(eventId(id));
      this.logger.log(`Console: event ${id} replayed (${scheduled} deliveries scheduled)`);
      this.view.redirect(
        response,
        `${consoleLinks(consoleBase(request)).event(id)}?replayed=${scheduled}`,
      );
    }

    @Post(CONSOLE_ROUTES.redrive)
    @UseGuards(ConsoleCsrfGuard)
    async redrive(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      const { listener } = await readForm(request);
      if (typeof listener !== 'string' || listener === '') {
        throw new BadRequestException('Form field "listener" must name the delivery’s listener.');
      }
      await this.commands.redrive(`${eventId(id)}:${listener}`);
      this.logger.log(`Console: delivery ${id}:${listener} redriven`);
      const link = consoleLinks(consoleBase(request)).event(id);
      this.view.redirect(response, `${link}?redriven=${encodeURIComponent(listener)}`);
    }

    @Post(CONSOLE_ROUTES.reprocess)
    @UseGuards(ConsoleCsrfGuard)
    async reprocess(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      const result = await this.commands.reprocess(eventId(id));
      this.logger.log(`Console: event ${id} reprocessed: ${result.status}`);
      this.view.redirect(
        response,
        `${consoleLinks(consoleBase(request)).event(id)}?reprocessed=${result.status}`,
      );
    }

    @Post(CONSOLE_ROUTES.dismiss)
    @UseGuards(ConsoleCsrfGuard)
    async dismiss(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      await this.commands.dismiss(eventId(id));
      this.logger.log(`Console: event ${id} dismissed`);
      this.view.redirect(response, `${consoleLinks(consoleBase(request)).event(id)}?dismissed=1`);
    }

    @Get(CONSOLE_ROUTES.customer)
    async customer(
      @Req() request: Request,
      @Res() response: Response,
      @Param('customerId') customerId: string,
      @Query() query: Record<string, unknown>,
    ) {
      const cursor = parseCursor(query);
      const now = this.clock.now();
      const [entitlements, provisionings, timeline, backlog] = await Promise.all([
        this.access.getEntitlements(customerId, now),
        this.access.getProvisionings(customerId),
        this.events.pageEvents({ customerId, limit: this.pageSize, ...cursor }),
        this.events.backlog(),
      ]);
      this.view.send(request, response, 200, (context) =>
        layout(
          context,
          customerId,
          customerPage(context, customerId, entitlements, provisionings, timeline, now),
          backlog,
        ),
      );
    }

    /**
     * Any other GET under the console's path: the console's 404 page (layout, security headers,
     * a link back to the events, by `ConsoleExceptionFilter`) instead of Nest's JSON one, behind
     * the same guard, so a refused visitor gets the 403 page and learns nothing more. It is the
     * last handler, so Express (which tries routes in the order they were added) gives it only
     * what no console route matched; its pattern lies under the console's path, so it never
     * takes the webhook's POST or a host route elsewhere.
     */
    @Get(CONSOLE_ROUTES.unknown)
    unknown(): never {
      throw new NotFoundException('There is no such page in the console.');
    }
  }
  return AqueductConsoleController;
}

/** Event ids are UUIDs: anything else cannot exist, and must not reach a uuid column. */
function eventId(id: string): string {
  if (!isEventId(id)) {
    throw new NotFoundException(`There is no event ${id}.`);
  }
  return id;
}

/** The result of the POST that redirected here. */
function flash(query: Record<string, unknown>): string | null {
  const { replayed, redriven, reprocessed, dismissed } = query;
  if (reprocessed === 'accepted') {
    return 'Reprocessed: the event now passes, and its listeners will run.';
  }
  if (reprocessed === 'quarantined') {
    return 'Reprocessed: still invalid (the errors below are today’s), so it stays in quarantine.';
  }
  if (dismissed === '1') {
    return 'Dismissed: no listener will run, and it no longer counts as waiting.';
  }
  if (typeof replayed === 'string' && /^\d+$/.test(replayed)) {
    return `Replay scheduled: ${replayed} ${replayed === '1' ? 'delivery' : 'deliveries'} will run again.`;
  }
  if (typeof redriven === 'string' && redriven !== '') {
    return `Redrive scheduled: ${redriven.slice(0, 200)} will run again.`;
  }
  return null;
}

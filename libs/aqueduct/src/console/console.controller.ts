import {
  Controller,
  Get,
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
import { ConsoleAccessGuard } from './console-access.guard';
import { ConsoleActions } from './console-actions';
import { ConsoleCsrfGuard } from './console-csrf.guard';
import { ConsoleExceptionFilter } from './console-exception.filter';
import { ConsoleReads } from './console-reads';
import { CONSOLE_ROUTES } from './console-routes';

/** Name of the handler of the console's home page, the event list (for `servedPaths`). */
export const CONSOLE_HOME_HANDLER = 'list';

/**
 * A controller class of its own for each module registration, like the webhook's: its path comes
 * from options that `forRootAsync` only knows once resolved (see `consoleRouteProvider`). Only the
 * routes are declared here, in the order Express tries them; the pages are `ConsoleReads`', the
 * actions `ConsoleActions`'.
 */
export function createConsoleController(): Type<unknown> {
  @Controller({ version: VERSION_NEUTRAL })
  @UseGuards(ConsoleAccessGuard)
  @UseFilters(ConsoleExceptionFilter)
  class AqueductConsoleController {
    constructor(
      private readonly reads: ConsoleReads,
      private readonly actions: ConsoleActions,
    ) {}

    @Get(CONSOLE_ROUTES.events)
    async list(@Req() request: Request, @Res() response: Response, @Query() query: object) {
      return this.reads.list(request, response, query as Record<string, unknown>);
    }

    @Get(CONSOLE_ROUTES.event)
    async show(
      @Req() request: Request,
      @Res() response: Response,
      @Param('id') id: string,
      @Query() query: Record<string, unknown>,
    ) {
      return this.reads.event(request, response, id, query);
    }

    @Post(CONSOLE_ROUTES.replay)
    @UseGuards(ConsoleCsrfGuard)
    async replay(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      return this.actions.replay(request, response, id);
    }

    @Post(CONSOLE_ROUTES.redrive)
    @UseGuards(ConsoleCsrfGuard)
    async redrive(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      return this.actions.redrive(request, response, id);
    }

    @Post(CONSOLE_ROUTES.reprocess)
    @UseGuards(ConsoleCsrfGuard)
    async reprocess(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      return this.actions.reprocess(request, response, id);
    }

    @Post(CONSOLE_ROUTES.dismiss)
    @UseGuards(ConsoleCsrfGuard)
    async dismiss(@Req() request: Request, @Res() response: Response, @Param('id') id: string) {
      return this.actions.dismiss(request, response, id);
    }

    @Get(CONSOLE_ROUTES.customer)
    async customer(
      @Req() request: Request,
      @Res() response: Response,
      @Param('customerId') customerId: string,
      @Query() query: Record<string, unknown>,
    ) {
      return this.reads.customer(request, response, customerId, query);
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

import { Inject, Injectable } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AqueductAccessService } from '../access/aqueduct-access.service';
import { AQUEDUCT_CLOCK, type AqueductClock } from '../access/aqueduct-clock';
import { AqueductEventReader } from '../admin/aqueduct-event.reader';
import { AccessEventType } from '../events/access-event-types';
import { AqueductEventType } from '../events/aqueduct-event-types';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { flash } from './console-flash';
import { customerPage } from './console-pages/customer.page';
import { eventPage } from './console-pages/event.page';
import { eventsPage } from './console-pages/events.page';
import { layout } from './console-pages/layout.page';
import { eventIdParam, parseCursor, parseEventQuery } from './console-query';
import { ConsoleView } from './console-view';

/** Offered in the type filter; any other type can be typed in. */
const KNOWN_TYPES = [...Object.values(AqueductEventType), ...Object.values(AccessEventType)];

/** The console's pages (its GET routes): the events, one event, one customer. */
@Injectable()
export class ConsoleReads {
  private readonly pageSize: number;

  constructor(
    private readonly events: AqueductEventReader,
    private readonly access: AqueductAccessService,
    private readonly view: ConsoleView,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) options: ResolvedAqueductOptions,
  ) {
    this.pageSize = options.console?.pageSize ?? 0;
  }

  /** The events, newest first, filtered by the query. */
  async list(request: Request, response: Response, query: Record<string, unknown>) {
    const { filter, form } = parseEventQuery(query, this.pageSize);
    const [page, backlog] = await Promise.all([
      this.events.pageEvents(filter),
      this.events.backlog(),
    ]);
    this.view.send(request, response, 200, (context) =>
      layout(context, 'Events', eventsPage(context, page, form, KNOWN_TYPES), backlog),
    );
  }

  /** One event, with the result of the action that redirected here. */
  async event(request: Request, response: Response, id: string, query: Record<string, unknown>) {
    const [event, backlog] = await Promise.all([
      this.events.getEvent(eventIdParam(id)),
      this.events.backlog(),
    ]);
    this.view.send(request, response, 200, (context) =>
      layout(context, event.type, eventPage(context, event, flash(query)), backlog),
    );
  }

  /** One customer: access now, provisionings, and a page of their events. */
  async customer(
    request: Request,
    response: Response,
    customerId: string,
    query: Record<string, unknown>,
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
}

import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { EXPRESS_REQUIRED, webhookRouteNotFound } from '../aqueduct.messages';
import { VerificationMonitor } from '../alerts/verification.monitor';
import { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import {
  type BodyRefusal,
  createRawBodyReader,
  RAW_BODY,
  type RequestWithRawBody,
} from './raw-body.reader';
import type { ServedRouteHandle } from './served-route.provider';
import { VERIFIED_WEBHOOK, type VerifiedRequest } from './signature.guard';
import { isRefusalNoted, noteRefusal } from './webhook.own-answers';
import { WEBHOOK_ROUTE } from './webhook-route.provider';

/** Status codes from which an answer is a failed delivery to Aqueduct (it retries 3xx, 4xx, 5xx). */
const FAILED_DELIVERY = 300;

/** Names of the body parsers Express and Nest install. */
const BODY_PARSERS = new Set(['jsonParser', 'urlencodedParser', 'rawParser', 'textParser']);

/** Layers Express 4 puts first (Express 5 has none): they give `req` its Express methods. */
const EXPRESS_INIT_LAYERS = new Set(['query', 'expressInit']);

interface RouterLayer {
  name?: string;
  handle?: { name?: string };
  route?: { path?: unknown; methods?: Record<string, boolean> };
  match(path: string): boolean;
}

/**
 * Nest installs its JSON parser for every route before any module is initialised, and the
 * signature must be checked on the bytes as they came. Instead of asking every host to bootstrap
 * with `rawBody: true`, this puts the raw-body reader first in Express's stack, for the webhook
 * route only (the exact paths Nest registered it at: global prefix and versioning included). First,
 * not merely before the parsers Express names: a host's own middleware may parse JSON under another
 * name (`consumer.apply(express.json())`, a wrapper choosing a parser per route), and a body read
 * before the reader could never be verified. And once more just before the parsers, for a request
 * whose path a host middleware rewrote in between (the second reads only what the first did not).
 *
 * Being first, it also sees every answer the webhook gets: a verified request answered 2xx is a
 * success; one that is not 2xx, that neither the reader nor the route answered, came from the
 * host's own middleware in front of the route (a rate limiter, an auth or HTTPS-redirect
 * middleware) and counts as a refusal like any other.
 */
@Injectable()
export class RawBodyInstaller implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: AqueductMetrics,
    private readonly monitor: VerificationMonitor,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @Inject(WEBHOOK_ROUTE) private readonly route: ServedRouteHandle | null,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter;
    if (!adapter) {
      return; // An application context without HTTP (a worker, the CLI): no endpoint to serve.
    }
    const app = adapter.getInstance?.();
    const stack: RouterLayer[] | undefined = (app?.router ?? app?._router)?.stack;
    if (adapter.getType?.() !== 'express' || !Array.isArray(stack)) {
      throw new Error(EXPRESS_REQUIRED);
    }
    const paths = new Set((this.route?.paths() ?? []).map(withoutTrailingSlash));
    const routes = stack.filter((layer) => isRouteAt(layer, paths));
    if (routes.length === 0) {
      throw new Error(webhookRouteNotFound(this.options.path));
    }
    const reader = createRawBodyReader(this.options.maxBodyBytes, (refusal, req) =>
      this.refused(refusal, req),
    );
    const readWebhookBody = (req: RequestWithRawBody, res: Response, next: NextFunction) => {
      if (
        req.method === 'POST' &&
        req[RAW_BODY] === undefined &&
        routes.some((route) => route.match(req.path))
      ) {
        if (!req._body) {
          res.once('finish', () => this.answered(req, res));
          return reader(req, res, next);
        }
        if (Buffer.isBuffer(req.rawBody)) {
          // Read before Nest by a host that keeps the bytes (Cloud Functions, Firebase: their own
          // parsers set `rawBody`): those are the bytes signed, decoded as the reader would.
          req[RAW_BODY] = req.rawBody;
          res.once('finish', () => this.answered(req, res));
        }
      }
      next();
    };
    // First: before any parser of the host's, whatever its name.
    const initLayers = stack.findIndex((l) => !EXPRESS_INIT_LAYERS.has(l.name ?? ''));
    insert(app, stack, readWebhookBody, initLayers === -1 ? stack.length : initLayers);
    // Again where the body parsers start: a host middleware that rewrites the URL (a proxy prefix
    // stripped in main.ts) makes the webhook's path known only after it has run.
    const firstParser = stack.findIndex((l) => BODY_PARSERS.has(l.name ?? l.handle?.name ?? ''));
    const firstRoute = stack.indexOf(routes[0]);
    insert(
      app,
      stack,
      readWebhookBody,
      firstParser === -1 ? firstRoute : Math.min(firstParser, firstRoute),
    );
  }

  /**
   * A request refused before it could be verified (400, 413, 415): counted by its outcome, and
   * given to the monitor, which logs it naming the fix (Aqueduct gets the same answer on every
   * retry, then disables the endpoint) and may open the alert.
   */
  private refused(refusal: BodyRefusal, req: RequestWithRawBody): void {
    noteRefusal(req);
    this.metrics.webhook('other', refusal.outcome, refusal.seconds);
    // A size or a coding refuses every retry alike; a body cut short may be one bad transfer.
    this.monitor.failure(refusal.outcome, refusal.reason, Object.keys(req.headers), {
      certain: refusal.repeats,
    });
  }

  /**
   * A webhook answered. A verified request answered 2xx is the success that resolves the alert
   * (not the signature alone: the host's interceptors and pipes run after it, and may refuse); a
   * failure that the module neither answered nor counted was the host's.
   */
  private answered(req: VerifiedRequest, res: Response): void {
    if (res.statusCode < FAILED_DELIVERY) {
      if (req[VERIFIED_WEBHOOK]) {
        this.monitor.success();
      }
      return;
    }
    if (isRefusalNoted(req)) {
      return;
    }
    this.monitor.failure(
      'host-refused',
      `answered ${res.statusCode} by the app itself before the module saw the request: a ` +
        'middleware in front of the webhook route; exempt the route (isAqueductWebhookRoute, see ' +
        'the README)',
      Object.keys(req.headers),
      { body: req[RAW_BODY] },
    );
  }
}

/** Whether the layer is a POST route registered at one of `paths`. */
function isRouteAt(layer: RouterLayer, paths: Set<string>): boolean {
  const path = layer.route?.path;
  return (
    typeof path === 'string' &&
    !!layer.route?.methods?.post &&
    paths.has(withoutTrailingSlash(path))
  );
}

/** Adds `handler` as a middleware layer of `app` at `position` of its router's `stack`. */
function insert(
  app: { use(handler: unknown): void },
  stack: RouterLayer[],
  handler: (req: RequestWithRawBody, res: Response, next: NextFunction) => void,
  position: number,
): void {
  app.use(function aqueductWebhookBody(req: Request, res: Response, next: NextFunction) {
    handler(req, res, next);
  });
  stack.splice(position, 0, stack.pop() as RouterLayer);
}

function withoutTrailingSlash(path: string): string {
  return path.replace(/\/+$/, '') || '/';
}

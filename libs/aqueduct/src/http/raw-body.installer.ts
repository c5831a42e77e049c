import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import { EXPRESS_REQUIRED, webhookRouteNotFound } from '../aqueduct.messages';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { createRawBodyReader } from './raw-body.reader';

/** Names of the body parsers Express and Nest install; the reader must run before all of them. */
const BODY_PARSERS = new Set(['jsonParser', 'urlencodedParser', 'rawParser', 'textParser']);

interface RouterLayer {
  name?: string;
  handle?: { name?: string };
  route?: { path?: unknown; methods?: Record<string, boolean> };
  match(path: string): boolean;
}

/**
 * Nest installs its JSON parser for every route before any module is initialised, and the
 * signature must be checked on the bytes as they came. Instead of asking every host to bootstrap
 * with `rawBody: true`, this puts the raw-body reader in front of the parsers, for the webhook
 * route only (matched by the route Nest registered, so the global prefix and versioning apply).
 */
@Injectable()
export class RawBodyInstaller implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
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
    const routes = stack.filter((layer) => this.isWebhookRoute(layer));
    if (routes.length === 0) {
      throw new Error(webhookRouteNotFound(this.options.path));
    }
    const reader = createRawBodyReader(this.options.maxBodyBytes);
    app.use(function aqueductWebhookBody(req: Request, res: Response, next: NextFunction) {
      if (req.method === 'POST' && routes.some((route) => route.match(req.path))) {
        return reader(req, res, next);
      }
      next();
    });
    const layer = stack.pop() as RouterLayer;
    const firstParser = stack.findIndex((l) => BODY_PARSERS.has(l.name ?? l.handle?.name ?? ''));
    const firstRoute = stack.indexOf(routes[0]);
    const position = firstParser === -1 ? firstRoute : Math.min(firstParser, firstRoute);
    stack.splice(position, 0, layer);
  }

  private isWebhookRoute(layer: RouterLayer): boolean {
    const path = layer.route?.path;
    if (typeof path !== 'string' || !layer.route?.methods?.post) {
      return false;
    }
    return path.replace(/\/+$/, '').endsWith(`/${this.options.path}`);
  }
}

import type { RunningChild } from '../../support/child-process';
import { TcpProxy } from '../../support/tcp-proxy';
import { FaultBed } from './fault-harness';

/**
 * A fault bed whose apps reach Postgres only through a TCP proxy, so that a scenario can cut the
 * database off (`proxy.stop()`, `proxy.blackhole()`); the test's own client still goes direct.
 */
export class ProxiedFaultBed extends FaultBed {
  proxy!: TcpProxy;

  async setUp(): Promise<void> {
    await super.setUp();
    this.proxy = TcpProxy.inFrontOf(this.db.url);
    await this.proxy.start();
  }

  /** Heals and stops the proxy first: apps cut off mid-query would otherwise hang until killed. */
  async tearDown(): Promise<void> {
    this.proxy?.restore();
    await this.proxy?.stop();
    await super.tearDown();
  }

  /** An app through the proxy, with timeouts short enough for an outage to show within seconds. */
  startBehindProxy(): Promise<RunningChild> {
    return this.start({
      DATABASE_URL: this.proxy.routed(this.db.url),
      PG_CONNECT_TIMEOUT_MS: '1000',
      STORE_TIMEOUT_MS: '2000',
    });
  }
}

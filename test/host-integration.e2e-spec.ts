import { Injectable, Scope } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { type AqueductEvent, ExpiryJob, OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { createTestApp } from './support/app';
import { postAccepted } from './support/post';
import { deliveriesSettled } from './support/subscription';
import { useTestApp } from './support/use-test-app';

const SECRET = 'host-integration-secret';

/** The host's own cron, every second, as a host app would write it. */
@Injectable()
class HostCron {
  readonly ticks: number[] = [];
  @Cron('* * * * * *')
  tick() {
    this.ticks.push(Date.now());
  }
}

/** A listener, and an alias of it (useExisting): its methods must run once per event. */
@Injectable()
class HostListener {
  readonly runs: string[] = [];
  @OnAqueductEvent('provisioning.start')
  grant(event: AqueductEvent) {
    this.runs.push(event.id);
  }
}
const LISTENER_ALIAS = 'HOST_LISTENER_ALIAS';

@Injectable({ scope: Scope.REQUEST })
class RequestScopedListener {
  @OnAqueductEvent('invoice.paid')
  paid() {}
}

describe('Living in a host app: its scheduler, its providers', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], dispatch: { pollIntervalMs: 50 } },
    imports: [
      ScheduleModule.forRoot(),
      {
        module: class HostModule {},
        providers: [HostCron, HostListener, { provide: LISTENER_ALIAS, useExisting: HostListener }],
      },
    ],
  });

  it("fires the host's own cron once per tick (the module brings no second scheduler)", async () => {
    const cron = host.app.get(HostCron);
    await new Promise((resolve) => setTimeout(resolve, 3_300));
    const seconds = cron.ticks.map((at) => Math.floor(at / 1000));
    expect(seconds.length).toBeGreaterThanOrEqual(2);
    expect(new Set(seconds).size).toBe(seconds.length); // never two ticks in one second
  });

  it('runs its expiry job on its own timer, with or without the host importing ScheduleModule', async () => {
    expect(host.app.get(ExpiryJob).cronJob?.isActive).toBe(true);
    const bare = await createTestApp({ databaseUrl: host.db.url, aqueduct: { secrets: [SECRET] } });
    try {
      expect(bare.get(ExpiryJob).cronJob?.isActive).toBe(true);
    } finally {
      await bare.close();
    }
  });

  it('registers a listener reachable through a useExisting alias once, and runs it once', async () => {
    const id = await postAccepted(host.app, provisioningStartEvent(), SECRET);
    await deliveriesSettled(host.app);
    expect(host.app.get(HostListener).runs.filter((run) => run === id)).toEqual([id]);
  });

  it('refuses to start with a request-scoped listener, naming it', async () => {
    await expect(
      createTestApp({
        databaseUrl: host.db.url,
        aqueduct: { secrets: [SECRET] },
        imports: [{ module: class ScopedModule {}, providers: [RequestScopedListener] }],
      }),
    ).rejects.toThrow(
      /RequestScopedListener has @OnAqueductEvent listeners \(paid\) but is request-scoped/,
    );
  });
});

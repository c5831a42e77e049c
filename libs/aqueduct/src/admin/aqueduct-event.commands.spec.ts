import type { AqueductClock } from '../access/aqueduct-clock';
import type { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import type { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import type { AqueductMetrics } from '../observability/aqueduct-metrics.service';
import type { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import type { AqueductEventStore } from '../storage/aqueduct-event.store';
import type { AqueductRetentionStore, PruneBatch } from '../storage/aqueduct-retention.store';
import { AqueductEventCommands } from './aqueduct-event.commands';

const DAY_MS = 86_400_000;

/** The prune alone, over a retention store that always has a full batch to delete. */
function pruneWith(onBatch: (count: number) => void) {
  let batches = 0;
  const retention = {
    pruneBatch: async (): Promise<PruneBatch> => {
      batches++;
      onBatch(batches);
      return {
        won: true,
        scanned: 2,
        next: { at: 'infinity', id: '00000000-0000-0000-0000-000000000000' },
        selected: 2,
        events: 2,
        deliveries: 2,
      };
    },
  } as unknown as AqueductRetentionStore;
  const commands = new AqueductEventCommands(
    {} as AqueductEventStore,
    {} as AqueductDeliveryStore,
    {} as AqueductListenerRegistry,
    {} as AqueductAlerts,
    retention,
    { pruned: () => undefined } as unknown as AqueductMetrics,
    { now: () => new Date() } as AqueductClock,
  );
  return { commands, batches: () => batches };
}

describe('AqueductEventCommands.prune: the pause between batches', () => {
  it('a shutdown during the pause ends the prune without another batch', async () => {
    const stopping = new AbortController();
    const { commands, batches } = pruneWith((count) => {
      // A batch that took a moment, then the host shuts down while the prune pauses after it.
      const took = Date.now() + 20;
      while (Date.now() < took);
      if (count === 1) {
        setImmediate(() => stopping.abort());
      }
    });

    const result = await commands.prune({
      olderThanMs: DAY_MS,
      batchSize: 2,
      // Paused for 10 times the batch's time, unless the abort cuts it short.
      pauseRatio: 10,
      signal: stopping.signal,
    });

    expect(result).toMatchObject({ ran: true, batches: 1, events: 2 });
    expect(batches()).toBe(1);
  });

  it('refuses a pause ratio outside 0..10', async () => {
    const { commands } = pruneWith(() => undefined);
    for (const pauseRatio of [-1, 11, Number.NaN]) {
      await expect(commands.prune({ olderThanMs: DAY_MS, pauseRatio })).rejects.toThrow(
        'prune needs a pauseRatio from 0 to 10',
      );
    }
  });
});

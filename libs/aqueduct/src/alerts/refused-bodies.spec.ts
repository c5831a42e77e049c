import { RefusedBodies } from './refused-bodies';

const HOUR = 3_600_000;
const event = (n: number) =>
  Buffer.from(JSON.stringify({ type: 'provisioning.start', object: { n } }));

describe('RefusedBodies', () => {
  it('knows an event body refused before, and when it was first', () => {
    const bodies = new RefusedBodies();
    expect(bodies.refusedBefore(event(1), 0)).toBeUndefined();
    expect(bodies.refusedBefore(event(2), HOUR)).toBeUndefined();
    expect(bodies.refusedBefore(event(1), HOUR)).toBe(0);
    expect(bodies.refusedBefore(event(1), 7 * HOUR)).toBe(0); // still its first refusal
  });

  it('forgets a body after 48 hours (past Aqueduct’s last retry)', () => {
    const bodies = new RefusedBodies();
    bodies.refusedBefore(event(1), 0);
    expect(bodies.refusedBefore(event(1), 49 * HOUR)).toBeUndefined();
    expect(bodies.refusedBefore(event(1), 50 * HOUR)).toBe(49 * HOUR);
  });

  it('never counts a body that is no event, or none', () => {
    const bodies = new RefusedBodies();
    for (const body of ['{"probe":"uptime"}', '[]', 'null', 'not json', '{"type":1}']) {
      bodies.refusedBefore(Buffer.from(body), 0);
      expect(bodies.refusedBefore(Buffer.from(body), HOUR)).toBeUndefined();
    }
    expect(bodies.refusedBefore(Buffer.alloc(0), 0)).toBeUndefined();
    expect(bodies.refusedBefore(undefined, 0)).toBeUndefined();
  });

  it('reads an event with a byte order mark', () => {
    const bodies = new RefusedBodies();
    const body = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), event(1)]);
    bodies.refusedBefore(body, 0);
    expect(bodies.refusedBefore(body, HOUR)).toBe(0);
  });

  it('keeps the newest 4,096 bodies', () => {
    const bodies = new RefusedBodies();
    for (let n = 0; n <= 4096; n++) {
      bodies.refusedBefore(event(n), n);
    }
    expect(bodies.refusedBefore(event(0), 5000)).toBeUndefined(); // the oldest, pushed out
    expect(bodies.refusedBefore(event(4096), 5000)).toBe(4096);
  });
});

import type { ProductAccess } from './access-cache.interfaces';
import { grantAt, productsAt } from './aqueduct-access.grants';

const product = (seats: number, people?: number[]): ProductAccess => ({
  spans: [0, 1000],
  windows: [],
  awaitingPayment: false,
  seatSpans: [],
  seats,
  ...(people ? { people } : {}),
});

describe('seats of several products granting at once', () => {
  it('counts a person in two products once, and everyone else', () => {
    // A: Ada, Bob; B: Ada, Cy (hashes stand for the people).
    const access = new Map([
      ['prod_a', product(2, [11, 22])],
      ['prod_b', product(2, [11, 33])],
    ]);
    expect(grantAt(access, ['prod_a', 'prod_b'], 500).seats).toBe(3);
    expect(productsAt(access, 500).seats).toBe(3);
  });

  it('adds them up when nothing tells who they are (never fewer than the largest product)', () => {
    const access = new Map([
      ['prod_a', product(2)],
      ['prod_b', product(3)],
    ]);
    expect(grantAt(access, ['prod_a', 'prod_b'], 500).seats).toBe(5);
  });
});

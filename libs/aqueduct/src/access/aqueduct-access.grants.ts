import type { CustomerAccess, ProductAccess } from './access-cache.interfaces';
import { coversInstant, pairsOf, spanAt, toSpans } from './access-cache.spans';

/** What a customer's access to some products gives at one instant. */
export interface Grant {
  /** The products covering the instant. */
  grantedBy: string[];
  /** Users the granting products' provisionings carry. */
  seats: number;
  /** Whether any of the products covers the instant. */
  covered: boolean;
  /** The next instant `covered` changes, over the union of the products' spans (null: never). */
  changesAt: number | null;
}

/** The products granting each feature, from the `features` option (product → features). */
export function productsByFeature(
  features: Record<string, readonly string[]> | undefined,
): Map<string, string[]> {
  const productsOfFeature = new Map<string, string[]>();
  for (const [product, granted] of Object.entries(features ?? {})) {
    for (const feature of granted) {
      productsOfFeature.set(feature, [...(productsOfFeature.get(feature) ?? []), product]);
    }
  }
  return productsOfFeature;
}

/**
 * Seats of the products covering an instant. A product only held by its renewal window counts
 * while no other one grants by its dates: after an upgrade the old product's users are the new
 * one's, not more of them. A person in two products that grant at once counts once.
 */
class SeatCount {
  private readonly dated = new Seats();
  private readonly held = new Seats();

  add(found: ProductAccess, t: number): void {
    if (coversInstant(found.windows, t)) {
      this.held.add(found.seats, found);
    } else {
      this.dated.add(seatsAt(found, t), found);
    }
  }

  get total(): number {
    return this.dated.products > 0 ? this.dated.total : this.held.total;
  }
}

/** Seats of several products, each person once (as far as the products' `people` tell). */
class Seats {
  products = 0;
  private sum = 0;
  private largest = 0;
  private listed = 0;
  private readonly distinct = new Set<number>();

  add(seats: number, found: ProductAccess): void {
    this.products++;
    this.sum += seats;
    this.largest = Math.max(this.largest, seats);
    for (const person of found.people ?? []) {
      this.listed++;
      this.distinct.add(person);
    }
  }

  /** The sum, less the people counted twice; never fewer than the largest product's own. */
  get total(): number {
    return Math.max(this.largest, this.sum - (this.listed - this.distinct.size));
  }
}

/** The seats of a product covering `t` by its dates: its stored stretches', else as evaluated. */
function seatsAt(found: ProductAccess, t: number): number {
  const spans = found.seatSpans;
  for (let i = 0; i < spans.length; i += 3) {
    if (spans[i] <= t && t < spans[i + 1]) {
      return spans[i + 2];
    }
  }
  return found.seats;
}

/** What the customer's access to any of `products` gives at the instant `t`. */
export function grantAt(access: CustomerAccess, products: string[], t: number): Grant {
  const grantedBy: string[] = [];
  const spans: number[][] = [];
  const seats = new SeatCount();
  for (const product of products) {
    const found = access.get(product);
    if (!found) {
      continue;
    }
    spans.push(found.spans as number[]);
    if (coversInstant(found.spans, t)) {
      grantedBy.push(product);
      seats.add(found, t);
    }
  }
  const union = spans.length === 1 ? spans[0] : toSpans(spans.flatMap(pairsOf));
  const { covered, changesAt } = spanAt(union, t);
  return { grantedBy, seats: seats.total, covered, changesAt };
}

/** The products the customer's access covers at the instant `t`, by product, and their seats. */
export function productsAt(
  access: CustomerAccess,
  t: number,
): { products: string[]; seats: number } {
  const products: string[] = [];
  const seats = new SeatCount();
  for (const [product, found] of access) {
    if (coversInstant(found.spans, t)) {
      products.push(product);
      seats.add(found, t);
    }
  }
  products.sort();
  return { products, seats: seats.total };
}

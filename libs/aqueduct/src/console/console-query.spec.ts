import { parseEventQuery } from './console-query';

describe('parseEventQuery', () => {
  it('turns the form into a filter', () => {
    const { filter } = parseEventQuery(
      { type: 'invoice.paid', status: 'dead', customer: ' owner_1 ', from: '2025-01-31T14:00' },
      25,
    );
    expect(filter).toEqual({
      limit: 25,
      type: 'invoice.paid',
      withDeadDeliveries: true,
      customerId: 'owner_1',
      since: new Date('2025-01-31T14:00:00Z'),
    });
  });

  it.each([
    ['2025-01-31', '2025-01-31T00:00:00.000Z'],
    ['2025-01-31T14:00:05', '2025-01-31T14:00:05.000Z'],
    ['2025-01-31T14:00+02:00', '2025-01-31T12:00:00.000Z'],
    ['2025-01-31T14:00:00.123Z', '2025-01-31T14:00:00.123Z'],
  ])('reads the date %p as %p (UTC unless a zone is given)', (to, iso) => {
    expect(parseEventQuery({ to }, 50).filter.until?.toISOString()).toBe(iso);
  });

  it.each([
    [{ from: '31/01/2025' }, 'from'],
    [{ status: 'gone' }, 'status'],
    [{ before: 'x' }, 'before'],
    [
      {
        before: '00000000-0000-4000-8000-000000000000',
        after: '00000000-0000-4000-8000-000000000000',
      },
      'before',
    ],
    [{ type: ['a', 'b'] }, 'type'],
    [{ customer: { nested: 'x' } }, 'customer'],
  ])('refuses %p naming %p', (query, field) => {
    expect(() => parseEventQuery(query, 50)).toThrow(`Query parameter "${field}"`);
  });
});

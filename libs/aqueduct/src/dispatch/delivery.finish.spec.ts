import { DeliveryFinish, finishOf, withFinish } from './delivery.finish';

const context = () => ({
  deliveryId: 'e:l',
  idempotencyKey: 'e:l',
  eventId: 'e',
  listener: 'l',
  attempt: 1,
  firstRun: true,
});

describe('DeliveryFinish', () => {
  it('rides on the context unseen: not enumerable, not serialized', () => {
    const finish = new DeliveryFinish(() => ({ text: 'UPDATE …', values: [] }));
    const carried = withFinish(context(), finish);
    expect(finishOf(carried)).toBe(finish);
    expect(Object.keys(carried)).toEqual(Object.keys(context()));
    expect(JSON.parse(JSON.stringify(carried))).toEqual(context());
  });

  it('is absent when the dispatcher offers none', () => {
    expect(finishOf(withFinish(context(), undefined))).toBeUndefined();
    expect(finishOf(context())).toBeUndefined();
  });

  it('is written once a transaction that carried it committed, not before', () => {
    const finish = new DeliveryFinish(() => ({ text: 'UPDATE …', values: ['e', 'l', 'me'] }));
    const closing: unknown[][] = [];
    finish.carry((statement) => closing.push([...statement.values]));
    expect(closing).toEqual([['e', 'l', 'me']]);
    expect(finish.written).toBe(false);
    finish.committed();
    expect(finish.written).toBe(true);
  });

  it('is not written by a transaction that did not carry it', () => {
    const finish = new DeliveryFinish(() => ({ text: 'UPDATE …', values: [] }));
    finish.committed();
    expect(finish.written).toBe(false);
  });
});

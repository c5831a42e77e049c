import { AqueductListenerRegistry } from './aqueduct-listener.registry';

describe('AqueductListenerRegistry', () => {
  const handler = () => undefined;
  const registry = () => {
    const r = new AqueductListenerRegistry();
    r.add('ledger', ['provisioning.start', 'provisioning.end'], handler);
    r.add('audit', ['*'], handler);
    return r;
  };

  it('names this instance’s listeners of a type, all run here', () => {
    const r = registry();
    expect(r.namesFor('provisioning.start')).toEqual(['ledger', 'audit']);
    expect(r.namesFor('invoice.paid')).toEqual(['audit']);
    expect(r.allHere('provisioning.start')).toBe(true);
  });

  it('adds the listeners only other instances run, after its own', () => {
    const r = registry();
    const missing = r.runElsewhere([
      { name: 'ledger', eventType: 'provisioning.start' }, // runs here too
      { name: 'mail', eventType: 'provisioning.start' },
      { name: 'ledger', eventType: 'invoice.paid' }, // a wider release of ledger
      { name: 'worker', eventType: '*' },
    ]);
    expect(missing).toEqual([
      { name: 'ledger', eventType: 'invoice.paid' },
      { name: 'mail', eventType: 'provisioning.start' },
      { name: 'worker', eventType: '*' },
    ]);
    expect(r.namesFor('provisioning.start')).toEqual(['ledger', 'audit', 'worker', 'mail']);
    expect(r.allHere('provisioning.start')).toBe(false);
    expect(r.namesFor('invoice.paid')).toEqual(['audit', 'worker', 'ledger']);
    expect(r.namesFor('provisioning.end')).toEqual(['ledger', 'audit', 'worker']);
  });

  it('says nothing changed when the same pairs come again, and forgets those gone', () => {
    const r = registry();
    const mail = [{ name: 'mail', eventType: 'provisioning.start' }];
    expect(r.runElsewhere(mail)).toEqual(mail);
    expect(r.runElsewhere([...mail])).toBeUndefined();
    expect(r.runElsewhere([])).toEqual([]);
    expect(r.namesFor('provisioning.start')).toEqual(['ledger', 'audit']);
    expect(r.allHere('provisioning.start')).toBe(true);
  });
});

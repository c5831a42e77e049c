import { messageIdOf } from './email.message-id';

describe('messageIdOf', () => {
  it('is the same for one key, another for another, on the sender’s domain', () => {
    const first = messageIdOf(
      'evt:aqueduct.email:ada@acme.test:access-started',
      'Acme <billing@acme.test>',
    );
    expect(first).toMatch(/^<[0-9a-f]{32}@acme\.test>$/);
    expect(
      messageIdOf('evt:aqueduct.email:ada@acme.test:access-started', 'billing@acme.test'),
    ).toBe(first);
    expect(
      messageIdOf('evt:aqueduct.email:alan@acme.test:access-started', 'billing@acme.test'),
    ).not.toBe(first);
  });

  it('never carries the recipient’s address', () => {
    expect(messageIdOf('evt:ada@acme.test:access-started', 'billing@acme.test')).not.toContain(
      'ada',
    );
  });

  it('falls back to a reserved domain when the sender has none it can use', () => {
    for (const from of ['billing', 'Acme <billing@>', 'x@.acme.', '']) {
      expect(messageIdOf('key', from)).toMatch(/@nestjs-aqueduct\.invalid>$/);
    }
  });
});

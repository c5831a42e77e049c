import {
  CHECKED_EVENT_TYPES,
  aqueductTypesListenedTo,
  compareEndpoints,
  normaliseEndpointUrl,
} from './endpoint-problems';

const PUBLIC_URL = 'https://app.example.com/api/webhooks/aqueduct';
const ALL = ['provisioning.start', 'provisioning.end', 'invoice.paid'];

const endpoint = (url: string, enabledEvents: string[], id = 'web_1') => ({
  id,
  url,
  enabledEvents,
});

describe('normaliseEndpointUrl', () => {
  it.each([
    ['HTTPS://App.Example.COM/api/webhooks/aqueduct', PUBLIC_URL],
    ['https://app.example.com/api/webhooks/aqueduct/', PUBLIC_URL],
    ['https://app.example.com/api/webhooks/aqueduct//', PUBLIC_URL],
    ['  https://app.example.com:443/api/webhooks/aqueduct#x ', PUBLIC_URL],
    ['https://app.example.com/', 'https://app.example.com'],
    ['https://app.example.com', 'https://app.example.com'],
    ['http://app.example.com:8080/hook?tenant=A', 'http://app.example.com:8080/hook?tenant=A'],
    ['not a url/', 'not a url'],
  ])('%s → %s', (url, expected) => {
    expect(normaliseEndpointUrl(url)).toBe(expected);
  });

  it('keeps what makes another endpoint: path case, scheme, port, query', () => {
    const target = normaliseEndpointUrl(PUBLIC_URL);
    for (const other of [
      'https://app.example.com/API/webhooks/aqueduct',
      'http://app.example.com/api/webhooks/aqueduct',
      'https://app.example.com:8443/api/webhooks/aqueduct',
      'https://app.example.com/api/webhooks/aqueduct?x=1',
      'https://staging.example.com/api/webhooks/aqueduct',
    ]) {
      expect(normaliseEndpointUrl(other)).not.toBe(target);
    }
  });
});

describe('aqueductTypesListenedTo', () => {
  it("keeps Aqueduct's checked types only, in either spelling, in a fixed order", () => {
    expect(
      aqueductTypesListenedTo([
        ['invoice_paid', 'access.expired'],
        new Set(['provisioning.start', 'alert.raised', 'delivery.dead']),
      ]),
    ).toEqual(['provisioning.start', 'invoice.paid']);
  });

  it("counts a '*' listener as listening to every checked type", () => {
    expect(aqueductTypesListenedTo([['access.started'], ['*']])).toEqual(CHECKED_EVENT_TYPES);
  });

  it('leaves provisioning.update out (not documented as sent), and nothing from no listeners', () => {
    expect(aqueductTypesListenedTo([['provisioning.update']])).toEqual([]);
    expect(aqueductTypesListenedTo([])).toEqual([]);
  });
});

describe('compareEndpoints', () => {
  it('is fine when an endpoint at the URL (normalised) sends every wanted type', () => {
    const result = compareEndpoints(PUBLIC_URL, ALL, [
      endpoint('https://old.example.com/hook', [], 'web_0'),
      endpoint('HTTPS://APP.example.com/api/webhooks/aqueduct/', ALL),
    ]);
    expect(result).toEqual({ problems: [], matching: ['web_1'], missingEvents: [] });
  });

  it('accepts either spelling on both sides', () => {
    const result = compareEndpoints(
      PUBLIC_URL,
      ['provisioning_start', 'invoice.paid'],
      [endpoint(PUBLIC_URL, ['provisioning.start', 'invoice_paid'])],
    );
    expect(result.problems).toEqual([]);
  });

  it('reports no endpoint at the URL, lists what there is, and prints the register command', () => {
    const result = compareEndpoints(
      PUBLIC_URL,
      ['provisioning.start', 'invoice.paid'],
      [endpoint('https://app.example.com/webhooks/aqueduct', ALL)],
    );
    expect(result.matching).toEqual([]);
    expect(result.missingEvents).toEqual(['provisioning_start', 'invoice_paid']);
    expect(result.problems).toEqual([
      `No webhook endpoint registered with Aqueduct points at ${PUBLIC_URL} (the account has 1: ` +
        'https://app.example.com/webhooks/aqueduct), so no event reaches this app. Register it: ' +
        `npx nestjs-aqueduct endpoints register --url ${PUBLIC_URL} ` +
        '--events provisioning_start,invoice_paid ' +
        '--secret "$AQUEDUCT_WEBHOOK_SECRET" --api-key "$AQUEDUCT_API_KEY"',
    ]);
  });

  it('says so when the account has no endpoint, and suggests the usual events when none is wanted', () => {
    const [problem] = compareEndpoints(PUBLIC_URL, [], []).problems;
    expect(problem).toContain('(the account has none)');
    expect(problem).toContain('--events provisioning_start,provisioning_end,invoice_paid ');
  });

  it('quotes a URL the shell would split', () => {
    const url = 'https://app.example.com/hook?a=1&b=2';
    const [problem] = compareEndpoints(url, ALL, []).problems;
    expect(problem).toContain(`--url 'https://app.example.com/hook?a=1&b=2' --events`);
  });

  it('names the missing events underscored, and the command registers them with those enabled', () => {
    const result = compareEndpoints(PUBLIC_URL, ALL, [
      endpoint(`${PUBLIC_URL}/`, ['provisioning.start', 'customer.created'], 'web_9'),
    ]);
    expect(result.matching).toEqual(['web_9']);
    expect(result.missingEvents).toEqual(['provisioning_end', 'invoice_paid']);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(
      /^Aqueduct's webhook endpoint web_9 for \S+ does not send provisioning_end, invoice_paid, which this app listens to/,
    );
    expect(result.problems[0]).toContain('then delete web_9');
    expect(result.problems[0]).toContain(
      '--events provisioning_start,customer_created,provisioning_end,invoice_paid ',
    );
  });

  it('takes the events of every endpoint at the URL together (each delivers on its own)', () => {
    const result = compareEndpoints(PUBLIC_URL, ALL, [
      endpoint(PUBLIC_URL, ['provisioning_start', 'provisioning_end'], 'web_1'),
      endpoint(PUBLIC_URL, ['invoice_paid'], 'web_2'),
    ]);
    expect(result).toEqual({ problems: [], matching: ['web_1', 'web_2'], missingEvents: [] });

    const missing = compareEndpoints(PUBLIC_URL, ALL, [
      endpoint(PUBLIC_URL, ['provisioning_start'], 'web_1'),
      endpoint(PUBLIC_URL, ['invoice_paid'], 'web_2'),
    ]);
    expect(missing.missingEvents).toEqual(['provisioning_end']);
    expect(missing.problems[0]).toContain('endpoints web_1, web_2 for');
  });

  it('reports an endpoint Aqueduct turned off, in any of the usual spellings, and only then', () => {
    for (const off of [
      { status: 'disabled' },
      { status: 'Inactive' },
      { enabled: false },
      { active: false },
      { isActive: false },
      { disabled: true },
      { disabledAt: '2026-11-29T10:00:00Z' },
    ]) {
      const result = compareEndpoints(PUBLIC_URL, ALL, [
        { ...endpoint(PUBLIC_URL, ALL, 'web_7'), ...off },
      ]);
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatch(
        /^Aqueduct has turned off its webhook endpoint web_7 \(.+\) for \S+, so no event reaches this app/,
      );
      expect(result.problems[0]).toContain('Turn it back on');
    }
    for (const on of [
      { status: 'enabled' },
      { enabled: true },
      { disabled: false },
      { disabledAt: null },
    ]) {
      const result = compareEndpoints(PUBLIC_URL, ALL, [{ ...endpoint(PUBLIC_URL, ALL), ...on }]);
      expect(result.problems).toEqual([]);
    }
    // Another endpoint at the URL still delivers: only what it sends counts.
    const mixed = compareEndpoints(PUBLIC_URL, ALL, [
      { ...endpoint(PUBLIC_URL, ALL, 'web_1'), status: 'disabled' },
      endpoint(PUBLIC_URL, ['provisioning_start'], 'web_2'),
    ]);
    expect(mixed.missingEvents).toEqual(['provisioning_end', 'invoice_paid']);
    expect(mixed.problems[0]).toContain('endpoint web_2 for');
    expect(mixed.matching).toEqual(['web_1', 'web_2']);
  });

  it("treats an endpoint sending '*' as sending everything", () => {
    expect(compareEndpoints(PUBLIC_URL, ALL, [endpoint(PUBLIC_URL, ['*'])]).problems).toEqual([]);
  });
});

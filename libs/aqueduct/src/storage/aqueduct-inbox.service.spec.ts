import type { DataSource } from 'typeorm';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { DispatchSignal } from './dispatch-signal';
import { AqueductInbox, type InboxRecord, isPayloadFault } from './aqueduct-inbox.service';

/**
 * Every SQLSTATE class of Postgres (Appendix A of its manual). Only two are about the data sent:
 * 22 (data exception) and 54 (program limit exceeded: a value too big for an index entry, JSON
 * nested too deep). Everything else is the database's state, or a bug: a retry may succeed, so the
 * sender gets 503 and retries.
 */
const CLASSES: [string, string, boolean][] = [
  ['00000', 'successful completion', false],
  ['01000', 'warning', false],
  ['02000', 'no data', false],
  ['03000', 'SQL statement not yet complete', false],
  ['08006', 'connection failure', false],
  ['09000', 'triggered action exception', false],
  ['0A000', 'feature not supported', false],
  ['0B000', 'invalid transaction initiation', false],
  ['0F000', 'locator exception', false],
  ['0L000', 'invalid grantor', false],
  ['0P000', 'invalid role specification', false],
  ['0Z000', 'diagnostics exception', false],
  ['20000', 'case not found', false],
  ['21000', 'cardinality violation', false],
  ['22001', 'string data right truncation', true],
  ['22003', 'numeric value out of range', true],
  ['22007', 'invalid datetime format', true],
  ['22008', 'datetime field overflow', true],
  ['22021', 'character not in repertoire', true],
  ['22P02', 'invalid text representation', true],
  ['22P05', 'untranslatable character', true],
  ['23505', 'unique violation', false],
  ['24000', 'invalid cursor state', false],
  ['25006', 'read only sql transaction', false],
  ['26000', 'invalid sql statement name', false],
  ['27000', 'triggered data change violation', false],
  ['28000', 'invalid authorization specification', false],
  ['2B000', 'dependent privilege descriptors still exist', false],
  ['2D000', 'invalid transaction termination', false],
  ['2F000', 'sql routine exception', false],
  ['34000', 'invalid cursor name', false],
  ['38000', 'external routine exception', false],
  ['39000', 'external routine invocation exception', false],
  ['3B000', 'savepoint exception', false],
  ['3D000', 'invalid catalog name', false],
  ['3F000', 'invalid schema name', false],
  ['40001', 'serialization failure', false],
  ['40P01', 'deadlock detected', false],
  ['42P01', 'undefined table', false],
  ['44000', 'with check option violation', false],
  ['53100', 'disk full', false],
  ['53300', 'too many connections', false],
  ['54000', 'program limit exceeded (index row size)', true],
  ['54001', 'statement too complex (nesting)', true],
  ['54011', 'too many columns', true],
  ['55P03', 'lock not available', false],
  ['57014', 'query canceled (statement timeout)', false],
  ['57P01', 'admin shutdown', false],
  ['58030', 'io error', false],
  ['72000', 'snapshot too old', false],
  ['F0000', 'config file error', false],
  ['HV000', 'fdw error', false],
  ['P0001', 'raise exception', false],
  ['XX000', 'internal error', false],
];

const record = (): InboxRecord => ({
  dedupKey: 'sha256:abc',
  type: 'provisioning.start',
  createdAt: new Date(),
  payloadJson: '{"type":"provisioning.start"}',
  rawBody: Buffer.from('{"type":"provisioning.start"}'),
  headers: {},
  deliveryId: null,
  signedAt: null,
  status: 'accepted',
  errors: null,
  listeners: ['a'],
});

/** A database that refuses the first write with `code`, then stores what it is given. */
function refusingOnce(code: string) {
  let calls = 0;
  const dataSource = {
    query: async (_sql: string, [batch]: [string]) => {
      calls++;
      if (calls === 1) {
        throw Object.assign(new Error(`refused (${code})`), { code });
      }
      const [row] = JSON.parse(batch) as { dedup_key: string; status: string; errors: unknown }[];
      return [
        {
          dedup_key: row.dedup_key,
          id: '00000000-0000-0000-0000-000000000001',
          status: row.status,
          errors: row.errors,
          duplicate: false,
        },
      ];
    },
  } as unknown as DataSource;
  return new AqueductInbox(
    dataSource,
    { wake: () => undefined } as unknown as DispatchSignal,
    { preparedStatements: true } as ResolvedAqueductOptions,
  );
}

describe('AqueductInbox: what is the payload’s fault, and what is the database’s', () => {
  it.each(CLASSES)('%s (%s) is the payload’s fault: %s', (code, _name, payloadFault) => {
    expect(isPayloadFault({ code })).toBe(payloadFault);
  });

  it.each(CLASSES.filter(([, , fault]) => fault))(
    '%s (%s): the body is kept as raw bytes and quarantined, so the sender gets a 2xx',
    async (code) => {
      const result = await refusingOnce(code).store(record());
      expect(result.status).toBe('quarantined');
      expect(result.errors?.[0]).toContain('could not be stored as JSON');
    },
  );

  it.each(CLASSES.filter(([code, , fault]) => !fault && code !== '00000'))(
    '%s (%s): the store fails, so the sender gets 503 and retries',
    async (code) => {
      await expect(refusingOnce(code).store(record())).rejects.toMatchObject({ code });
    },
  );
});

import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { openingTransaction } from '../libs/aqueduct/src/storage/opening-transaction';
import { createTestDatabase, type TestDatabase } from './support/database';

/** The lock both transactions of a test take, as the ledger's writes do. */
const LOCK = { text: `SELECT pg_advisory_xact_lock($1, hashtext($2))`, values: [42, 'pair'] };
const READ = { text: `SELECT value FROM opening_rows WHERE key = $1`, values: ['a'] };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The same behaviour either way: in one simple query each (values written in), or statement by
 * statement where the connection cannot write values in (`pg`'s native client has no
 * `escapeLiteral`; taken away here from pg's own for the second run).
 */
describe.each([
  { mode: 'one simple query each', roundTrips: 2, literals: true },
  {
    mode: 'statement by statement (a client without escapeLiteral)',
    roundTrips: 5,
    literals: false,
  },
])(
  'openingTransaction, $mode: the start with a lock and a read, the commit with a last write',
  ({ roundTrips, literals }) => {
    const escapeLiteral = Client.prototype.escapeLiteral;
    beforeAll(() => {
      if (!literals) {
        (Client.prototype as Partial<Client>).escapeLiteral = undefined;
      }
    });
    afterAll(() => {
      Client.prototype.escapeLiteral = escapeLiteral;
    });

    let db: TestDatabase;
    let dataSource: DataSource;

    beforeAll(async () => {
      db = await createTestDatabase();
      dataSource = await new DataSource({
        type: 'postgres',
        url: db.url,
        extra: { max: 4 },
      }).initialize();
      await dataSource.query(
        `CREATE TABLE opening_rows (key text PRIMARY KEY, value int NOT NULL, note jsonb)`,
      );
    });
    afterAll(async () => {
      await dataSource?.destroy();
      await db?.drop();
    });
    beforeEach(() =>
      dataSource.query(`TRUNCATE opening_rows; INSERT INTO opening_rows VALUES ('a', 0, '{}')`),
    );

    it('a read after a lock waited for sees what the lock holder committed', async () => {
      let holding!: () => void;
      const held = new Promise<void>((resolve) => (holding = resolve));
      const first = openingTransaction(dataSource, [LOCK, READ], async (manager, [, rows]) => {
        holding();
        await sleep(200); // the second transaction is waiting on the lock by now
        await manager.query(`UPDATE opening_rows SET value = $1 WHERE key = 'a'`, [
          (rows[0] as { value: number }).value + 1,
        ]);
      });
      await held;
      const second = openingTransaction(dataSource, [LOCK, READ], async (manager, [, rows]) => {
        const seen = (rows[0] as { value: number }).value;
        await manager.query(`UPDATE opening_rows SET value = $1 WHERE key = 'a'`, [seen + 1]);
        return seen;
      });
      await first;
      // Read with a snapshot taken before the wait, it would see 0 and write 1: an update lost.
      expect(await second).toBe(1);
      expect(await dataSource.query(`SELECT value FROM opening_rows`)).toEqual([{ value: 2 }]);
    });

    it('takes any value, quotes and backslashes included (a literal or a parameter)', async () => {
      const key = `O'Brien \\ '); DROP TABLE opening_rows; --`;
      await dataSource.query(`INSERT INTO opening_rows VALUES ($1, 7, NULL)`, [key]);
      const opened = await openingTransaction(
        dataSource,
        [
          { ...LOCK, values: [42, key] },
          { ...READ, values: [key] },
        ],
        async (_manager, rows) => rows,
      );
      expect(opened).toEqual([[{ pg_advisory_xact_lock: '' }], [{ value: 7 }]]);
    });

    it('takes a Date as its exact instant, a year past 9999 and before 1970 included', async () => {
      const instants = [
        new Date(Date.UTC(2026, 11, 1, 0, 0, 0, 123)),
        new Date(Date.UTC(12000, 0, 1)),
        new Date(Date.UTC(1969, 6, 20, 20, 17, 40, 1)),
      ];
      const [read] = await openingTransaction(
        dataSource,
        [
          {
            text: `SELECT $1::timestamptz AS a, $2::timestamptz AS b, $3::timestamptz AS c`,
            values: instants,
          },
        ],
        async (_manager, rows) => rows,
      );
      expect(read).toEqual([{ a: instants[0], b: instants[1], c: instants[2] }]);
      await expect(
        openingTransaction(
          dataSource,
          [{ text: `SELECT $1::timestamptz`, values: [new Date(NaN)] }],
          async () => undefined,
        ),
      ).rejects.toThrow(literals ? 'Invalid Date for $1' : /invalid|NaN/i);
    });

    it('takes arrays (as ARRAY[…]) and hands a closing write its rows once the commit succeeded', async () => {
      const INSERT = `INSERT INTO opening_rows (key, value, note)
        SELECT * FROM unnest($1::text[], $2::int[], $3::jsonb[]) RETURNING key, value, note`;
      const read: unknown[][] = [];
      await openingTransaction(dataSource, [LOCK], async (_manager, _opened, close) => {
        close(
          {
            text: INSERT,
            values: [
              ["b'1", 'c'],
              [1, 2],
              ['{"x":1}', null],
            ],
          },
          (rows) => read.push(rows),
        );
        close({ text: `SELECT count(*)::int AS n FROM opening_rows`, values: [] }, (rows) =>
          read.push(rows),
        );
        expect(read).toEqual([]); // nothing before the commit
      });
      expect(read).toEqual([
        [
          { key: "b'1", value: 1, note: { x: 1 } },
          { key: 'c', value: 2, note: null },
        ],
        [{ n: 3 }],
      ]);

      const never = jest.fn();
      await expect(
        openingTransaction(dataSource, [LOCK], async (_manager, _opened, close) => {
          close({ text: INSERT, values: [['d'], [3], [null]] }, never);
          close({ text: `SELECT 1 / 0`, values: [] });
        }),
      ).rejects.toThrow('division by zero');
      expect(never).not.toHaveBeenCalled();
      expect(await dataSource.query(`SELECT count(*)::int AS n FROM opening_rows`)).toEqual([
        { n: 3 },
      ]);
    });

    it('rolls back and gives the connection back when the opening or the work fails', async () => {
      await expect(
        openingTransaction(
          dataSource,
          [LOCK, { text: `SELECT value / 0 FROM opening_rows WHERE key = $1`, values: ['a'] }],
          async () => 'never',
        ),
      ).rejects.toThrow('division by zero');
      await expect(
        openingTransaction(dataSource, [LOCK], async (manager) => {
          await manager.query(`UPDATE opening_rows SET value = 5`);
          throw new Error('work failed');
        }),
      ).rejects.toThrow('work failed');

      expect(await dataSource.query(`SELECT value FROM opening_rows`)).toEqual([{ value: 0 }]);
      // Each connection is back in the pool, idle, its lock released: all four can take it.
      await Promise.all(
        [1, 2, 3, 4].map(() => openingTransaction(dataSource, [LOCK], async () => undefined)),
      );
      const [{ open }] = await dataSource.query(
        `SELECT count(*)::int AS open FROM pg_stat_activity
        WHERE datname = current_database() AND state LIKE 'idle in transaction%'`,
      );
      expect(open).toBe(0);
    });

    it('sends the closing write with the commit; when it fails nothing commits', async () => {
      const CLOSE = `UPDATE opening_rows SET value = $2, note = $3::jsonb WHERE key = $1`;
      await openingTransaction(dataSource, [LOCK], async (_manager, _opened, close) => {
        close({ text: CLOSE, values: ['a', 3, null] });
      });
      // null is SQL NULL, not the JSON null a 'null' literal would cast to.
      expect(
        await dataSource.query(`SELECT value, note IS NULL AS gone FROM opening_rows`),
      ).toEqual([{ value: 3, gone: true }]);

      await expect(
        openingTransaction(dataSource, [LOCK], async (manager, _opened, close) => {
          await manager.query(`UPDATE opening_rows SET value = 4`);
          close({ text: CLOSE, values: ['a', 5, 'not json'] });
        }),
      ).rejects.toThrow('invalid input syntax for type json');
      expect(await dataSource.query(`SELECT value FROM opening_rows`)).toEqual([{ value: 3 }]);
    });

    it(`reaches Postgres in ${roundTrips} round trips for a lock, a read and a closing write`, async () => {
      let sent = 0;
      const query = Client.prototype.query;
      Client.prototype.query = function (this: Client, ...args: unknown[]) {
        sent++;
        return (query as (...a: unknown[]) => unknown).apply(this, args);
      } as typeof Client.prototype.query;
      try {
        await openingTransaction(dataSource, [LOCK, READ], async (_manager, _opened, close) => {
          close({ text: `UPDATE opening_rows SET value = $2 WHERE key = $1`, values: ['a', 9] });
        });
      } finally {
        Client.prototype.query = query;
      }
      // Connections are pooled already (beforeEach): no connect or session setup counted.
      expect(sent).toBe(roundTrips);
      expect(await dataSource.query(`SELECT value FROM opening_rows`)).toEqual([{ value: 9 }]);
    });
  },
);

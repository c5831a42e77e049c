import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ, 100 on Linux everywhere that matters). */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU ticks of each postgres process, by pid. */
export type PostgresCpu = Map<string, number>;

/**
 * The CPU time (µs) `postgres` processes spent between two readings: the database side of a run,
 * when the server is local (the machine's Postgres or the embedded one). Counted per process, so
 * a backend that ended in between (a short connection) does not subtract its whole life; the
 * app's pooled backends live through the run. Undefined where /proc could not be read.
 */
export function postgresCpuSpent(before?: PostgresCpu, after?: PostgresCpu): number | undefined {
  if (!before || !after) {
    return undefined;
  }
  let ticks = 0;
  for (const [pid, now] of after) {
    ticks += now - (before.get(pid) ?? 0);
  }
  return (ticks * 1e6) / CLOCK_TICKS_PER_SECOND;
}

/** A reading of every postgres process's CPU ticks (user + system), from /proc. */
export function readPostgresCpu(): PostgresCpu | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return undefined;
  }
  const ticks: PostgresCpu = new Map();
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ...`: comm may hold spaces, so split after its closing parenthesis.
      const close = stat.lastIndexOf(')');
      if (!stat.slice(stat.indexOf('(') + 1, close).startsWith('postgres')) {
        continue;
      }
      const fields = stat.slice(close + 2).split(' ');
      // utime and stime are fields 14 and 15 of the line, 12 and 13 after `pid (comm)`.
      ticks.set(entry, Number(fields[11]) + Number(fields[12]));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return ticks.size > 0 ? ticks : undefined;
}

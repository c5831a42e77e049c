import { printable, table } from '../cli-output';
import type { SimulationReport } from '../simulation-report';

/** The report for people: totals, answers, invalid events, deliveries by attempts, give-ups. */
export function humanReport(report: SimulationReport): string {
  const rows = Object.entries(report.deliveredByAttempts).map(([attempts, count]) => [
    attempts,
    String(count),
  ]);
  const answers = Object.entries(report.answers)
    .map(([answer, count]) => `${printable(answer)}: ${count}`)
    .join(', ');
  const invalid = Object.entries(report.invalidByKind)
    .map(([kind, count]) => `${kind}: ${count}`)
    .join(', ');
  return [
    `sent ${report.sent} deliveries (${report.duplicatesSent} duplicates) in ${report.requests} requests`,
    `delivered ${report.delivered}, ${report.deliveredFirstTry} on the first try, ${report.retried} retried, ${report.givenUp} given up`,
    `answers: ${answers}; ${report.duplicatesAbsorbed} answered as duplicates`,
    ...(report.invalidSent > 0
      ? [
          `sent invalid: ${report.invalidSent} (${invalid}); ${report.quarantinedIds.length} answered as quarantined`,
        ]
      : []),
    table(['attempts', 'delivered'], rows),
    ...report.givenUpIds.map(
      (g) => `given up: ${printable(g.id)} (last answer ${printable(g.lastStatus)})`,
    ),
  ].join('\n');
}

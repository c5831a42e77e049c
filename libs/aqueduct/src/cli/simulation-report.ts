import type { InvalidKind } from './simulation-invalid';
import type { Outcome } from './simulation-sender';

/**
 * The run's numbers; `acceptedIds` (every id that got a 2xx) lets a test check each 2xx against
 * what was stored, `invalidIds` and `quarantinedIds` what was sent invalid against what the
 * endpoint said it quarantined.
 */
export function summarise(outcomes: Outcome[]) {
  const { byAttempts, answers, invalidByKind } = tally(outcomes);
  const delivered = outcomes.filter((o) => o.delivered);
  return {
    sent: outcomes.length,
    duplicatesSent: outcomes.filter((o) => o.duplicate).length,
    delivered: delivered.length,
    deliveredFirstTry: byAttempts[1] ?? 0,
    retried: outcomes.filter((o) => o.attempts > 1).length,
    givenUp: outcomes.length - delivered.length,
    duplicatesAbsorbed: delivered.filter((o) => o.absorbed).length,
    deliveredByAttempts: byAttempts,
    answers,
    requests: outcomes.reduce((sum, o) => sum + o.attempts, 0),
    acceptedIds: [...new Set(delivered.map((o) => o.id))],
    givenUpIds: outcomes
      .filter((o) => !o.delivered)
      .map((o) => ({ id: o.id, lastStatus: o.answers[o.answers.length - 1] ?? '' })),
    /** Distinct events sent invalid on purpose (`--invalid`), and how. */
    invalidSent: outcomes.filter((o) => o.invalid && !o.duplicate).length,
    invalidByKind,
    invalidIds: outcomes
      .filter((o) => o.invalid && !o.duplicate)
      .map((o) => ({ id: o.id, kind: o.invalid! })),
    /** Ids whose 2xx said `quarantined: true` (stored, not understood). */
    quarantinedIds: [...new Set(delivered.filter((o) => o.quarantined).map((o) => o.id))],
  };
}

export type SimulationReport = ReturnType<typeof summarise>;

/** Counts: deliveries by the attempts they took, answers by status, invalid events by kind. */
function tally(outcomes: Outcome[]) {
  const byAttempts: Record<string, number> = {};
  const answers: Record<string, number> = {};
  const invalidByKind: Partial<Record<InvalidKind, number>> = {};
  for (const outcome of outcomes) {
    if (outcome.invalid && !outcome.duplicate) {
      invalidByKind[outcome.invalid] = (invalidByKind[outcome.invalid] ?? 0) + 1;
    }
    if (outcome.delivered) {
      byAttempts[outcome.attempts] = (byAttempts[outcome.attempts] ?? 0) + 1;
    }
    for (const answer of outcome.answers) {
      answers[answer] = (answers[answer] ?? 0) + 1;
    }
  }
  return { byAttempts, answers, invalidByKind };
}

/**
 * The simulation of Aqueduct behind `simulate`, in parts: the plan (`simulation-plan.ts`, with the
 * invalid events of `simulation-invalid.ts`), the sender that retries on Aqueduct's schedule
 * (`simulation-sender.ts`), the report (`simulation-report.ts`) and the pool that runs them
 * (`run-pool.ts`). Re-exported here, where the fault tests import them from.
 */
export { INVALID_KINDS, type InvalidKind } from './simulation-invalid';
export { planDeliveries, type SimulatedDelivery, type SimulationPlan } from './simulation-plan';
export {
  AQUEDUCT_RETRY_DELAYS_MS,
  createSender,
  type Outcome,
  retryDelayMs,
  type SenderSettings,
} from './simulation-sender';
export { type SimulationReport, summarise } from './simulation-report';
export { runPool } from './run-pool';

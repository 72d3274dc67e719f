/** fast-check arbitraries of simulation schedules (see esm-model.ts), and the property that runs them. */
import * as fc from 'fast-check';
import type { DeliveryPart, RecordPlan, Schedule, Step } from './esm-model';
import { simulate } from './esm-model';

/** Mostly 0 (nothing happens), sometimes one of 1..max. */
const decision = (max: number, weight = 12) =>
  fc.oneof({ weight, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max }) });

const recordPlan: fc.Arbitrary<RecordPlan> = fc.record({
  gap: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }),
  poison: fc.oneof({ weight: 25, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  big: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  route: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
});

/** Routes that alternate from record to record: each record a target invocation of its own. */
const alternating = (n: number): fc.Arbitrary<RecordPlan[]> =>
  fc.constant(Array.from({ length: n }, (_, i) => ({ gap: 0, poison: false, big: false, route: i % 2 === 0 ? 0 : 2 })));

const partition: fc.Arbitrary<RecordPlan[]> = fc.oneof(
  { weight: 12, arbitrary: fc.array(recordPlan, { minLength: 1, maxLength: 30 }) },
  { weight: 2, arbitrary: fc.array(recordPlan, { minLength: 60, maxLength: 160 }) },
  { weight: 1, arbitrary: fc.integer({ min: 60, max: 160 }).chain(alternating) },
);

const part: fc.Arbitrary<DeliveryPart> = fc.record({
  p: fc.nat(2),
  size: fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 20 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: 10_000 }) },
  ),
  back: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 40 }) }),
});

const step: fc.Arbitrary<Step> = fc.record({
  deliveries: fc.array(fc.record({ env: fc.nat(3), parts: fc.array(part, { minLength: 1, maxLength: 3 }) }), {
    minLength: 1,
    maxLength: 3,
  }),
  advanceMs: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 120_000 }) }),
});

export const schedule: fc.Arbitrary<Schedule> = fc.record({
  // Half the schedules reach the default target as a Lambda function, half as the user's code in process.
  path: fc.constantFrom('lambda' as const, 'in-process' as const),
  source: fc.oneof(
    { weight: 3, arbitrary: fc.constant('kafka' as const) },
    { weight: 1, arbitrary: fc.constant('kinesis' as const) },
  ),
  store: fc.oneof(
    { weight: 3, arbitrary: fc.constant('ranges' as const) },
    { weight: 1, arbitrary: fc.constant('items' as const) },
    { weight: 1, arbitrary: fc.constant('strict' as const) },
  ),
  onError: fc.constantFrom('fail' as const, 'log' as const, 'drop' as const),
  reportBatchItemFailures: fc.boolean(),
  recordsPerInvocation: fc.oneof(
    { weight: 2, arbitrary: fc.constant(1) },
    { weight: 3, arbitrary: fc.integer({ min: 2, max: 10 }) },
    { weight: 2, arbitrary: fc.constant(100) },
  ),
  routes: fc.boolean(),
  responses: fc.boolean(),
  skews: fc.array(fc.integer({ min: -4_000, max: 4_000 }), { minLength: 1, maxLength: 4 }),
  partitions: fc.array(partition, { minLength: 1, maxLength: 3 }),
  steps: fc.array(step, { minLength: 1, maxLength: 8 }),
  dynamo: fc.array(decision(7, 30), { maxLength: 120 }),
  target: fc.array(decision(5, 10), { maxLength: 60 }),
  relay: fc.array(decision(3, 12), { maxLength: 40 }),
  registry: fc.array(decision(1, 10), { maxLength: 12 }),
  ticks: fc.array(fc.nat(3), { maxLength: 60 }),
});

/** Runs a schedule; throws with its violations and the end of its trace when there are any. */
export async function check(s: Schedule): Promise<void> {
  const result = await simulate(s);
  if (result.violations.length > 0) {
    throw new Error(
      `${result.violations.length} violation(s):\n  ${result.violations.slice(0, 8).join('\n  ')}\ntrace (last lines):\n  ${result.trace.slice(-40).join('\n  ')}`,
    );
  }
}

export const property = fc.asyncProperty(schedule, check);

/** The seed `npm test` runs with, so that its schedules are the same on every run; `scripts/simulate.js` explores others. */
export const DEFAULT_SEED = 20261207;

/** fast-check parameters from the environment: SIM_RUNS, SIM_SEED and SIM_PATH replay a failure. */
export function parameters(defaultRuns: number): fc.Parameters<[Schedule]> {
  const path = process.env.SIM_PATH;
  return {
    numRuns: Number(process.env.SIM_RUNS ?? defaultRuns),
    seed: Number(process.env.SIM_SEED ?? DEFAULT_SEED),
    ...(path !== undefined ? { path } : {}),
    endOnFailure: process.env.SIM_SHRINK === '0',
    verbose: 0,
  };
}

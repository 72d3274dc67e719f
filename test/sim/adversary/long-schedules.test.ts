/**
 * The simulation with schedules longer than the default generator makes: a partition handled in many small
 * acknowledged events (as a busy mapping sends them), faults off, then a redelivery from before the committed
 * position within the model's own bound (40 records). Replay a failure with SIM_SEED/SIM_PATH as for the main
 * simulation.
 */
import * as fc from 'fast-check';
import type { RecordPlan, Schedule } from '../esm-model';
import { check, DEFAULT_SEED } from '../schedules';

jest.setTimeout(300_000);

const plan: fc.Arbitrary<RecordPlan> = fc.record({
  gap: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
  poison: fc.constant(false),
  big: fc.constant(false),
  route: fc.constant(0),
});

const longSchedule: fc.Arbitrary<Schedule> = fc.record({
  source: fc.constantFrom('kafka' as const, 'kinesis' as const),
  store: fc.constant('ranges' as const),
  onError: fc.constant('fail' as const),
  reportBatchItemFailures: fc.constant(true),
  recordsPerInvocation: fc.constant(100),
  routes: fc.constant(false),
  responses: fc.boolean(),
  skews: fc.constant([0]),
  partitions: fc.array(plan, { minLength: 80, maxLength: 120 }).map((p) => [p]),
  steps: fc
    .tuple(
      fc.array(
        fc.record({ deliveries: fc.constant([{ env: 0, parts: [{ p: 0, size: 2, back: 0 }] }]), advanceMs: fc.constant(0) }),
        { minLength: 12, maxLength: 30 },
      ),
      fc.integer({ min: 10, max: 40 }),
    )
    .map(([steps, back]) => [...steps, { deliveries: [{ env: 1, parts: [{ p: 0, size: 60, back }] }], advanceMs: 0 }]),
  dynamo: fc.constant([]),
  target: fc.constant([]),
  relay: fc.constant([]),
  registry: fc.constant([]),
  ticks: fc.constant([]),
});

test('GIVEN long fault-free schedules ending in a redelivery from before the committed position WHEN they run THEN every invariant holds', async () => {
  const seed = process.env.SIM_SEED;
  const path = process.env.SIM_PATH;
  await fc.assert(fc.asyncProperty(longSchedule, check), {
    numRuns: Number(process.env.SIM_RUNS ?? 40),
    seed: Number(seed ?? DEFAULT_SEED),
    ...(path !== undefined ? { path } : {}),
  });
});

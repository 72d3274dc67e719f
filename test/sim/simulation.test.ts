/**
 * The runtime against a model of the event source mapping: the real Dispatcher and the real idempotency stores
 * on MemoryDynamoDb, under seeded schedules of deliveries, overlaps, crashes and faults (see esm-model.ts for the
 * model and the invariants). Half the schedules reach the default target as a Lambda function, half as the user's code
 * called in process by the exported inProcessHandler. A failure prints fast-check's seed and path; replay it with
 * `SIM_SEED=<seed> SIM_PATH=<path> npx jest --selectProjects unit test/sim/simulation.test.ts`.
 * SIM_RUNS sets the number of schedules (scripts/simulate.js runs many more).
 */
import * as fc from 'fast-check';
import { RecordPlan, Schedule, simulate } from './esm-model';
import { parameters, property } from './schedules';

jest.setTimeout(600_000);

const plain: RecordPlan = { gap: 0, poison: false, big: false, route: 0 };

/** Two partitions of 30 records delivered in batches of 7, one record per target call, no fault. */
const faultFree: Schedule = {
  source: 'kafka',
  store: 'ranges',
  onError: 'fail',
  reportBatchItemFailures: true,
  recordsPerInvocation: 1,
  routes: false,
  responses: true,
  skews: [0],
  partitions: [Array(30).fill(plain), Array(30).fill(plain)],
  steps: [
    {
      deliveries: [
        {
          env: 0,
          parts: [
            { p: 0, size: 7, back: 0 },
            { p: 1, size: 7, back: 0 },
          ],
        },
      ],
      advanceMs: 0,
    },
  ],
  dynamo: [],
  target: [],
  relay: [],
  registry: [],
  ticks: [],
};

describe('the dispatcher under the event source mapping model', () => {
  test('GIVEN seeded schedules of deliveries and faults WHEN the real dispatcher and stores run them THEN every invariant holds', async () => {
    await fc.assert(property, parameters(1500));
  });

  test.each(['lambda', 'in-process'] as const)(
    'GIVEN a fault-free schedule on the %s path WHEN it runs THEN every record is run exactly once and acknowledged',
    async (path) => {
      // GIVEN two partitions of 30 records delivered in batches of 7, one record per target call
      // WHEN it runs
      const result = await simulate({ ...faultFree, path });
      // THEN no violation, each record ran once (30 + 30, plus the fresh record per partition of the quiet phase)
      expect(result.violations).toEqual([]);
      expect(result.stats.effects).toBe(62);
      expect(result.stats.repeats).toBe(0);
      expect(result.stats.acks).toBe(62);
    },
  );

  test('GIVEN the in-process path and a record whose value is not JSON WHEN it runs THEN that record goes to the error topic, never to the code, and the others run once', async () => {
    // GIVEN one partition of 10 records, the fourth not JSON, errors logged to the error topic
    const plans = Array.from({ length: 10 }, (_, i) => ({ ...plain, poison: i === 3 }));
    // WHEN the handler gets them in one event
    const result = await simulate({
      ...faultFree,
      path: 'in-process',
      onError: 'log',
      recordsPerInvocation: 100,
      partitions: [plans],
      steps: [{ deliveries: [{ env: 0, parts: [{ p: 0, size: 10, back: 0 }] }], advanceMs: 0 }],
    });
    // THEN no violation (the code checks every record it gets is typed as produced), one error record, and the
    // code ran the 9 others and the quiet phase's fresh record, each once
    expect(result.violations).toEqual([]);
    expect(result.stats.errorWrites).toBe(1);
    expect(result.stats.effects).toBe(10);
    expect(result.stats.repeats).toBe(0);
    expect(result.stats.acks).toBe(11);
  });

  test('GIVEN the in-process path WHEN the code throws, then the process crashes mid-call THEN the retries run only what did not finish and every invariant holds', async () => {
    // GIVEN 12 records of one partition, 4 per call of the code; the first call throws after running half of its
    // records, a later call crashes the process after running half of them
    const result = await simulate({
      ...faultFree,
      path: 'in-process',
      recordsPerInvocation: 4,
      partitions: [Array(12).fill(plain)],
      steps: [
        { deliveries: [{ env: 0, parts: [{ p: 0, size: 12, back: 0 }] }], advanceMs: 0 },
        { deliveries: [{ env: 0, parts: [{ p: 0, size: 12, back: 0 }] }], advanceMs: 0 },
      ],
      target: [2, 0, 3],
    });
    // THEN the faults hit work in flight (2 records run by the throwing call, 2 by the crashed one, each run again
    // after its fault) and no invariant broke
    expect(result.violations).toEqual([]);
    expect(result.stats.crashes).toBe(1);
    expect(result.stats.repeats).toBe(4);
    expect(result.stats.repeatsAfterFault).toBe(4);
    expect(result.stats.effects).toBe(12 + 1 + 4);
  });
});

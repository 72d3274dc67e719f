/**
 * The runtime against a model of the event source mapping: the real Dispatcher and the real idempotency stores
 * on MemoryDynamoDb, under seeded schedules of deliveries, overlaps, crashes and faults (see esm-model.ts for the
 * model and the invariants). A failure prints fast-check's seed and path; replay it with
 * `SIM_SEED=<seed> SIM_PATH=<path> npx jest --selectProjects unit test/sim/simulation.test.ts`.
 * SIM_RUNS sets the number of schedules (scripts/simulate.js runs many more).
 */
import * as fc from 'fast-check';
import { simulate } from './esm-model';
import { parameters, property } from './schedules';

jest.setTimeout(600_000);

describe('the dispatcher under the event source mapping model', () => {
  test('GIVEN seeded schedules of deliveries and faults WHEN the real dispatcher and stores run them THEN every invariant holds', async () => {
    await fc.assert(property, parameters(1500));
  });

  test('GIVEN a fault-free schedule WHEN it runs THEN every record is run exactly once and acknowledged', async () => {
    // GIVEN two partitions of 30 records delivered in batches of 7, one invocation per target call
    const plans = Array.from({ length: 30 }, () => ({ gap: 0, poison: false, big: false, route: 0 }));
    const result = await simulate({
      source: 'kafka',
      store: 'ranges',
      onError: 'fail',
      reportBatchItemFailures: true,
      recordsPerInvocation: 1,
      routes: false,
      responses: true,
      skews: [0],
      partitions: [plans, plans],
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
    });
    // THEN no violation, each record ran once (30 + 30, plus the fresh record per partition of the quiet phase)
    expect(result.violations).toEqual([]);
    expect(result.stats.effects).toBe(62);
    expect(result.stats.repeats).toBe(0);
    expect(result.stats.acks).toBe(62);
  });
});

/**
 * The Kinesis fault ledger with a small N (CKL_E2E_N, default 400), so CI covers every scenario; `npm run e2e`
 * runs the same scenarios with 10,000 records.
 */
import { formatLedger, isPoison, Ledger, runScenario, TARGET_BATCH, total } from '../../e2e/kafka-ledger';
import {
  KINESIS_ESM_BATCH,
  KINESIS_PARALLELIZATION,
  KINESIS_SCENARIOS,
  KINESIS_SHARDS,
  KinesisScenario,
} from '../../e2e/kinesis-ledger';

jest.setTimeout(600_000);

const N = Number(process.env.CKL_E2E_N ?? 400);
const POISON = Array.from({ length: N }, (_, i) => i).filter(isPoison).length;
/** Faults that can cut off a dispatcher invocation after the target answered but before its results were stored. */
const INTERRUPTING: KinesisScenario[] = ['kinesis-dispatcher-killed', 'kinesis-emulator-restart', 'kinesis-dynamodb-restart'];

describe('end-to-end fault ledger: Kinesis', () => {
  const ledgers: Ledger[] = [];
  afterAll(() => {
    if (ledgers.length) process.stdout.write(`${formatLedger(total(ledgers))}\n`);
  });

  test.each(KINESIS_SCENARIOS.map((s) => [s]))(
    '%s: the fault hits work in flight and every record put is responded or sent to the on-failure destination, each partition key in order',
    async (scenario) => {
      // GIVEN N records on a 4-shard stream, WHEN they flow through the local mapping, the dispatcher and the target with the scenario's fault
      // (the run itself fails when a partition key's records reach the target out of order, or a restarted mapping replays a checkpointed record)
      const l = await runScenario(scenario, { n: N });
      ledgers.push(l);
      process.stdout.write(`${formatLedger(l)} seconds=${l.seconds} (fault_hits: ${l.faultCounted})\n`);
      // THEN the fault hit something (counted outside the mapping and the dispatcher), nothing is lost, no log holds record bytes
      if (scenario !== 'kinesis-steady') expect(l.faultHits).toBeGreaterThan(0);
      expect(l.produced).toBe(N);
      expect(l.lost).toBe(0);
      expect(l.canaryInLogs).toBe(0);
      // and the target sees a record again only when an invocation of it failed, or a fault cut off a dispatcher
      // invocation whose results were not stored yet (at most one batch per lane of each shard)
      const bound =
        l.failedTargetInvocations * TARGET_BATCH +
        (INTERRUPTING.includes(scenario) ? KINESIS_SHARDS * KINESIS_PARALLELIZATION * KINESIS_ESM_BATCH : 0);
      expect(l.extraInvocations).toBeLessThanOrEqual(bound);
      if (scenario === 'kinesis-steady' || scenario === 'kinesis-target-throttling') expect(l.extraInvocations).toBe(0);
      if (scenario === 'kinesis-poison-bisect') {
        // bisecting narrows each failure to the poison record itself
        expect(l.failedDest).toBe(POISON);
        expect(l.responded).toBe(N - POISON);
      } else {
        expect(l.responded).toBe(N);
        expect(l.failedDest).toBe(0);
      }
    },
  );
});

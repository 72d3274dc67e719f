/**
 * A redrive (REDRIVE_EVENT_FIELD) whose results are too big to store (relayed only) and whose relay fails, and a
 * redrive after the idempotency TTL, with the real stores on MemoryDynamoDb.
 */
import { REDRIVE_EVENT_FIELD } from '../../../contract/redrive-event';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { DynamoDbIdempotencyStore } from '../../../runtime/idempotency/store';
import type { MemoryDynamoDb } from '../memory-dynamodb';
import { context, kafkaEventAt, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

type Mode = 'ranges' | 'batched keys' | 'strict keys';
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const redrive = (event: any) => ({ ...event, [REDRIVE_EVENT_FIELD]: { rerunFailed: true } });

function setup(
  mode: Mode,
  db: MemoryDynamoDb,
  ledger: Ledger,
  relay: RecordingRelay,
  broken: { is: boolean },
  clock: { ms: number },
) {
  const options = { client: db as any, tableName: TABLE, baseDelayMs: 0, maxResultBytes: 8, ttlSeconds: 3600 };
  const store =
    mode === 'ranges'
      ? new DynamoDbRangeStore({ ...options, container: 'env-1', now: () => clock.ms })
      : new DynamoDbIdempotencyStore(options);
  return new Dispatcher({
    invoker: inProcessInvoker((records) => {
      for (const r of records) ledger.ran(r);
      if (broken.is && records.some((r) => r.offset === 5)) throw new Error('poison');
      // Results over maxResultBytes: relayed, never stored
      return records.map((r) => ({ result: `a result of record ${String(r.offset)}` }));
    }),
    store,
    idempotencyMode: mode === 'strict keys' ? 'strict' : 'batched',
    relay,
    onError: 'log',
    recordsPerInvocation: 1,
    reportBatchItemFailures: true,
    timeMarginMs: 5,
    targetTimeoutMs: 0,
    ...quiet,
  });
}

describe.each<Mode>(['ranges', 'batched keys', 'strict keys'])('with %s', (mode) => {
  test("GIVEN record 5 logged WHEN a redrive runs it with a result too big to store and the response's relay fails, and the redrive is sent again, and again THEN 5 runs again until its result is relayed, then never", async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const relay = new RecordingRelay(ledger, 'responses', 'errors');
    const broken = { is: true };
    const d = setup(mode, db, ledger, relay, broken, { ms: Date.now() });
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    broken.is = false;
    // WHEN the redrive's relay of 5's response fails once
    let fail = 1;
    relay.failOn = (_t, ids) => ids.includes('t|0|5') && fail-- > 0;
    const first = await d.handle(redrive(kafkaEventAt('t', 0, [5])), context(100));
    expect(first.batchItemFailures).not.toEqual([]);
    await new Promise((r) => setTimeout(r, 150));
    for (let i = 0; i < 2; i++)
      expect(await d.handle(redrive(kafkaEventAt('t', 0, [5])), context())).toEqual({ batchItemFailures: [] });
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    // THEN 5 ran broken, then for the redrive whose relay failed (its result lost), then once more; its response is on the topic once
    expect(ledger.twice()).toEqual(['t|0|5 x3']);
    expect(ledger.responses.get('t|0|5')).toHaveLength(1);
  });
});

test('GIVEN record 5 logged on the range store WHEN the redrive comes after the TTL, then again THEN it runs once more', async () => {
  const db = memoryTable();
  const ledger = new Ledger();
  const relay = new RecordingRelay(ledger, 'responses', 'errors');
  const broken = { is: true };
  const clock = { ms: Date.now() };
  const d = setup('ranges', db, ledger, relay, broken, clock);
  await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
  broken.is = false;
  clock.ms += 2 * 3600_000;
  for (let i = 0; i < 2; i++)
    expect(await d.handle(redrive(kafkaEventAt('t', 0, [5])), context())).toEqual({ batchItemFailures: [] });
  expect(ledger.twice()).toEqual(['t|0|5 x2']);
});

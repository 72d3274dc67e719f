/**
 * A redrive's event (REDRIVE_EVENT_FIELD) through the Dispatcher with its real stores on MemoryDynamoDb, as an adversary
 * sends it: records whose failure was handled run again once, records the target ran do not, and a second redrive of
 * the same error records runs nothing twice.
 */
import { REDRIVE_EVENT_FIELD } from '../../../contract/redrive-event';
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import type { DispatcherOptions } from '../../../runtime/dispatcher/dispatcher';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { DynamoDbIdempotencyStore } from '../../../runtime/idempotency/store';
import type { SourceRecord } from '../../../runtime/dispatcher/source';
import type { MemoryDynamoDb } from '../memory-dynamodb';
import { context, kafkaEventAt, kinesisEventAt, Ledger, memoryTable, quiet, RecordingRelay, sequence, TABLE } from './harness';

type Mode = 'ranges' | 'batched keys' | 'strict keys';
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const redrive = (event: any) => ({ ...event, [REDRIVE_EVENT_FIELD]: { rerunFailed: true } });

/** The code's state: records it fails while `poison` says so. */
class Code {
  poison: (r: SourceRecord) => boolean = () => false;
}

/** A dispatcher on `db` whose in-process code fails the records code.poison names; failures logged to the error topic. */
function dispatcher(
  mode: Mode,
  db: MemoryDynamoDb,
  ledger: Ledger,
  code: Code,
  options: Partial<DispatcherOptions> & { responseTopic?: string | undefined; container?: string } = {},
): Dispatcher {
  const { responseTopic = 'responses', container = 'env-1', ...rest } = options;
  const invoker = inProcessInvoker((records) => {
    for (const r of records) ledger.ran(r);
    if (records.some((r) => code.poison(r))) throw new Error('poison');
    return records.map((r) => ({ ok: String(r.offset) }));
  });
  const store =
    mode === 'ranges'
      ? new DynamoDbRangeStore({ client: db as any, tableName: TABLE, container, baseDelayMs: 0 })
      : new DynamoDbIdempotencyStore({ client: db as any, tableName: TABLE, baseDelayMs: 0 });
  return new Dispatcher({
    invoker,
    store,
    kinesisStore: store,
    idempotencyMode: mode === 'strict keys' ? 'strict' : 'batched',
    relay: new RecordingRelay(ledger, responseTopic, 'errors'),
    onError: 'log',
    recordsPerInvocation: 1,
    reportBatchItemFailures: true,
    ...quiet,
    ...rest,
  });
}

describe.each<Mode>(['ranges', 'batched keys', 'strict keys'])('a redrive with %s', (mode) => {
  test.each<[string, string | undefined]>([
    ['a response topic', 'responses'],
    ['no response topic', undefined],
  ])(
    'GIVEN a Kafka partition with %s whose record 5 failed and was logged WHEN the fixed code gets the redrive twice THEN record 5 runs again once',
    async (_label, responseTopic) => {
      // GIVEN records 0..9; 5 fails and is logged
      const db = memoryTable();
      const ledger = new Ledger();
      const code = new Code();
      code.poison = (r) => r.offset === 5;
      const d = dispatcher(mode, db, ledger, code, { responseTopic });
      expect(await d.handle(kafkaEventAt('t', 0, range(0, 10)), context())).toEqual({ batchItemFailures: [] });
      expect(ledger.errors.get('t|0|5')).toBe(1);
      // WHEN the code is fixed and the error record is redriven, then redriven again (an operator repeating it)
      code.poison = () => false;
      expect(await d.handle(redrive(kafkaEventAt('t', 0, [5])), context())).toEqual({ batchItemFailures: [] });
      expect(await d.handle(redrive(kafkaEventAt('t', 0, [5])), context())).toEqual({ batchItemFailures: [] });
      // THEN record 5 ran twice in all (broken, fixed), every other record once
      expect(ledger.twice()).toEqual(['t|0|5 x2']);
    },
  );

  test('GIVEN a Kafka partition with a response topic whose record 5 failed WHEN a redrive event carries records 4, 5 and 6 THEN only 5 runs again', async () => {
    // GIVEN records 0..9; 5 failed and was logged; 4 and 6 had their results relayed
    const db = memoryTable();
    const ledger = new Ledger();
    const code = new Code();
    code.poison = (r) => r.offset === 5;
    const d = dispatcher(mode, db, ledger, code);
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    // WHEN a redrive carries the failure with the records around it
    code.poison = () => false;
    expect(await d.handle(redrive(kafkaEventAt('t', 0, [4, 5, 6])), context())).toEqual({ batchItemFailures: [] });
    // THEN only the failure ran again: 4 and 6 were never failures, the list of ranges never outgrew its size
    expect(ledger.twice()).toEqual(['t|0|5 x2']);
  });

  test('GIVEN a record that failed WHEN a redrive fails it again, and later redrives run with the code fixed THEN it is logged again, runs once more, then never again', async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const code = new Code();
    code.poison = (r) => r.offset === 5;
    const d = dispatcher(mode, db, ledger, code);
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    // WHEN the redrive reaches code still broken: logged again
    expect(await d.handle(redrive(kafkaEventAt('t', 0, [5])), context())).toEqual({ batchItemFailures: [] });
    expect(ledger.errors.get('t|0|5')).toBe(2);
    // AND an ordinary redelivery does not run it (handled), while the next redrive, with the code fixed, does
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    expect(ledger.runs.get('t|0|5')).toBe(2);
    code.poison = () => false;
    for (let i = 0; i < 3; i++)
      expect(await d.handle(redrive(kafkaEventAt('t', 0, [5])), context())).toEqual({ batchItemFailures: [] });
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    // THEN 5 ran three times (broken, broken, fixed), every other record once
    expect(ledger.twice()).toEqual(['t|0|5 x3']);
    expect(ledger.errors.get('t|0|5')).toBe(2);
  });

  test('GIVEN a Kinesis shard whose record 5 failed WHEN redrives of 4..6 and of 5 come twice THEN 5 runs again once, nothing else', async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const code = new Code();
    code.poison = (r) => r.offset === sequence(5);
    const d = dispatcher(mode, db, ledger, code);
    const shard = 'shardId-000000000000';
    expect(await d.handle(kinesisEventAt('s', shard, range(0, 10)), context())).toEqual({ batchItemFailures: [] });
    code.poison = () => false;
    expect(await d.handle(redrive(kinesisEventAt('s', shard, [4, 5, 6])), context())).toEqual({ batchItemFailures: [] });
    expect(await d.handle(redrive(kinesisEventAt('s', shard, [5])), context())).toEqual({ batchItemFailures: [] });
    await d.handle(kinesisEventAt('s', shard, range(0, 12)), context());
    expect(ledger.twice()).toEqual([`s|${shard}|${sequence(5)} x2`]);
  });

  test('GIVEN records 3 and 7 sharing an idempotency key, 3 failed and logged WHEN the redrive carries both, twice THEN the key runs once more', async () => {
    // GIVEN a key per value: offsets 3 and 7 carry the same
    const db = memoryTable();
    const ledger = new Ledger();
    const code = new Code();
    code.poison = (r) => r.offset === 3;
    const keyOf = (r: SourceRecord) => (r.offset === 3 || r.offset === 7 ? 'shared' : `k-${String(r.offset)}`);
    const d = dispatcher(mode === 'ranges' ? 'batched keys' : mode, db, ledger, code, { keyOf });
    await d.handle(kafkaEventAt('t', 0, range(0, 10)), context());
    const before = ledger.runs.get('t|0|7') ?? 0;
    // WHEN the code is fixed and both records are redriven, twice
    code.poison = () => false;
    for (let i = 0; i < 2; i++)
      expect(await d.handle(redrive(kafkaEventAt('t', 0, [3, 7])), context())).toEqual({ batchItemFailures: [] });
    // THEN the key ran once more (one of its records), not twice
    const after = (ledger.runs.get('t|0|3') ?? 0) + (ledger.runs.get('t|0|7') ?? 0);
    expect(after).toBe(1 + before + 1);
  });
});

/**
 * Sessions of one process (handle() running concurrently, one container id) on the range store: a partition is
 * worked on by one session at a time, whatever DynamoDB answers to the lease writes of another session.
 */
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import type { SourceRecord } from '../../../runtime/dispatcher/source';
import { context, Ledger, memoryTable, quiet, TABLE } from './harness';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};
const until = async (f: () => boolean) => {
  for (let i = 0; i < 1000 && !f(); i++) await new Promise((r) => setImmediate(r));
  if (!f()) throw new Error('timed out waiting');
};

function kafkaEvent(parts: Record<number, number[]>): any {
  const records: Record<string, unknown[]> = {};
  for (const [p, offsets] of Object.entries(parts)) {
    records[`orders-${p}`] = offsets.map((offset) => ({
      topic: 'orders',
      partition: Number(p),
      offset,
      timestamp: 1_700_000_000_000,
      timestampType: 'CREATE_TIME',
      key: Buffer.from('k').toString('base64'),
      value: Buffer.from('{}').toString('base64'),
      headers: [],
    }));
  }
  return { eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092', records };
}

const isLease = (input: any, head: string) =>
  input?.Key?.id?.S === head && String(input.UpdateExpression).startsWith('SET #lease');

test("GIVEN three sessions of one process WHEN the first one's lease write of a partition times out after it landed while its other lease is slow THEN the partition stays held until the first gives it up, and no record runs twice", async () => {
  const db = memoryTable();
  const ledger = new Ledger();
  const slowLease = deferred();
  let aLeaseFailed = false;
  // Session A's client: its lease of orders-1 lands and then times out; its lease of orders-2 waits.
  const clientA = {
    send: async (command: any) => {
      const input = command.input;
      if (isLease(input, 'orders#1')) {
        await db.send(command);
        aLeaseFailed = true;
        throw Object.assign(new Error('socket timeout (injected, after the write landed)'), { name: 'TimeoutError' });
      }
      if (isLease(input, 'orders#2')) await slowLease.promise;
      return db.send(command);
    },
  };
  const dispatcher = (client: any, target: (records: readonly SourceRecord[]) => Promise<unknown[]>) =>
    new Dispatcher({
      invoker: inProcessInvoker(target),
      store: new DynamoDbRangeStore({ client, tableName: TABLE, container: 'one-process', baseDelayMs: 0, maxAttempts: 1 }),
      onError: 'fail',
      reportBatchItemFailures: true,
      ...quiet,
    });
  const run = async (records: readonly SourceRecord[]) => {
    for (const r of records) ledger.ran(r);
    return records.map(() => ({ ok: true }));
  };
  const A = dispatcher(clientA, run);
  const B = dispatcher(db, run);
  const C = dispatcher(db, run);

  // WHEN A opens orders-1 and orders-2: its orders-1 lease times out after landing, its orders-2 lease is slow
  const a = A.handle(kafkaEvent({ 1: [0, 1, 2], 2: [0] }), context()).then(
    () => 'answered',
    (e) => `threw ${e.name}`,
  );
  await until(() => aLeaseFailed);
  // AND B asks for orders-1 meanwhile: A's lease may have landed, so this process still holds it for A
  const b = await B.handle(kafkaEvent({ 1: [0, 1, 2] }), context());
  expect(b.batchItemFailures).toHaveLength(1);
  // AND A's open fails and gives up what it took
  slowLease.resolve();
  expect(await a).toBe('threw TimeoutError');
  // THEN C, after A, takes orders-1 and runs it; no record ran twice
  const c = await C.handle(kafkaEvent({ 1: [0, 1, 2] }), context());
  expect(c.batchItemFailures).toEqual([]);
  expect(ledger.twice()).toEqual([]);
  expect(ledger.runs.size).toBe(3);
});

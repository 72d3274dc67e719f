/**
 * Records keyed by a value field (idempotencyKeyPointer) on one dispatcher serving several topics and routes: a
 * record is skipped only for a record of its own kind, never for another topic's record that has the same field.
 */
import { Dispatcher } from '../../../runtime/dispatcher';
import { DynamoDbIdempotencyStore, jsonPointerKey } from '../../../runtime/idempotency';
import { inProcessInvoker } from '../../../runtime/in-process';
import { context, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

function event(topic: string, offset: number, value: unknown): any {
  return {
    eventSource: 'SelfManagedKafka', bootstrapServers: '127.0.0.1:9092',
    records: {
      [`${topic}-0`]: [{
        topic, partition: 0, offset, timestamp: 1_700_000_000_000, timestampType: 'CREATE_TIME',
        key: Buffer.from('k').toString('base64'), value: Buffer.from(JSON.stringify(value)).toString('base64'), headers: [],
      }],
    },
  };
}

test.each(['batched', 'strict'] as const)('GIVEN routes by topic with their own targets and response topics and a key pointer (%s) WHEN orders and payments both have id 5 THEN the payment runs on the payments target', async (mode) => {
  // GIVEN the README's routing shape: orders and payments to two functions, keyed by /id
  const db = memoryTable();
  const ledger = new Ledger();
  const target = (name: string) => inProcessInvoker((records) => {
    for (const r of records) ledger.ran(r);
    return records.map(() => ({ by: name }));
  }, { functionName: name });
  const dispatcher = new Dispatcher({
    routes: [
      { match: { topics: ['orders'] }, invoker: target('orders-fn'), responseTopic: 'orders-results' },
      { match: { topics: ['payments'] }, invoker: target('payments-fn'), responseTopic: 'payments-results' },
    ] as any,
    store: new DynamoDbIdempotencyStore({ client: db as any, tableName: TABLE, baseDelayMs: 0 }),
    idempotencyMode: mode, keyOf: jsonPointerKey('/id'), relay: new RecordingRelay(ledger, 'orders-results'),
    onError: 'fail', reportBatchItemFailures: true, ...quiet,
  });
  // WHEN order 5, then payment 5 arrive
  await dispatcher.handle(event('orders', 10, { id: 5, amount: 1 }), context());
  await dispatcher.handle(event('payments', 77, { id: 5, refund: true }), context());
  // THEN the payments function ran the payment, and its response is its own function's
  expect([...ledger.runs.keys()].sort()).toEqual(['orders|0|10', 'payments|0|77']);
  expect(ledger.responses.get('payments|0|77')).toEqual([{ by: 'payments-fn' }]);
});

/**
 * Routes with different response topics: a record is acknowledged only once its result is on its route's response
 * topic, also when its stored result is relayed again by a retry that stops its partition at a later record.
 */
import { Dispatcher } from '../../../runtime/dispatcher/dispatcher';
import { DynamoDbIdempotencyStore, jsonPointerKey } from '../../../runtime/idempotency/store';
import { DynamoDbRangeStore } from '../../../runtime/idempotency/ranges';
import { inProcessInvoker } from '../../../runtime/dispatcher/in-process';
import { context, kafkaEventAt, Ledger, memoryTable, quiet, RecordingRelay, TABLE } from './harness';

test.each(['ranges', 'items', 'strict'] as const)(
  "GIVEN two routes with their own response topics (%s) WHEN a retry re-relays both routes' stored results and a later record fails THEN each acknowledged record has its result on its own response topic",
  async (mode) => {
    const db = memoryTable();
    const ledger = new Ledger();
    const relay = new RecordingRelay(ledger, 'responses');
    const target = (name: string) =>
      inProcessInvoker(
        (records) => {
          if (records.some((r) => r.offset === 2)) throw new Error('the target failed');
          for (const r of records) ledger.ran(r);
          return records.map((r) => ({ by: name, offset: r.offset }));
        },
        { functionName: name },
      );
    // GIVEN record 1 (key k1) goes to route-a (responses-a), the others to the default target (responses)
    const dispatcher = new Dispatcher({
      invoker: target('default'),
      routes: [{ match: { keyPrefix: 'k1' }, invoker: target('route-a'), responseTopic: 'responses-a' }] as any,
      store:
        mode === 'ranges'
          ? new DynamoDbRangeStore({ client: db as any, tableName: TABLE, container: 'env-1', baseDelayMs: 0 })
          : new DynamoDbIdempotencyStore({ client: db as any, tableName: TABLE, baseDelayMs: 0 }),
      idempotencyMode: mode === 'strict' ? 'strict' : 'batched',
      keyOf: mode === 'ranges' ? undefined : jsonPointerKey('/n'),
      relay,
      onError: 'fail',
      ...quiet,
    });
    const event = kafkaEventAt('orders', 0, [0, 1, 2]);
    // WHEN the first attempt stores records 0 and 1, relays 0, fails to relay 1 (the handler throws: the batch comes again whole)
    relay.failOn = (topic) => topic === 'responses-a';
    await expect(dispatcher.handle(event, context())).rejects.toMatchObject({ name: 'BatchFailedError' });
    relay.failOn = undefined;
    // AND the retry finds both done, and record 2 fails
    const retry = new Dispatcher({ ...(dispatcher as any).options, reportBatchItemFailures: true });
    const answer = await retry.handle(event, context());
    // THEN the partition is retried from record 2: records 0 and 1 are acknowledged
    expect(answer.batchItemFailures).toEqual([{ itemIdentifier: { partition: 'orders-0', offset: 2 } }]);
    expect(ledger.twice()).toEqual([]);
    // AND record 1's result is on responses-a
    expect(relay.topics.get('orders|0|1')).toEqual(['responses-a']);
  },
);

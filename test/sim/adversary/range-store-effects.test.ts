/**
 * Effects of the Dispatcher on the range store (DynamoDbRangeStore on MemoryDynamoDb) in redeliveries the event
 * source mapping makes: each record runs once, and is acknowledged only with its result on the response topic.
 */
import { context, kafkaEventAt, kinesisEventAt, Ledger, memoryTable, rangeDispatcher, RecordingRelay, sequence } from './harness';

const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

describe('range store: redeliveries', () => {
  test('GIVEN an in-process target that answers undefined per record and a response topic WHEN the relay fails once and the batch is retried THEN each record has its response on the topic', async () => {
    // GIVEN a target whose results are undefined (a void handler), relayed as null
    const db = memoryTable();
    const ledger = new Ledger();
    const relay = new RecordingRelay(ledger);
    const dispatcher = rangeDispatcher(db, ledger, { relay, answer: () => undefined });
    const event = kafkaEventAt('orders', 0, range(0, 3));
    // WHEN the first relay fails: the partition is retried from its first record
    relay.failResponses = 1;
    const first = await dispatcher.handle(event, context());
    expect(first.batchItemFailures).toHaveLength(1);
    const second = await dispatcher.handle(event, context());
    expect(second.batchItemFailures).toEqual([]);
    // THEN the records ran once, and being acknowledged, their responses are on the response topic
    expect(ledger.twice()).toEqual([]);
    expect([...ledger.responses.keys()].sort()).toEqual(['orders|0|0', 'orders|0|1', 'orders|0|2']);
  });

  test('GIVEN a Kafka partition handled in 20 acknowledged events of 2 records WHEN a rebalance after a lost commit redelivers the last 40 records THEN none runs again', async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const dispatcher = rangeDispatcher(db, ledger);
    // GIVEN offsets around 10^9 (a partition of a long-lived topic), 20 events of 2 records, each acknowledged
    const base = 1_234_567_890;
    for (let e = 0; e < 20; e++)
      await expect(dispatcher.handle(kafkaEventAt('orders', 0, range(base + 2 * e, 2)), context())).resolves.toEqual({
        batchItemFailures: [],
      });
    // WHEN the mapping redelivers from 40 records back (the simulation model's own bound on a redelivery after a lost commit)
    await dispatcher.handle(kafkaEventAt('orders', 0, range(base, 40)), context());
    // THEN nothing ran twice
    expect(ledger.twice()).toEqual([]);
  });

  test('GIVEN a compacted Kafka partition (an offset compacted away between events) handled in 20 acknowledged events of 2 records WHEN a rebalance after a lost commit redelivers the last 40 records THEN none runs again', async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const dispatcher = rangeDispatcher(db, ledger);
    // GIVEN offsets 3e and 3e+1 in event e; 3e+2 was compacted away
    const offsets = (e: number) => [3 * e, 3 * e + 1];
    for (let e = 0; e < 20; e++)
      await expect(dispatcher.handle(kafkaEventAt('orders', 0, offsets(e)), context())).resolves.toEqual({
        batchItemFailures: [],
      });
    // WHEN the mapping redelivers the 40 records from the first
    await dispatcher.handle(kafkaEventAt('orders', 0, range(0, 20).flatMap(offsets)), context());
    // THEN nothing ran twice
    expect(ledger.twice()).toEqual([]);
  });

  test('GIVEN a Kinesis shard handled in 8 acknowledged events of 5 records WHEN the shard is redelivered from 40 records back THEN none runs again', async () => {
    const db = memoryTable();
    const ledger = new Ledger();
    const dispatcher = rangeDispatcher(db, ledger);
    for (let e = 0; e < 8; e++)
      await expect(
        dispatcher.handle(kinesisEventAt('stream', 'shardId-000000000000', range(5 * e, 5)), context()),
      ).resolves.toEqual({ batchItemFailures: [] });
    await dispatcher.handle(kinesisEventAt('stream', 'shardId-000000000000', range(0, 40)), context());
    expect(ledger.twice()).toEqual([]);
    expect(sequence(0)).toHaveLength(56);
  });
});

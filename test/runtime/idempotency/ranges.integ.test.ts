/**
 * DynamoDbRangeStore against DynamoDB Local: what is done survives redelivery with other batch boundaries, offset
 * gaps and Kinesis sequence numbers; leases keep two invocations off one partition; the TTL and the item sizes.
 */
import { DynamoDBClient, GetItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import * as te from '../../../testenv';
import {
  CompletionEntry,
  coordinatesKey,
  decodeEvent,
  DynamoDbRangeStore,
  IdempotencyLeaseLostError,
  RecordOutcome,
  SourceRecord,
} from '../../../runtime';
import { bigSequence, createIdempotencyTable, kafkaEvent, kinesisEvent, partitionSpecs } from '../support';

const { itemBytes } = require('../../../bench/idempotency-steady') as { itemBytes: (item: Record<string, unknown>) => number };

jest.setTimeout(60_000);

describe('DynamoDbRangeStore against DynamoDB Local', () => {
  const client = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  let tableName: string;
  beforeAll(async () => {
    tableName = await createIdempotencyTable(client);
  });
  afterAll(() => client.destroy());

  const entries = (records: readonly SourceRecord[]) => records.map((record) => ({ key: coordinatesKey(record), record }));
  const completions = (
    records: readonly SourceRecord[],
    outcome: RecordOutcome = 'responded',
    result: (r: SourceRecord) => unknown = (r) => ({ r: r.offset }),
  ): CompletionEntry[] =>
    records.map((record) => ({
      key: coordinatesKey(record),
      record,
      outcome,
      result: outcome === 'responded' ? result(record) : undefined,
    }));
  const soon = () => Date.now() + 60_000;
  const topicName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
  /** Every item of a topic's partitions: their ids. */
  async function itemsOf(topic: string): Promise<string[]> {
    const out = await client.send(
      new ScanCommand({
        TableName: tableName,
        FilterExpression: 'begins_with(id, :t)',
        ExpressionAttributeValues: { ':t': { S: `${topic}#` } },
      }),
    );
    return (out.Items ?? []).map((i) => i.id.S!).sort();
  }

  test('three invocations of 100 records are one item of ranges and three of results; a redelivery with other boundaries finds each record done with its result', async () => {
    // GIVEN 300 records of one partition done in three target invocations
    const topic = topicName('ranges');
    const store = new DynamoDbRangeStore({ tableName, client });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 300)));
    const first = await store.open(entries(records), soon());
    expect(first.done.size).toBe(0);
    for (let i = 0; i < 300; i += 100) await first.complete(completions(records.slice(i, i + 100)));
    await first.close();
    expect(await itemsOf(topic)).toHaveLength(4);
    // WHEN offsets 50..349 are delivered again (the last 50 new)
    const again = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 50, 300)));
    const second = await store.open(entries(again), soon());
    // THEN 50..299 are done with their stored results, 300..349 are not
    expect(second.done.size).toBe(250);
    expect(second.done.get(`${topic}-0-123`)).toEqual({
      outcome: 'responded',
      result: { r: 123 },
      resultOmitted: false,
      relayPending: false,
      topic,
      partition: 0,
      offset: 123,
    });
    expect(second.done.has(`${topic}-0-300`)).toBe(false);
    expect(second.inProgress.size).toBe(0);
    await second.close();
  });

  test('offset gaps (a compacted topic) inside and between ranges: only the records delivered before are done', async () => {
    // GIVEN offsets 0, 1, 5, 9 done in one invocation, 10 and 20 in another
    const topic = topicName('gaps');
    const store = new DynamoDbRangeStore({ tableName, client });
    const at = (...offsets: number[]) =>
      decodeEvent(kafkaEvent(offsets.map((offset) => ({ topic, partition: 2, offset, value: { offset } }))));
    const s = await store.open(entries(at(0, 1, 5, 9, 10, 20)), soon());
    await s.complete(completions(at(0, 1, 5, 9), 'invoked'));
    await s.complete(completions(at(10, 20), 'invoked'));
    await s.close();
    // WHEN 5, 9, 20 and a new 21 are delivered
    const again = await store.open(entries(at(5, 9, 20, 21)), soon());
    // THEN 5, 9 and 20 are done; 21 is not (the two ranges, consecutive in the event, are kept as one)
    expect([...again.done.keys()]).toEqual([`${topic}-2-5`, `${topic}-2-9`, `${topic}-2-20`]);
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: `${topic}#2` } } }));
    expect(JSON.parse(Item!.ranges.S!)).toEqual([expect.objectContaining({ f: 0, l: 20 })]);
    await again.close();
  });

  test.each([
    ['another execution environment', 'b'],
    ['the same process', 'a'],
  ])(
    'two invocations on one partition, the second in %s: it finds the partition leased and its records in progress, until the first closes',
    async (_, second) => {
      // GIVEN one invocation that opened offsets 0..9
      const topic = topicName('race');
      const store = new DynamoDbRangeStore({ tableName, client, container: 'a' });
      const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 10)));
      const a = await store.open(entries(records), soon());
      // WHEN a second invocation opens the same records before the first completes them
      const b = await new DynamoDbRangeStore({ tableName, client, container: second }).open(entries(records), soon());
      // THEN all of them are in progress for the second, and none is done
      expect(b.inProgress.size).toBe(10);
      expect(b.done.size).toBe(0);
      await b.close();
      // AND once the first completed and closed, a third invocation finds them done, none in progress
      await a.complete(completions(records));
      await a.close();
      const c = await store.open(entries(records), soon());
      expect(c.done.size).toBe(10);
      expect(c.inProgress.size).toBe(0);
      await c.close();
    },
  );

  test('a lease outlived by its invocation passes to the next one, and the late completion fails with IdempotencyLeaseLostError', async () => {
    // GIVEN an invocation whose lease ends in 1 s and that never closes (killed)
    const topic = topicName('expired');
    const store = new DynamoDbRangeStore({ tableName, client });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 1, 0, 3)));
    const crashed = await store.open(entries(records), Date.now() + 1_000);
    // WHEN another invocation, in another execution environment, comes after that deadline and the clock skew the lease allows (5 s)
    const later = new DynamoDbRangeStore({ tableName, client, now: () => Date.now() + 7_000, container: randomUUID() });
    const next = await later.open(entries(records), soon());
    // THEN it holds the partition: nothing in progress
    expect(next.inProgress.size).toBe(0);
    // AND the crashed invocation can no longer record anything
    await expect(crashed.complete(completions(records))).rejects.toThrow(IdempotencyLeaseLostError);
    await expect(crashed.complete(completions(records))).rejects.toThrow(`${topic}-1@0`);
    await next.complete(completions(records, 'dropped'));
    await next.close();
  });

  test('a lease its invocation could not release is taken over by the next invocation in the same execution environment, not by another', async () => {
    // GIVEN a lease left for another minute by an earlier invocation of execution environment "left" (DynamoDB was
    // unreachable when it ended)
    const topic = topicName('left');
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 3)));
    await client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: {
          id: { S: `${topic}#0` },
          lease: { M: { owner: { S: 'gone' }, container: { S: 'left' }, until: { N: String(soon()) } } },
        },
      }),
    );
    // WHEN another environment, then "left" itself, open the partition
    const other = await new DynamoDbRangeStore({ tableName, client, container: 'other' }).open(entries(records), soon());
    const same = await new DynamoDbRangeStore({ tableName, client, container: 'left' }).open(entries(records), soon());
    // THEN the other finds it in progress; the same environment takes it
    expect(other.inProgress.size).toBe(3);
    expect(same.inProgress.size).toBe(0);
    await same.complete(completions(records));
    await same.close();
    await other.close();
  });

  test('ranges older than the TTL are forgotten, and every item carries the TTL attribute', async () => {
    // GIVEN records done with a TTL of 60 s
    const topic = topicName('ttl');
    const store = new DynamoDbRangeStore({ tableName, client, ttlSeconds: 60 });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 2)));
    const before = Math.floor(Date.now() / 1000);
    const s = await store.open(entries(records), soon());
    await s.complete(completions(records));
    await s.close();
    for (const id of await itemsOf(topic)) {
      const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: id } } }));
      expect(Number(Item!.expiration.N) - before).toBeGreaterThanOrEqual(60);
      expect(Number(Item!.expiration.N) - before).toBeLessThan(200);
    }
    // WHEN they are delivered again 61 s later, before DynamoDB's TTL deleted the item
    const later = new DynamoDbRangeStore({ tableName, client, ttlSeconds: 60, now: () => Date.now() + 61_000 });
    const again = await later.open(entries(records), soon());
    // THEN they are not done; within the TTL they are
    expect(again.done.size).toBe(0);
    await again.close();
    expect((await store.open(entries(records), soon())).done.size).toBe(2);
  });

  test('Kinesis sequence numbers beyond 38 digits: a redelivery from the middle of a range finds the rest done', async () => {
    // GIVEN 20 records of a shard done in two invocations
    const stream = topicName('stream');
    const specs = Array.from({ length: 25 }, (_, i) => ({
      stream,
      shardId: 'shardId-000000000001',
      sequenceNumber: bigSequence(i * 7),
      value: { i },
    }));
    const records = decodeEvent(kinesisEvent(specs));
    expect(String(records[0].offset).length).toBeGreaterThan(38);
    const store = new DynamoDbRangeStore({ tableName, client });
    const s = await store.open(entries(records.slice(0, 20)), soon());
    await s.complete(completions(records.slice(0, 10)));
    await s.complete(completions(records.slice(10, 20)));
    await s.close();
    // WHEN records 5..24 are delivered again
    const again = await store.open(entries(records.slice(5)), soon());
    // THEN 5..19 are done with their results, 20..24 are not
    expect(again.done.size).toBe(15);
    expect(again.done.get(coordinatesKey(records[12]))?.result).toEqual({ r: records[12].offset });
    expect(again.done.has(coordinatesKey(records[20]))).toBe(false);
    await again.close();
  });

  test('a result too big to store is relay pending (not done) until relayed; then done without a result', async () => {
    // GIVEN two records whose results are over maxResultBytes, completed as pending before their relay
    const topic = topicName('pending');
    const store = new DynamoDbRangeStore({ tableName, client, maxResultBytes: 1_000 });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 3)));
    const big = 'x'.repeat(1_001);
    const s = await store.open(entries(records), soon());
    await s.complete(
      records.map((record, i) => ({
        key: coordinatesKey(record),
        record,
        outcome: 'responded',
        result: i === 0 ? 'small' : big,
        relayPending: i > 0,
      })),
    );
    // WHEN only offset 2 is confirmed relayed before the invocation ends
    await s.relayed([{ key: coordinatesKey(records[2]), record: records[2], outcome: 'responded', result: big }]);
    await s.close();
    const again = await store.open(entries(records), soon());
    // THEN offset 1 is pending (invoked again), offset 2 is done without a stored result, offset 0 with its result
    expect(again.done.get(`${topic}-0-0`)).toMatchObject({ result: 'small', resultOmitted: false, relayPending: false });
    expect(again.done.get(`${topic}-0-1`)).toMatchObject({ resultOmitted: true, relayPending: true });
    expect(again.done.get(`${topic}-0-2`)).toMatchObject({ resultOmitted: true, relayPending: false });
    await again.close();
  });

  test("results over one item's size go into more items, all read back", async () => {
    // GIVEN 10 records with 60 KB results each (600 KB: two items)
    const topic = topicName('big');
    const store = new DynamoDbRangeStore({ tableName, client });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 10)));
    const s = await store.open(entries(records), soon());
    await s.complete(completions(records, 'responded', (r) => `${r.offset}`.padEnd(60_000, '.')));
    await s.close();
    expect(await itemsOf(topic)).toHaveLength(3);
    // WHEN delivered again, THEN each result is read back whole
    const again = await store.open(entries(records), soon());
    expect(records.map((r) => (again.done.get(coordinatesKey(r))?.result as string).length)).toEqual(Array(10).fill(60_000));
    expect(again.done.get(`${topic}-0-7`)?.result).toMatch(/^7\.+$/);
    await again.close();
  });

  test('one event of 3,000 records in 3,000 invocations of alternating outcomes is kept whole, in an item under 2 KB', async () => {
    // GIVEN 3,000 invocations of one record each, outcomes alternating (an error path every other record)
    const topic = topicName('many');
    const store = new DynamoDbRangeStore({ tableName, client });
    const records = decodeEvent(kafkaEvent(partitionSpecs(topic, 0, 0, 3_000)));
    const s = await store.open(entries(records), soon());
    for (const r of records) await s.complete(completions([r], (r.offset as number) % 2 === 0 ? 'invoked' : 'logged'));
    await s.close();
    // WHEN the event is delivered again
    const again = await store.open(entries(records), soon());
    // THEN every record is done, and the item holding the partition's ranges is under 2 KB (handled failures keep
    // ranges of their own until the list reaches its size, then merge)
    expect(again.done.size).toBe(3_000);
    await again.close();
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: `${topic}#0` } } }));
    expect(itemBytes(Item!)).toBeLessThanOrEqual(2_048);
    // AND a redrive of a failed record (merged with its neighbours once the list outgrew its size) runs it again
    const redrive = await store.open(entries([records[1]]), soon(), [records[1]], { rerunFailed: true });
    expect(redrive.done.size).toBe(0);
    expect(redrive.inProgress.size).toBe(0);
    await redrive.close();
  }, 120_000);

  test('ranges of events with gaps between them stay within 1,800 bytes: the oldest are forgotten, the newest kept', async () => {
    // GIVEN 100 events of one record each, every other offset (the ones between never delivered: nothing to merge across)
    const topic = topicName('gapped');
    const store = new DynamoDbRangeStore({ tableName, client });
    const records = decodeEvent(
      kafkaEvent(Array.from({ length: 100 }, (_, i) => ({ topic, partition: 0, offset: 2 * i, value: { i } }))),
    );
    for (const r of records) {
      const s = await store.open(entries([r]), soon());
      await s.complete(completions([r], 'invoked'));
      await s.close();
    }
    // THEN the ranges take at most 1,800 bytes; the latest records are done, the first forgotten
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: `${topic}#0` } } }));
    expect(Buffer.byteLength(Item!.ranges.S!)).toBeLessThanOrEqual(1_800);
    const again = await store.open(entries(records), soon());
    expect(again.done.has(`${topic}-0-198`)).toBe(true);
    expect(again.done.has(`${topic}-0-0`)).toBe(false);
    expect(again.done.size).toBeGreaterThan(10);
    await again.close();
  }, 60_000);
});

import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import * as te from '../../../testenv';
import { decodeEvent, DynamoDbIdempotencyStore, coordinatesKey, jsonPointerKey, IdempotencyKeyError } from '../../../runtime';
import { createIdempotencyTable, kafkaEvent, partitionSpecs } from '../support';

jest.setTimeout(60_000);

describe('DynamoDbIdempotencyStore against DynamoDB Local', () => {
  const client = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  let tableName: string;
  beforeAll(async () => {
    tableName = await createIdempotencyTable(client);
  });
  afterAll(() => client.destroy());

  test('batched: 230 records written in 25-item requests are all found by 100-key reads, with their results', async () => {
    // GIVEN 230 records (more than 2 BatchGetItem and 9 BatchWriteItem requests)
    const store = new DynamoDbIdempotencyStore({ tableName, client });
    const records = decodeEvent(kafkaEvent(partitionSpecs('batched', 0, 0, 230)));
    const keys = records.map(coordinatesKey);
    expect(await store.getCompleted(keys)).toEqual(new Map());
    // WHEN the first 170 are completed with results
    await store.complete(
      records
        .slice(0, 170)
        .map((record) => ({ key: coordinatesKey(record), record, outcome: 'responded', result: { r: record.offset } })),
    );
    // THEN exactly those are done, each with its result
    const done = await store.getCompleted(keys);
    expect(done.size).toBe(170);
    expect(done.get('batched-0-169')).toEqual({
      outcome: 'responded',
      result: { r: 169 },
      resultOmitted: false,
      relayPending: false,
      topic: 'batched',
      partition: 0,
      offset: 169,
    });
    expect(done.has('batched-0-170')).toBe(false);
  });

  test('the item carries the TTL attribute (7 days by default) and the record coordinates', async () => {
    const store = new DynamoDbIdempotencyStore({ tableName, client });
    const [record] = decodeEvent(kafkaEvent(partitionSpecs('ttl', 3, 42, 1)));
    const before = Math.floor(Date.now() / 1000);
    await store.complete([{ key: 'ttl-3-42', record, outcome: 'dropped' }]);
    const { Item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: 'ttl-3-42' } } }));
    expect(Number(Item!.expiration.N) - before).toBeGreaterThanOrEqual(7 * 24 * 3600);
    expect(Number(Item!.expiration.N) - before).toBeLessThan(7 * 24 * 3600 + 60);
    expect(Item).toMatchObject({ topic: { S: 'ttl' }, partition: { N: '3' }, offset: { N: '42' }, outcome: { S: 'dropped' } });
  });

  test('a result over maxResultBytes is not stored; the record is still done', async () => {
    const store = new DynamoDbIdempotencyStore({ tableName, client, maxResultBytes: 1000 });
    const [small, big] = decodeEvent(kafkaEvent(partitionSpecs('cap', 0, 0, 2)));
    await store.complete([
      { key: 'cap-0', record: small, outcome: 'responded', result: 'x'.repeat(990) },
      { key: 'cap-1', record: big, outcome: 'responded', result: 'x'.repeat(1001) },
    ]);
    const done = await store.getCompleted(['cap-0', 'cap-1']);
    expect(done.get('cap-0')).toMatchObject({
      outcome: 'responded',
      result: 'x'.repeat(990),
      resultOmitted: false,
      relayPending: false,
    });
    expect(done.get('cap-1')).toMatchObject({
      outcome: 'responded',
      result: undefined,
      resultOmitted: true,
      relayPending: false,
    });
  });

  test('a result over maxResultBytes on its way to the response topic is relay pending: not done, and taken again by a strict acquire', async () => {
    // GIVEN a big result written as pending (before its relay), then a second one written pending and then relayed
    const store = new DynamoDbIdempotencyStore({ tableName, client, maxResultBytes: 1000 });
    const [lost, relayed] = decodeEvent(kafkaEvent(partitionSpecs('pending', 0, 0, 2)));
    const big = 'x'.repeat(1001);
    await store.complete([
      { key: 'pending-0', record: lost, outcome: 'responded', result: big, relayPending: true },
      { key: 'pending-1', record: relayed, outcome: 'responded', result: big, relayPending: true },
    ]);
    await store.complete([{ key: 'pending-1', record: relayed, outcome: 'responded', result: big }]);
    // THEN the first says its result was lost, the second is done
    const done = await store.getCompleted(['pending-0', 'pending-1']);
    expect(done.get('pending-0')).toMatchObject({ relayPending: true, resultOmitted: true });
    expect(done.get('pending-1')).toMatchObject({ relayPending: false, resultOmitted: true });
    // AND strict mode takes the lost one again (and says so), but not the relayed one
    expect(await store.acquire('pending-0', lost, Date.now() + 30_000)).toEqual({ state: 'acquired', lostResult: true });
    expect((await store.acquire('pending-1', relayed, Date.now() + 30_000)).state).toBe('completed');
  });

  test('strict: acquire, a second acquire sees in-progress, an expired lease is taken over, a completed key reports its result', async () => {
    const store = new DynamoDbIdempotencyStore({ tableName, client });
    const [record] = decodeEvent(kafkaEvent(partitionSpecs('strict', 0, 0, 1)));
    // GIVEN a key acquired until 30 s from now
    expect(await store.acquire('strict-a', record, Date.now() + 30_000)).toEqual({ state: 'acquired', lostResult: false });
    // WHEN another invocation tries THEN it is in progress
    expect(await store.acquire('strict-a', record, Date.now() + 30_000)).toEqual({ state: 'in-progress' });
    // GIVEN a lease that already expired (the invocation that held it timed out)
    expect(await store.acquire('strict-b', record, Date.now() - 1)).toEqual({ state: 'acquired', lostResult: false });
    // THEN it can be acquired again
    expect(await store.acquire('strict-b', record, Date.now() + 30_000)).toEqual({ state: 'acquired', lostResult: false });
    // GIVEN a completed key THEN acquire reports it done with the stored result, not in progress
    await store.complete([{ key: 'strict-a', record, outcome: 'responded', result: { ok: 1 } }]);
    expect(await store.acquire('strict-a', record, Date.now() + 30_000)).toEqual({
      state: 'completed',
      completed: {
        outcome: 'responded',
        result: { ok: 1 },
        resultOmitted: false,
        relayPending: false,
        topic: 'strict',
        partition: 0,
        offset: 0,
      },
    });
    // AND release removes only in-progress entries
    await store.release('strict-a');
    await store.release('strict-b');
    expect((await store.getCompleted(['strict-a'])).size).toBe(1);
    expect(await store.acquire('strict-b', record, Date.now() + 30_000)).toEqual({ state: 'acquired', lostResult: false });
  });

  test('jsonPointerKey derives a business key from the value; fails with IdempotencyKeyError naming the record', () => {
    const records = decodeEvent(
      kafkaEvent([
        { topic: 'orders', partition: 0, offset: 1, value: { order: { id: 'A/1' } } },
        { topic: 'orders', partition: 0, offset: 2, value: { order: {} } },
        { topic: 'orders', partition: 0, offset: 3, value: 'not json' },
      ]),
    );
    const keyOf = jsonPointerKey('/order/id');
    expect(keyOf(records[0])).toBe('A/1');
    expect(() => keyOf(records[1])).toThrow(IdempotencyKeyError);
    expect(() => keyOf(records[1])).toThrow(/orders-0@2: no idempotency key: \/order\/id is not in the value/);
    expect(() => keyOf(records[2])).toThrow(/orders-0@3: no idempotency key: the value is not JSON/);
  });
});

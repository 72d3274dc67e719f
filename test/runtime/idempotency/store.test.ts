import { BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { decodeEvent, DynamoDbIdempotencyStore } from '../../../runtime';
import { kafkaEvent, partitionSpecs } from '../support';

/**
 * DynamoDB Local never leaves keys or items unprocessed, so this stub client reaches the retry
 * branch: it answers the first request of each kind with everything unprocessed.
 */
function stubClient(log: string[]) {
  const seen = new Set<string>();
  return {
    send: async (command: unknown) => {
      if (command instanceof BatchGetItemCommand) {
        const req = command.input.RequestItems!.t;
        log.push(`get ${req.Keys!.length}`);
        if (!seen.has('get')) {
          seen.add('get');
          return { Responses: { t: [] }, UnprocessedKeys: { t: req } };
        }
        return { Responses: { t: req.Keys!.map((k) => ({ ...k, state: { S: 'COMPLETED' }, outcome: { S: 'invoked' } })) } };
      }
      if (command instanceof BatchWriteItemCommand) {
        const req = command.input.RequestItems!.t;
        log.push(`write ${req.length}`);
        if (!seen.has('write')) {
          seen.add('write');
          return { UnprocessedItems: { t: req.slice(1) } };
        }
        return {};
      }
      throw new Error('unexpected command');
    },
  } as unknown as DynamoDBClient;
}

describe('DynamoDbIdempotencyStore unprocessed keys and items', () => {
  test('retries unprocessed keys and items with backoff until done', async () => {
    const log: string[] = [];
    const store = new DynamoDbIdempotencyStore({ tableName: 't', client: stubClient(log), baseDelayMs: 1 });
    const done = await store.getCompleted(['a', 'b', 'a']);
    expect([...done.keys()].sort()).toEqual(['a', 'b']);
    const records = decodeEvent(kafkaEvent(partitionSpecs('t', 0, 0, 3)));
    await store.complete(records.map((record, i) => ({ key: `k${i}`, record, outcome: 'invoked' })));
    expect(log).toEqual(['get 2', 'get 2', 'write 3', 'write 2']);
  });

  test('fails when items stay unprocessed after maxAttempts', async () => {
    const client = {
      send: async (c: BatchWriteItemCommand) => ({ UnprocessedItems: c.input.RequestItems }),
    } as unknown as DynamoDBClient;
    const store = new DynamoDbIdempotencyStore({ tableName: 't', client, baseDelayMs: 1, maxAttempts: 3 });
    const [record] = decodeEvent(kafkaEvent(partitionSpecs('t', 0, 0, 1)));
    await expect(store.complete([{ key: 'k', record, outcome: 'invoked' }])).rejects.toThrow(
      /BatchWriteItem on t: 1 unprocessed after 3 attempts/,
    );
  });
});

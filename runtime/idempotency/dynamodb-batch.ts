/** BatchGetItem and BatchWriteItem over any number of keys and items, unprocessed ones retried with backoff and jitter. */
import type { AttributeValue, DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { forEachLimit } from '../concurrency';
import { backoffDelay, sleep } from '../retry';
import { dynamodbSdk } from '../sdk';

const BATCH_GET_LIMIT = 100;
const BATCH_WRITE_LIMIT = 25;
/** Batch requests in flight at once. */
const REQUESTS_IN_FLIGHT = 8;

export type Item = Record<string, AttributeValue>;

export interface BatchRetry {
  /** Attempts for unprocessed keys and items, including the first. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

async function backoff(table: string, retry: BatchRetry, attempt: number, operation: string, pending: number): Promise<void> {
  if (attempt >= retry.maxAttempts) {
    throw new Error(`DynamoDB ${operation} on ${table}: ${pending} unprocessed after ${retry.maxAttempts} attempts`);
  }
  await sleep(backoffDelay(attempt, retry.baseDelayMs, 2_000));
}

/** The items of these keys that exist, read consistently. */
export async function batchGet(client: DynamoDBClient, table: string, keys: readonly Item[], retry: BatchRetry): Promise<Item[]> {
  const found: Item[] = [];
  await forEachLimit(chunks(keys, BATCH_GET_LIMIT), REQUESTS_IN_FLIGHT, async (chunk) => {
    let pending: Item[] = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await backoff(table, retry, attempt, 'BatchGetItem', pending.length);
      const out = await client.send(
        new (dynamodbSdk().BatchGetItemCommand)({
          RequestItems: { [table]: { Keys: pending, ConsistentRead: true } },
        }),
      );
      found.push(...(out.Responses?.[table] ?? []));
      pending = out.UnprocessedKeys?.[table]?.Keys ?? [];
    }
  });
  return found;
}

/** Puts these items (their keys distinct). */
export async function batchPut(client: DynamoDBClient, table: string, items: readonly Item[], retry: BatchRetry): Promise<void> {
  const requests: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
  await forEachLimit(chunks(requests, BATCH_WRITE_LIMIT), REQUESTS_IN_FLIGHT, async (chunk) => {
    let pending = chunk;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > 0) await backoff(table, retry, attempt, 'BatchWriteItem', pending.length);
      const out = await client.send(new (dynamodbSdk().BatchWriteItemCommand)({ RequestItems: { [table]: pending } }));
      pending = out.UnprocessedItems?.[table] ?? [];
    }
  });
}

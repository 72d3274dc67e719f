import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SourceRecord } from '../dispatcher/source';
import { IdempotencyKeyError, RecordCoordinates } from '../errors';
import { batchGet, batchPut, BatchRetry } from './dynamodb-batch';
import { dynamodbSdk } from '../sdk';

import { DEFAULTS, IDEMPOTENCY_PARTITION_KEY, IDEMPOTENCY_TTL_ATTRIBUTE } from '../../contract/dispatcher-config';

/** Attribute names of the idempotency table, shared with the KafkaDispatcher construct that creates it. */
export { IDEMPOTENCY_PARTITION_KEY, IDEMPOTENCY_TTL_ATTRIBUTE };

/** Default time to live of a done record: 7 days, longer than any ESM retry of the same batch. */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = DEFAULTS.ttlSeconds;
/**
 * How long past an invocation's deadline what it holds stays held (a partition's lease, a result being relayed):
 * another execution environment whose clock runs ahead by up to this much still waits until the holder has ended.
 */
export const HOLD_CLOCK_SKEW_MS = 5_000;
/** Default cap of a stored result; a DynamoDB item holds at most 400 KB. */
export const DEFAULT_MAX_RESULT_BYTES = DEFAULTS.maxStoredResultBytes;

/** How a record ended: its result went to the response topic (or nowhere), its error was logged, or it was dropped. */
export type RecordOutcome = 'responded' | 'invoked' | 'logged' | 'dropped';

/** Whether the outcome is a failure the dispatcher handled (error topic or log, or dropped): a redrive runs it again. */
export const isHandledFailure = (outcome: RecordOutcome | undefined): boolean => outcome === 'logged' || outcome === 'dropped';

/** How a session or an acquire reads what is done. */
export interface ReadOptions {
  /**
   * Records whose failure was handled (outcome `logged` or `dropped`) are not done: a redrive runs them again.
   * @default false
   */
  readonly rerunFailed?: boolean;
}

/** What the store holds for a done record. */
export interface CompletedRecord {
  readonly outcome: RecordOutcome;
  /** The stored result; undefined when there was none or it was over maxResultBytes. */
  readonly result?: unknown;
  /** True when the result was not stored because of its size. */
  readonly resultOmitted: boolean;
  /**
   * True when the result was neither stored (over maxResultBytes) nor yet on the response topic: the record is
   * not done, and a retry invokes the target again.
   */
  readonly relayPending: boolean;
  /** The coordinates of the record the key was completed for (another record's when they share a custom key). */
  readonly topic?: string;
  readonly partition?: number | string;
  readonly offset?: number | string;
}

export interface CompletionEntry {
  readonly key: string;
  /** The record, or only its coordinates when the event's entry could not be decoded. */
  readonly record: RecordCoordinates;
  readonly outcome: RecordOutcome;
  readonly result?: unknown;
  /**
   * The result is on its way to the response topic: when it is too big to store, the item says so, so that a
   * retry after a failed relay invokes the target again instead of skipping the record. @default false
   */
  readonly relayPending?: boolean;
}

/** A record to look up, with its key. */
export interface IdempotencyEntry {
  readonly key: string;
  readonly record: RecordCoordinates;
}

/** What a store knows of one event's records, and how the event's outcomes are recorded. */
export interface IdempotencySession {
  /** The done records among the entries, by key. */
  readonly done: ReadonlyMap<string, CompletedRecord>;
  /** Keys another invocation is working on now: this one must not invoke them (retried later). */
  readonly inProgress: ReadonlySet<string>;
  /** Whether this result is stored with its record (not over maxResultBytes). */
  fits(result: unknown): boolean;
  /** Records these entries as done, with their results (size-capped). */
  complete(entries: readonly CompletionEntry[]): Promise<void>;
  /** Records that results too big to store, completed with relayPending, are on the response topic now. */
  relayed(entries: readonly CompletionEntry[]): Promise<void>;
  /**
   * Notes that these done records need nothing more (their results, if any, are on the response topic), so that
   * what the store keeps of them can shrink at its next write. @default - nothing to note
   */
  settle?(records: readonly RecordCoordinates[]): void;
  /** Gives up what the session holds; called once the event is handled. */
  close(): Promise<void>;
}

/** Strict mode: the answer to a conditional acquire. */
export type AcquireResult =
  /** lostResult: the key was completed before, but its result was neither stored nor relayed. */
  | { readonly state: 'acquired'; readonly lostResult: boolean }
  | { readonly state: 'completed'; readonly completed: CompletedRecord }
  | { readonly state: 'in-progress' };

/** Derives a record's idempotency key. */
export type IdempotencyKeyFunction = (record: SourceRecord) => string;

/**
 * Default key: topic-partition-offset, unique per record of a topic. For a Kinesis record:
 * stream-shardId-sequenceNumber (a sequence number is unique within its shard only).
 */
export function coordinatesKey(record: RecordCoordinates): string {
  return `${record.topic}-${record.partition}-${record.offset}`;
}

/**
 * Key from a field of the JSON value, addressed by a JSON pointer (RFC 6901, e.g. "/order/id"); the
 * field must be a string or a number. Throws IdempotencyKeyError naming the record otherwise.
 */
export function jsonPointerKey(pointer: string): IdempotencyKeyFunction {
  if (!pointer.startsWith('/'))
    throw new Error(`jsonPointerKey: ${JSON.stringify(pointer)} is not a JSON pointer; it must start with "/"`);
  const tokens = pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  return (record) => {
    const fail = (reason: string): never => {
      throw new IdempotencyKeyError(record.topic, record.partition, record.offset, reason);
    };
    let node: unknown;
    const decoded = record.decoded?.value;
    if (decoded !== undefined) {
      node = decoded.value; // decoded with its schema
    } else {
      const text = record.valueAsText(); // a Kafka record decodes its text without making the value's Buffer
      if (text === null) return fail('the value is null (tombstone)');
      try {
        node = JSON.parse(text);
      } catch {
        return fail('the value is not JSON');
      }
    }
    for (const token of tokens) {
      if (typeof node !== 'object' || node === null || !(token in node)) return fail(`${pointer} is not in the value`);
      node = (node as Record<string, unknown>)[token];
    }
    if (typeof node === 'string' && node.length > 0) return node;
    if (typeof node === 'number') return String(node);
    return fail(
      `${pointer} is ${node === null ? 'null' : Array.isArray(node) ? 'an array' : node === '' ? 'an empty string' : `a(n) ${typeof node}`}, not a non-empty string or a number`,
    );
  };
}

export interface DynamoDbIdempotencyStoreOptions {
  readonly tableName: string;
  /** @default a new DynamoDBClient from the environment */
  readonly client?: DynamoDBClient;
  /** @default DEFAULT_IDEMPOTENCY_TTL_SECONDS (7 days) */
  readonly ttlSeconds?: number;
  /** @default DEFAULT_MAX_RESULT_BYTES (64 KiB) */
  readonly maxResultBytes?: number;
  /** Attempts for unprocessed keys and items, including the first. @default 8 */
  readonly maxAttempts?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
}

/**
 * The idempotency store in DynamoDB. Batched path: getCompleted (BatchGetItem, 100 keys a request)
 * and complete (BatchWriteItem, 25 items a request), unprocessed keys and items retried with backoff
 * and jitter. Strict path: acquire writes an in-progress item conditionally, so two concurrent
 * invocations cannot both invoke the target for the same key; the item expires with the invocation.
 */
export class DynamoDbIdempotencyStore {
  private clientInstance?: DynamoDBClient;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly maxResultBytes: number;
  private readonly retry: BatchRetry;

  constructor(options: DynamoDbIdempotencyStoreOptions) {
    this.clientInstance = options.client;
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS;
    this.maxResultBytes = options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    this.retry = { maxAttempts: options.maxAttempts ?? 8, baseDelayMs: options.baseDelayMs ?? 50 };
  }

  /** The done records among these keys (duplicates allowed). In-progress items are not done. */
  async getCompleted(keys: readonly string[]): Promise<Map<string, CompletedRecord>> {
    const items = await batchGet(
      this.client,
      this.tableName,
      [...new Set(keys)].map((k) => ({ [IDEMPOTENCY_PARTITION_KEY]: { S: k } })),
      this.retry,
    );
    const done = new Map<string, CompletedRecord>();
    for (const item of items) {
      const completed = toCompleted(item);
      if (completed !== undefined) done.set(item[IDEMPOTENCY_PARTITION_KEY].S!, completed);
    }
    return done;
  }

  /**
   * The event's session: one read for the event's keys (none in strict mode, which reads each as it takes it), a
   * write per completion. A result too big to store is held until leaseUntilMs while it is relayed.
   */
  async open(
    entries: readonly IdempotencyEntry[],
    leaseUntilMs = Date.now(),
    _delivered?: readonly RecordCoordinates[],
    options: ReadOptions = {},
  ): Promise<IdempotencySession> {
    const done = entries.length === 0 ? new Map<string, CompletedRecord>() : await this.getCompleted(entries.map((e) => e.key));
    if (options.rerunFailed) for (const [k, c] of done) if (isHandledFailure(c.outcome)) done.delete(k);
    const complete = (e: readonly CompletionEntry[]) => this.complete(e, leaseUntilMs + HOLD_CLOCK_SKEW_MS);
    return { done, inProgress: new Set(), fits: (r) => this.fits(r), complete, relayed: complete, close: async () => undefined };
  }

  /** Whether this result is stored with its record (not over maxResultBytes). */
  fits(result: unknown): boolean {
    return result === undefined || this.storable(result) !== undefined;
  }

  /** The result as stored: its JSON, or undefined when it is over maxResultBytes (or has no JSON). */
  private storable(result: unknown): string | undefined {
    const json = JSON.stringify(result);
    return json !== undefined && Buffer.byteLength(json) <= this.maxResultBytes ? json : undefined;
  }

  /**
   * Records these entries as done, with their results (size-capped). A result too big to store that is being
   * relayed holds its key until relayUntilMs (or its release): no other invocation takes it over meanwhile.
   */
  async complete(entries: readonly CompletionEntry[], relayUntilMs = Date.now()): Promise<void> {
    const byKey = new Map<string, CompletionEntry>();
    for (const e of entries) byKey.set(e.key, e); // BatchWriteItem rejects duplicate keys
    await batchPut(
      this.client,
      this.tableName,
      [...byKey.values()].map((e) => this.completedItem(e, relayUntilMs)),
      this.retry,
    );
  }

  /**
   * Strict mode: marks the key in progress until inProgressUntilMs (epoch ms; the invocation's
   * deadline) unless it is done, or in progress elsewhere and not yet expired.
   */
  async acquire(
    key: string,
    record: RecordCoordinates,
    inProgressUntilMs: number,
    options: ReadOptions = {},
  ): Promise<AcquireResult> {
    // A completed item whose result was lost (not stored, not relayed) is taken again once its relay is over: the
    // target runs again. A redrive takes a handled failure again.
    const rerun = options.rerunFailed ? ' OR (#state = :completed AND #outcome IN (:logged, :dropped))' : '';
    try {
      const out = await this.client.send(
        new (dynamodbSdk().PutItemCommand)({
          TableName: this.tableName,
          Item: {
            [IDEMPOTENCY_PARTITION_KEY]: { S: key },
            state: { S: 'IN_PROGRESS' },
            inProgressUntil: { N: String(inProgressUntilMs) },
            // DynamoDB's TTL must not delete the item while it is held: a short TTL would let another invocation in.
            [IDEMPOTENCY_TTL_ATTRIBUTE]: { N: String(Math.max(this.expiration(), Math.ceil(inProgressUntilMs / 1000) + 60)) },
            ...coordinates(record),
          },
          ConditionExpression:
            'attribute_not_exists(#id) OR (#state = :inProgress AND #until < :now) OR (#relayPending = :true AND (attribute_not_exists(#until) OR #until < :now))' +
            rerun,
          ExpressionAttributeNames: {
            '#id': IDEMPOTENCY_PARTITION_KEY,
            '#state': 'state',
            '#until': 'inProgressUntil',
            '#relayPending': 'relayPending',
            ...(rerun ? { '#outcome': 'outcome' } : {}),
          },
          ExpressionAttributeValues: {
            ':inProgress': { S: 'IN_PROGRESS' },
            ':now': { N: String(Date.now()) },
            ':true': { BOOL: true },
            ...(rerun ? { ':completed': { S: 'COMPLETED' }, ':logged': { S: 'logged' }, ':dropped': { S: 'dropped' } } : {}),
          },
          ReturnValues: 'ALL_OLD',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { state: 'acquired', lostResult: out.Attributes?.relayPending?.BOOL === true };
    } catch (e) {
      const err = e as { name?: string; Item?: Record<string, AttributeValue> };
      if (err.name !== 'ConditionalCheckFailedException') throw e;
      // A completed item whose result is being relayed by its holder is in progress until its relay ends.
      const completed = err.Item === undefined ? undefined : toCompleted(err.Item);
      return completed !== undefined && !completed.relayPending ? { state: 'completed', completed } : { state: 'in-progress' };
    }
  }

  /**
   * Strict mode: gives up an in-progress key, or a result's relay, after a failure, so the retry need not wait for it
   * to expire: the hold ends now.
   */
  async release(key: string): Promise<void> {
    await this.client
      .send(
        new (dynamodbSdk().UpdateItemCommand)({
          TableName: this.tableName,
          Key: { [IDEMPOTENCY_PARTITION_KEY]: { S: key } },
          UpdateExpression: 'SET #until = :ended',
          ConditionExpression: '#state = :inProgress OR #relayPending = :true',
          ExpressionAttributeNames: { '#state': 'state', '#until': 'inProgressUntil', '#relayPending': 'relayPending' },
          ExpressionAttributeValues: { ':inProgress': { S: 'IN_PROGRESS' }, ':true': { BOOL: true }, ':ended': { N: '0' } },
        }),
      )
      .catch((e: { name?: string }) => {
        if (e.name !== 'ConditionalCheckFailedException') throw e;
      });
  }

  private get client(): DynamoDBClient {
    return (this.clientInstance ??= new (dynamodbSdk().DynamoDBClient)({}));
  }

  private completedItem(e: CompletionEntry, relayUntilMs: number): Record<string, AttributeValue> {
    const item: Record<string, AttributeValue> = {
      [IDEMPOTENCY_PARTITION_KEY]: { S: e.key },
      state: { S: 'COMPLETED' },
      outcome: { S: e.outcome },
      [IDEMPOTENCY_TTL_ATTRIBUTE]: { N: String(this.expiration()) },
      ...coordinates(e.record),
    };
    if (e.result !== undefined) {
      const json = this.storable(e.result);
      if (json !== undefined) {
        item.result = { S: json };
      } else {
        item.resultOmitted = { BOOL: true };
        if (e.relayPending === true) {
          item.relayPending = { BOOL: true };
          item.inProgressUntil = { N: String(relayUntilMs) };
        }
      }
    }
    return item;
  }

  private expiration(): number {
    return Math.floor(Date.now() / 1000) + this.ttlSeconds;
  }
}

/**
 * The record's coordinates on its item, for people reading the table. Kafka: partition and offset as
 * numbers. Kinesis: shard id and sequence number as strings: a DynamoDB number holds 38 digits, a sequence
 * number has 56 or more.
 */
function coordinates(record: RecordCoordinates): Record<string, AttributeValue> {
  return {
    topic: { S: record.topic },
    partition: typeof record.partition === 'number' ? { N: String(record.partition) } : { S: record.partition },
    offset: typeof record.offset === 'number' ? { N: String(record.offset) } : { S: record.offset },
  };
}

function toCompleted(item: Record<string, AttributeValue>): CompletedRecord | undefined {
  if (item.state?.S !== 'COMPLETED') return undefined;
  return {
    outcome: (item.outcome?.S ?? 'responded') as RecordOutcome,
    result: item.result?.S === undefined ? undefined : JSON.parse(item.result.S),
    resultOmitted: item.resultOmitted?.BOOL === true,
    relayPending: item.relayPending?.BOOL === true,
    topic: item.topic?.S,
    partition: item.partition?.N !== undefined ? Number(item.partition.N) : item.partition?.S,
    offset: item.offset?.N !== undefined ? Number(item.offset.N) : item.offset?.S,
  };
}

/**
 * Idempotency kept per range of a partition: for records keyed by their coordinates, the store holds one item per
 * topic-partition (Kinesis: per shard) listing the ranges done, and one item of results per target invocation,
 * instead of an item per record. Within a partition the dispatcher handles records in offset order and the event
 * source mapping redelivers from the first unacknowledged offset, so what is done is a short list of ranges.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IDEMPOTENCY_PARTITION_KEY as ID, IDEMPOTENCY_TTL_ATTRIBUTE as TTL } from '../contract/dispatcher-config';
import { forEachLimit } from './concurrency';
import { batchGet, batchPut, BatchRetry, Item } from './dynamodb-batch';
import { IdempotencyLeaseLostError } from './errors';
import {
  CompletedRecord, CompletionEntry, DEFAULT_IDEMPOTENCY_TTL_SECONDS, DEFAULT_MAX_RESULT_BYTES, DynamoDbIdempotencyStoreOptions,
  IdempotencyEntry, IdempotencySession, RecordOutcome,
} from './idempotency';
import { dynamodbSdk } from './sdk';
import { comparePositions, Position, SourceRecord } from './source';

/**
 * The most the list of ranges of a partition may take; the oldest ranges go first. Rewritten at each completion,
 * it is billed by its size, so it is kept to a few write units: about 80 ranges, 8,000 records at 100 per invocation.
 */
const RANGES_BYTES = 4_096;
/** The most results one item holds (DynamoDB's limit is 400 KB an item); more go into further items. */
const RESULTS_ITEM_BYTES = 350_000;
/** Lease writes in flight at once. */
const LEASES_IN_FLIGHT = 8;
/** This execution environment, unless told otherwise. */
const CONTAINER = randomUUID();
/** The partitions (container, table and item) leased by sessions of this process now: never taken over. */
const HELD = new Set<string>();

/** A range of a partition done with one outcome: records first..last (inclusive) of one target invocation or error. */
interface Range {
  readonly f: Position;
  readonly l: Position;
  readonly o: RecordOutcome;
  /** When it was done, epoch seconds: it is forgotten after the TTL. */
  readonly t: number;
  /** Id and count of the items holding its results. */
  readonly k?: string;
  readonly r?: number;
  /** Records whose result was not stored (too big). */
  readonly x?: Position[];
  /** Records whose result was neither stored nor yet relayed: not done. */
  p?: Position[];
}

interface PartitionState {
  readonly headKey: string;
  readonly topic: string;
  readonly partition: number | string;
  /** Oldest first; a later range overrides an earlier one where they overlap (a record invoked again). */
  ranges: Range[];
  leased: boolean;
}

export interface DynamoDbRangeStoreOptions extends DynamoDbIdempotencyStoreOptions {
  /** The clock, epoch ms. @default Date.now */
  readonly now?: () => number;
  /**
   * The execution environment's id. Lambda runs one invocation at a time in one, so a lease it took in an earlier
   * invocation that could not release it (DynamoDB unreachable) is taken over at once, not waited out.
   * @default a random id per process
   */
  readonly container?: string;
}

/**
 * The idempotency store for records keyed by their coordinates (topic-partition-offset, stream-shard-sequence
 * number). An event reads one item per partition (BatchGetItem); a partition with records to invoke is leased to
 * the invocation with a conditional write, so two concurrent invocations on one partition (the mapping overlaps
 * them during rebalances and scaling) never both invoke a record; each target invocation writes one list of ranges
 * and one item of results; the lease is released at the end. A lease that could not be released is taken over
 * by the next invocation in the same execution environment, and by any other once the deadline it was taken for
 * has passed.
 */
export class DynamoDbRangeStore {
  private clientInstance?: DynamoDBClient;
  private readonly tableName: string;
  private readonly ttlSeconds: number;
  private readonly maxResultBytes: number;
  private readonly retry: BatchRetry;
  private readonly now: () => number;
  private readonly container: string;

  constructor(options: DynamoDbRangeStoreOptions) {
    this.clientInstance = options.client;
    this.tableName = options.tableName;
    this.ttlSeconds = options.ttlSeconds ?? DEFAULT_IDEMPOTENCY_TTL_SECONDS;
    this.maxResultBytes = options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES;
    this.retry = { maxAttempts: options.maxAttempts ?? 8, baseDelayMs: options.baseDelayMs ?? 50 };
    this.now = options.now ?? Date.now;
    this.container = options.container ?? CONTAINER;
  }

  /** Whether this result is stored with its record (not over maxResultBytes). */
  fits(result: unknown): boolean {
    return result === undefined || this.storable(result) !== undefined;
  }

  /**
   * Reads what is done of these records and leases each partition that has records to invoke until leaseUntilMs
   * (the invocation's deadline); the records of a partition leased elsewhere are in progress.
   */
  async open(entries: readonly IdempotencyEntry[], leaseUntilMs: number): Promise<IdempotencySession> {
    const owner = randomUUID();
    const states = new Map<string, PartitionState>();
    const byHead = new Map<string, IdempotencyEntry[]>();
    for (const e of entries) {
      const headKey = headKeyOf(e.record);
      if (!byHead.has(headKey)) {
        byHead.set(headKey, []);
        states.set(headKey, { headKey, topic: e.record.topic, partition: e.record.partition, ranges: [], leased: false });
      }
      byHead.get(headKey)!.push(e);
    }
    for (const item of await batchGet(this.client, this.tableName, [...byHead.keys()].map(key), this.retry)) {
      states.get(item[ID].S!)!.ranges = this.live(item);
    }
    const blocked = new Set<string>();
    const toLease = [...byHead].filter(([headKey, es]) => es.some((e) => !isDone(covering(states.get(headKey)!, e.record.offset), e.record.offset)));
    await forEachLimit(toLease, LEASES_IN_FLIGHT, async ([headKey]) => {
      if (!await this.lease(states.get(headKey)!, owner, leaseUntilMs)) blocked.add(headKey);
    });

    const done = new Map<string, CompletedRecord>();
    const inProgress = new Set<string>();
    const withResults: Array<{ entry: IdempotencyEntry; range: Range }> = [];
    for (const [headKey, es] of byHead) {
      const state = states.get(headKey)!;
      for (const e of es) {
        const offset = e.record.offset;
        const range = covering(state, offset);
        if (range === undefined || !isDone(range, offset)) {
          if (blocked.has(headKey)) inProgress.add(e.key);
          if (range === undefined) continue;
        }
        if (range.o === 'responded' && range.r !== undefined && !has(range.x, offset)) withResults.push({ entry: e, range });
        else done.set(e.key, completedRecord(range, e.record));
      }
    }
    await this.readResults(withResults, done);
    return {
      done,
      inProgress,
      fits: (r) => this.fits(r),
      complete: (es) => this.complete(states, owner, leaseUntilMs, es),
      relayed: (es) => this.relayed(states, owner, es),
      close: () => this.releaseLeases(states, owner),
    };
  }

  /** Records these entries (of one invocation or error, consecutive records of the event) as a range. */
  private async complete(states: Map<string, PartitionState>, owner: string, leaseUntilMs: number, entries: readonly CompletionEntry[]): Promise<void> {
    for (const [headKey, es] of groupByHead(entries)) {
      let state = states.get(headKey);
      if (state === undefined) {
        const { topic, partition } = es[0].record;
        states.set(headKey, state = { headKey, topic, partition, ranges: [], leased: false });
      }
      if (!state.leased && !await this.lease(state, owner, leaseUntilMs)) {
        throw new IdempotencyLeaseLostError(state.topic, state.partition, es[0].record.offset);
      }
      const sorted = [...es].sort((a, b) => comparePositions(a.record.offset, b.record.offset));
      const outcome = sorted[0].outcome;
      if (sorted.some((e) => e.outcome !== outcome)) throw new Error('DynamoDbRangeStore.complete: one range, one outcome');
      const x: Position[] = [];
      const p: Position[] = [];
      const results: string[] = [];
      for (const e of sorted) {
        if (e.result === undefined) continue;
        const json = this.storable(e.result);
        if (json !== undefined) results.push(`${JSON.stringify(String(e.record.offset))}:${json}`);
        else {
          x.push(e.record.offset);
          if (e.relayPending === true) p.push(e.record.offset);
        }
      }
      const items = chunkResults(results);
      const k = items.length > 0 ? randomUUID().slice(0, 8) : undefined;
      if (k !== undefined) {
        const expiration = this.expiration();
        await batchPut(this.client, this.tableName, items.map((body, i) => ({
          ...key(resultsKey(headKey, k, i)), results: { S: `{${body}}` }, [TTL]: { N: String(expiration) },
        })), this.retry);
      }
      state.ranges.push({
        f: sorted[0].record.offset, l: sorted[sorted.length - 1].record.offset, o: outcome, t: this.nowSeconds(),
        ...(k !== undefined ? { k, r: items.length } : {}), ...(x.length > 0 ? { x } : {}), ...(p.length > 0 ? { p } : {}),
      });
      await this.writeRanges(state, owner);
    }
  }

  /** These records' results, too big to store, are on the response topic now: they are done. */
  private async relayed(states: Map<string, PartitionState>, owner: string, entries: readonly CompletionEntry[]): Promise<void> {
    for (const [headKey, es] of groupByHead(entries)) {
      const state = states.get(headKey);
      if (state === undefined) continue;
      for (const e of es) {
        const range = covering(state, e.record.offset);
        if (range?.p !== undefined) range.p = range.p.filter((o) => String(o) !== String(e.record.offset));
      }
      await this.writeRanges(state, owner);
    }
  }

  private async writeRanges(state: PartitionState, owner: string): Promise<void> {
    const now = this.nowSeconds();
    state.ranges = state.ranges.filter((r) => r.t + this.ttlSeconds > now);
    while (state.ranges.length > 1 && JSON.stringify(state.ranges).length > RANGES_BYTES) state.ranges.shift();
    try {
      await this.client.send(new (dynamodbSdk().UpdateItemCommand)({
        TableName: this.tableName,
        Key: key(state.headKey),
        UpdateExpression: 'SET #ranges = :ranges, #ttl = :ttl',
        ConditionExpression: '#lease.#owner = :owner',
        ExpressionAttributeNames: { '#ranges': 'ranges', '#ttl': TTL, '#lease': 'lease', '#owner': 'owner' },
        ExpressionAttributeValues: { ':ranges': { S: JSON.stringify(state.ranges) }, ':ttl': { N: String(this.expiration()) }, ':owner': { S: owner } },
      }));
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      state.leased = false;
      HELD.delete(this.heldKey(state));
      const last = state.ranges[state.ranges.length - 1];
      throw new IdempotencyLeaseLostError(state.topic, state.partition, last?.f ?? 0);
    }
  }

  /** Takes the partition unless another invocation holds it; the ranges are read again with the lease. */
  private async lease(state: PartitionState, owner: string, untilMs: number): Promise<boolean> {
    const held = this.heldKey(state);
    if (HELD.has(held)) return false;
    try {
      const out = await this.client.send(new (dynamodbSdk().UpdateItemCommand)({
        TableName: this.tableName,
        Key: key(state.headKey),
        UpdateExpression: 'SET #lease = :lease, #ttl = :ttl, #topic = :topic, #partition = :partition',
        ConditionExpression: 'attribute_not_exists(#lease) OR #lease.#until < :now OR #lease.#container = :container',
        ExpressionAttributeNames: { '#lease': 'lease', '#until': 'until', '#container': 'container', '#ttl': TTL, '#topic': 'topic', '#partition': 'partition' },
        ExpressionAttributeValues: {
          ':lease': { M: { owner: { S: owner }, container: { S: this.container }, until: { N: String(untilMs) } } },
          ':container': { S: this.container },
          ':now': { N: String(this.now()) },
          // The item outlives its lease, whatever the TTL.
          ':ttl': { N: String(Math.max(this.expiration(), Math.ceil(untilMs / 1000) + 60)) },
          ':topic': { S: state.topic },
          ':partition': typeof state.partition === 'number' ? { N: String(state.partition) } : { S: state.partition },
        },
        ReturnValues: 'ALL_NEW',
      }));
      state.ranges = this.live(out.Attributes ?? {});
      state.leased = true;
      HELD.add(held);
      return true;
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      return false;
    }
  }

  private async releaseLeases(states: Map<string, PartitionState>, owner: string): Promise<void> {
    await forEachLimit([...states.values()].filter((s) => s.leased), LEASES_IN_FLIGHT, async (state) => {
      // Whether or not the write below succeeds, this process no longer works on the partition.
      HELD.delete(this.heldKey(state));
      state.leased = false;
      await this.client.send(new (dynamodbSdk().UpdateItemCommand)({
        TableName: this.tableName,
        Key: key(state.headKey),
        UpdateExpression: 'REMOVE #lease',
        ConditionExpression: '#lease.#owner = :owner',
        ExpressionAttributeNames: { '#lease': 'lease', '#owner': 'owner' },
        ExpressionAttributeValues: { ':owner': { S: owner } },
      })).catch((e: { name?: string }) => {
        if (e.name !== 'ConditionalCheckFailedException') throw e;
      });
    });
  }

  /** The stored results of done records, read only when a record is delivered again. */
  private async readResults(wanted: ReadonlyArray<{ entry: IdempotencyEntry; range: Range }>, done: Map<string, CompletedRecord>): Promise<void> {
    const keys = new Set<string>();
    for (const { entry, range } of wanted) for (let i = 0; i < range.r!; i++) keys.add(resultsKey(headKeyOf(entry.record), range.k!, i));
    const results = new Map<string, unknown>();
    for (const item of await batchGet(this.client, this.tableName, [...keys].map(key), this.retry)) {
      const [headKey, k] = splitResultsKey(item[ID].S!);
      for (const [offset, result] of Object.entries(JSON.parse(item.results?.S ?? '{}'))) results.set(`${headKey}#${k}@${offset}`, result);
    }
    for (const { entry, range } of wanted) {
      const found = `${headKeyOf(entry.record)}#${range.k}@${entry.record.offset}`;
      // A result that is no longer there (its item expired) cannot be relayed again.
      done.set(entry.key, results.has(found)
        ? { ...completedRecord(range, entry.record), result: results.get(found) }
        : { ...completedRecord(range, entry.record), resultOmitted: true });
    }
  }

  private heldKey(state: PartitionState): string {
    return `${this.container}|${this.tableName}|${state.headKey}`;
  }

  private live(item: Item): Range[] {
    const now = this.nowSeconds();
    const ranges = item.ranges?.S === undefined ? [] : JSON.parse(item.ranges.S) as Range[];
    return ranges.filter((r) => r.t + this.ttlSeconds > now);
  }

  private storable(result: unknown): string | undefined {
    const json = JSON.stringify(result);
    return json !== undefined && Buffer.byteLength(json) <= this.maxResultBytes ? json : undefined;
  }

  private nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }

  private expiration(): number {
    return this.nowSeconds() + this.ttlSeconds;
  }

  private get client(): DynamoDBClient {
    return (this.clientInstance ??= new (dynamodbSdk().DynamoDBClient)({}));
  }
}

/** "#" is in no topic name, stream name or per-record key, so these items never meet another's. */
function headKeyOf(record: SourceRecord): string {
  return `${record.topic}#${record.partition}`;
}

function resultsKey(headKey: string, k: string, i: number): string {
  return `${headKey}#${k}#${i}`;
}

function splitResultsKey(id: string): [string, string] {
  const parts = id.split('#');
  return [parts.slice(0, -2).join('#'), parts[parts.length - 2]];
}

const key = (id: string): Item => ({ [ID]: { S: id } });

function groupByHead(entries: readonly CompletionEntry[]): Map<string, CompletionEntry[]> {
  const out = new Map<string, CompletionEntry[]>();
  for (const e of entries) {
    const k = headKeyOf(e.record);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(e);
  }
  return out;
}

/** The latest range holding this position. */
function covering(state: PartitionState, offset: Position): Range | undefined {
  for (let i = state.ranges.length - 1; i >= 0; i--) {
    const r = state.ranges[i];
    if (comparePositions(r.f, offset) <= 0 && comparePositions(offset, r.l) <= 0) return r;
  }
  return undefined;
}

const has = (xs: readonly Position[] | undefined, offset: Position): boolean => xs?.some((x) => String(x) === String(offset)) === true;

/** Done: in a range, and its result stored or relayed. */
function isDone(range: Range | undefined, offset: Position): boolean {
  return range !== undefined && !has(range.p, offset);
}

function completedRecord(range: Range, record: SourceRecord): CompletedRecord {
  return {
    outcome: range.o,
    resultOmitted: has(range.x, record.offset),
    relayPending: has(range.p, record.offset),
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
  };
}

/** Results ("offset":json pairs) in as few items as fit. */
function chunkResults(results: readonly string[]): string[] {
  const items: string[] = [];
  let current: string[] = [];
  let size = 0;
  for (const r of results) {
    const bytes = Buffer.byteLength(r) + 1;
    if (current.length > 0 && size + bytes > RESULTS_ITEM_BYTES) {
      items.push(current.join(','));
      current = [];
      size = 0;
    }
    current.push(r);
    size += bytes;
  }
  if (current.length > 0) items.push(current.join(','));
  return items;
}

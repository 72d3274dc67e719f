/**
 * Idempotency kept per range of a partition: for records keyed by their coordinates, the store holds one item per
 * topic-partition (Kinesis: per shard) listing the ranges done, and one item of results per target invocation,
 * instead of an item per record. Within a partition the dispatcher handles records in offset order and the event
 * source mapping redelivers from the first unacknowledged offset, so what is done is a short list of ranges.
 */
import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IDEMPOTENCY_PARTITION_KEY as ID, IDEMPOTENCY_TTL_ATTRIBUTE as TTL } from '../../contract/dispatcher-config';
import { forEachLimit } from '../concurrency';
import { batchGet, batchPut, BatchRetry, Item } from './dynamodb-batch';
import { IdempotencyLeaseLostError, RecordCoordinates } from '../errors';
import {
  CompletedRecord,
  CompletionEntry,
  DEFAULT_IDEMPOTENCY_TTL_SECONDS,
  DEFAULT_MAX_RESULT_BYTES,
  DynamoDbIdempotencyStoreOptions,
  HOLD_CLOCK_SKEW_MS,
  IdempotencyEntry,
  IdempotencySession,
  isHandledFailure,
  ReadOptions,
} from './store';
import { dynamodbSdk } from '../sdk';
import { comparePositions, Position } from '../dispatcher/source';
import { decodeRanges, encodeRanges, Range } from './range-codec';

/**
 * The most the list of ranges of a partition may take, in bytes of JSON. Ranges done one after another in an event
 * merge into one once nothing of them is left to relay, so an event (a batch of up to 10,000 records, any routes, any
 * records per invocation) needs one range, plus one whose results are not yet relayed, and the events of a partition
 * whose offsets follow each other share one: such a partition's item stays far under 1 KB, so the lease, each range
 * write and the release bill one write unit each. Where successive events cannot merge (offset gaps between them,
 * Kinesis sequence numbers), each adds a range, and beyond this size the oldest ranges go that neither this session
 * wrote nor hold a record of its event: the item stays under 2 KB and keeps the last 12 (Kinesis) to 35 (Kafka) events.
 */
const RANGES_BYTES = 1_800;
/**
 * The most the list may take in a redrive's session. A redrive's event names records far apart, each run of adjacent
 * offsets a range of its own (each Kinesis record alone), which the session keeps: past this size its own oldest go,
 * so the item stays far under DynamoDB's 400 KB and each write under 64 write units (a repeated redrive of those
 * records runs them again). `cdk-kafka-lambda redrive` sends at most REDRIVE_EVENT_MAX_RECORDS in such an event.
 */
const REDRIVE_RANGES_BYTES = 64_000;
/** The most results one item holds (DynamoDB's limit is 400 KB an item); more go into further items. */
const RESULTS_ITEM_BYTES = 350_000;
/** Lease writes in flight at once. */
const LEASES_IN_FLIGHT = 8;
/** This execution environment, unless told otherwise. */
const CONTAINER = randomUUID();
/**
 * The partitions (container, table and item) leased, or being leased, by sessions of this process now, with the
 * session holding each: never taken over, and given up only by that session.
 */
const HELD = new Map<string, string>();

interface PartitionState {
  readonly headKey: string;
  readonly topic: string;
  readonly partition: number | string;
  /** Oldest first; a later range overrides an earlier one where they overlap (a record invoked again). */
  ranges: Range[];
  leased: boolean;
  /** A lease write whose outcome is unknown (it failed without an answer): released at the end all the same. */
  maybeLeased?: boolean;
  /** The event's positions of this partition in order, and the index of each. */
  order: readonly Position[];
  readonly index: Map<string, number>;
  /** Positions of the event whose records need nothing more: done, and their results relayed. */
  readonly settled: Set<string>;
  /** Ranges this session wrote: never evicted by it. */
  readonly touched: Set<Range>;
  /**
   * A redrive's event: its records are the failures chosen to run again, so what lies between two of them was
   * delivered before and is not theirs; only ranges whose positions are adjacent merge.
   */
  redrive: boolean;
  /** The ranges differ from what the item holds. */
  dirty: boolean;
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
   * (the invocation's deadline); the records of a partition leased elsewhere are in progress. delivered: every
   * position of the event (records that did not decode too), so that ranges consecutive in it merge. If it fails,
   * it gives up every lease it took before throwing. With rerunFailed (a redrive), records whose failure was handled
   * are not done: their partitions are leased and they run again.
   */
  async open(
    entries: readonly IdempotencyEntry[],
    leaseUntilMs: number,
    delivered: readonly RecordCoordinates[] = entries.map((e) => e.record),
    options: ReadOptions = {},
  ): Promise<IdempotencySession> {
    const owner = randomUUID();
    const states = new Map<string, PartitionState>();
    const rerun = options.rerunFailed === true;
    // A range without an outcome merged several: one of them may be a handled failure, which the redrive knows it is.
    const rerunAt = (range: Range | undefined): boolean =>
      rerun && range !== undefined && (range.outcome === undefined || isHandledFailure(range.outcome));
    const doneAt = (range: Range | undefined, offset: Position): boolean => isDone(range, offset) && !rerunAt(range);
    const byHead = new Map<string, IdempotencyEntry[]>();
    for (const e of entries) {
      const headKey = this.stateOf(states, e.record).headKey;
      if (!byHead.has(headKey)) byHead.set(headKey, []);
      byHead.get(headKey)!.push(e);
    }
    for (const [headKey, positions] of groupPositions(delivered)) {
      const state = states.get(headKey);
      if (state === undefined) continue;
      state.redrive = rerun;
      state.order = positions;
      positions.forEach((p, i) => state.index.set(String(p), i));
    }
    const until = leaseUntilMs + HOLD_CLOCK_SKEW_MS;
    try {
      for (const item of await batchGet(this.client, this.tableName, [...byHead.keys()].map(key), this.retry)) {
        states.get(item[ID].S!)!.ranges = this.live(item);
      }
      const blocked = new Set<string>();
      const toLease = [...byHead].filter(([headKey, es]) =>
        es.some((e) => !doneAt(covering(states.get(headKey)!, e.record.offset), e.record.offset)),
      );
      await forEachLimit(toLease, LEASES_IN_FLIGHT, async ([headKey]) => {
        if (!(await this.lease(states.get(headKey)!, owner, until))) blocked.add(headKey);
      });

      const done = new Map<string, CompletedRecord>();
      const inProgress = new Set<string>();
      const withResults: Array<{ entry: IdempotencyEntry; range: Range }> = [];
      for (const [headKey, es] of byHead) {
        const state = states.get(headKey)!;
        for (const e of es) {
          const offset = e.record.offset;
          const range = covering(state, offset);
          if (range === undefined || rerunAt(range) || !isDone(range, offset)) {
            if (blocked.has(headKey)) inProgress.add(e.key);
            if (range === undefined || rerunAt(range)) continue;
          }
          if (range.outcome === 'responded' && range.resultsId !== undefined && !has(range.unstored, offset))
            withResults.push({ entry: e, range });
          else done.set(e.key, completedRecord(range, e.record));
        }
      }
      await this.readResults(withResults, done);
      return {
        done,
        inProgress,
        fits: (r) => this.fits(r),
        complete: (es) => this.complete(states, owner, until, es),
        relayed: (es) => this.relayed(states, owner, es),
        settle: (records) => settle(states, records),
        close: () => this.releaseLeases(states, owner),
      };
    } catch (e) {
      await this.releaseLeases(states, owner).catch(() => undefined);
      throw e;
    }
  }

  private stateOf(states: Map<string, PartitionState>, record: RecordCoordinates): PartitionState {
    const headKey = headKeyOf(record);
    let state = states.get(headKey);
    if (state === undefined) {
      states.set(
        headKey,
        (state = {
          headKey,
          topic: record.topic,
          partition: record.partition,
          ranges: [],
          leased: false,
          order: [],
          index: new Map(),
          settled: new Set(),
          touched: new Set(),
          redrive: false,
          dirty: false,
        }),
      );
    }
    return state;
  }

  /** Records these entries (of one invocation or error, consecutive records of the event) as a range. */
  private async complete(
    states: Map<string, PartitionState>,
    owner: string,
    until: number,
    entries: readonly CompletionEntry[],
  ): Promise<void> {
    for (const [headKey, es] of groupByHead(entries)) {
      const state = states.get(headKey) ?? this.stateOf(states, es[0].record);
      if (!state.leased && !(await this.lease(state, owner, until))) {
        throw new IdempotencyLeaseLostError(state.topic, state.partition, es[0].record.offset);
      }
      const sorted = [...es].sort((a, b) => comparePositions(a.record.offset, b.record.offset));
      const outcome = sorted[0].outcome;
      if (sorted.some((e) => e.outcome !== outcome)) throw new Error('DynamoDbRangeStore.complete: one range, one outcome');
      const unstored: Position[] = [];
      const relayPending: Position[] = [];
      const results: string[] = [];
      for (const e of sorted) {
        if (e.result === undefined) continue;
        const json = this.storable(e.result);
        if (json !== undefined) results.push(`${JSON.stringify(String(e.record.offset))}:${json}`);
        else {
          unstored.push(e.record.offset);
          if (e.relayPending === true) relayPending.push(e.record.offset);
        }
      }
      const items = chunkResults(results);
      const resultsId = items.length > 0 ? randomUUID().slice(0, 8) : undefined;
      if (resultsId !== undefined) {
        const expiration = this.expiration();
        await batchPut(
          this.client,
          this.tableName,
          items.map((body, i) => ({
            ...key(resultsKey(headKey, resultsId, i)),
            results: { S: `{${body}}` },
            [TTL]: { N: String(expiration) },
          })),
          this.retry,
        );
      }
      for (const run of adjacentRuns(state, sorted)) {
        const holds = (xs: Position[]) => xs.filter((x) => run.some((e) => String(e.record.offset) === String(x)));
        const range: Range = {
          first: run[0].record.offset,
          last: run[run.length - 1].record.offset,
          outcome,
          doneAtSeconds: this.nowSeconds(),
          ...(resultsId !== undefined ? { resultsId, resultItems: items.length } : {}),
          ...(holds(unstored).length > 0 ? { unstored: holds(unstored) } : {}),
          ...(holds(relayPending).length > 0 ? { relayPending: holds(relayPending) } : {}),
        };
        state.ranges.push(range);
        state.touched.add(range);
      }
      // Without results to relay, the records need nothing more.
      if (outcome !== 'responded') for (const e of sorted) state.settled.add(String(e.record.offset));
      await this.writeRanges(state, owner);
    }
  }

  /** These records' results, too big to store, are on the response topic now: they are done. */
  private async relayed(states: Map<string, PartitionState>, owner: string, entries: readonly CompletionEntry[]): Promise<void> {
    settle(
      states,
      entries.map((e) => e.record),
    );
    for (const [headKey, es] of groupByHead(entries)) {
      const state = states.get(headKey);
      if (state === undefined) continue;
      for (const e of es) {
        const i = coveringIndex(state, e.record.offset);
        const range = state.ranges[i];
        if (range?.relayPending === undefined) continue;
        const relayPending = range.relayPending.filter((o) => String(o) !== String(e.record.offset));
        const { relayPending: _, ...rest } = range;
        state.ranges[i] = relayPending.length > 0 ? { ...rest, relayPending } : rest;
        if (state.touched.has(range)) state.touched.add(state.ranges[i]);
      }
      await this.writeRanges(state, owner);
    }
  }

  private async writeRanges(state: PartitionState, owner: string): Promise<void> {
    this.compact(state);
    try {
      await this.client.send(
        new (dynamodbSdk().UpdateItemCommand)({
          TableName: this.tableName,
          Key: key(state.headKey),
          UpdateExpression: 'SET #ranges = :ranges, #ttl = :ttl',
          ConditionExpression: '#lease.#owner = :owner',
          ExpressionAttributeNames: { '#ranges': 'ranges', '#ttl': TTL, '#lease': 'lease', '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':ranges': { S: encodeRanges(state.ranges) },
            ':ttl': { N: String(this.expiration()) },
            ':owner': { S: owner },
          },
        }),
      );
      state.dirty = false;
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') throw e;
      state.leased = false;
      this.unhold(state, owner);
      const last = state.ranges[state.ranges.length - 1];
      throw new IdempotencyLeaseLostError(state.topic, state.partition, last?.first ?? 0);
    }
  }

  /**
   * The live ranges, those needing nothing more without their results, each merged with the one before it when it
   * follows it in the event; with keepFailures, a handled failure merges only with a failure of its outcome.
   */
  private merge(state: PartitionState, keepFailures: boolean): Range[] {
    const now = this.nowSeconds();
    const out: Range[] = [];
    for (let range of state.ranges) {
      if (range.doneAtSeconds + this.ttlSeconds <= now) continue;
      const mine = state.touched.has(range);
      if (!plain(range) && settledWhole(state, range))
        range = {
          first: range.first,
          last: range.last,
          // Relayed, a responded range is an invoked one. It keeps an outcome: a range without one merged a handled
          // failure with other records, which a redrive runs again.
          ...(range.outcome === undefined ? {} : { outcome: range.outcome === 'responded' ? 'invoked' : range.outcome }),
          doneAtSeconds: range.doneAtSeconds,
        };
      const before = out[out.length - 1];
      const mergeable = (a: Range) => plain(a) && plain(range) && (!keepFailures || sameKind(a, range));
      if (before !== undefined && mergeable(before) && follows(state, range.first, before.last)) {
        const merged: Range = {
          first: before.first,
          last: range.last,
          ...(before.outcome === range.outcome ? { outcome: range.outcome } : {}),
          doneAtSeconds: Math.max(before.doneAtSeconds, range.doneAtSeconds),
        };
        out[out.length - 1] = merged;
        if (mine || state.touched.has(before)) state.touched.add(merged);
        continue;
      }
      if (mine) state.touched.add(range);
      out.push(range);
    }
    return out;
  }

  /**
   * Ranges whose records need nothing more lose their results and merge with a neighbour they follow in the event;
   * expired ranges go; beyond RANGES_BYTES, the oldest this session did not write go.
   */
  private compact(state: PartitionState): void {
    // Handled failures keep ranges of their own for a redrive while the list fits; beyond, they merge too.
    let out = this.merge(state, true);
    if (Buffer.byteLength(encodeRanges(out)) > RANGES_BYTES) out = this.merge(state, false);
    // A range inside a later one says nothing the later one does not.
    const kept = out.filter(
      (r, i) =>
        !out
          .slice(i + 1)
          .some((later) => comparePositions(later.first, r.first) <= 0 && comparePositions(r.last, later.last) <= 0),
    );
    // Beyond the size, the oldest ranges go that neither this session wrote nor hold a record of its event: first
    // those inside an earlier range (records run again, a redrive's), whose records the earlier range still holds;
    // the earlier range going first would forget its other records, which the mapping's redeliveries run again.
    const evictable = (r: Range) => !state.touched.has(r) && !holdsDelivered(state, r);
    let inner: Set<Range> | undefined;
    while (Buffer.byteLength(encodeRanges(kept)) > RANGES_BYTES) {
      inner ??= new Set(kept.filter((r, i) => kept.slice(0, i).some((e) => contains(e, r))));
      let oldest = kept.findIndex((r) => inner!.has(r) && evictable(r));
      if (oldest < 0) oldest = kept.findIndex(evictable);
      if (oldest < 0) break;
      kept.splice(oldest, 1);
    }
    if (state.redrive) evictOwnFragments(state, kept);
    out.splice(0, out.length, ...kept);
    state.dirty ||= encodeRanges(out) !== encodeRanges(state.ranges);
    state.ranges = out;
  }

  /** Takes the partition unless another invocation holds it; the ranges are read again with the lease. */
  private async lease(state: PartitionState, owner: string, untilMs: number): Promise<boolean> {
    const held = this.heldKey(state);
    // Checked and taken in one step: two sessions of this process never both write the lease.
    if (HELD.has(held)) return false;
    HELD.set(held, owner);
    try {
      const out = await this.client.send(
        new (dynamodbSdk().UpdateItemCommand)({
          TableName: this.tableName,
          Key: key(state.headKey),
          UpdateExpression: 'SET #lease = :lease, #ttl = :ttl, #topic = :topic, #partition = :partition',
          ConditionExpression: 'attribute_not_exists(#lease) OR #lease.#until < :now OR #lease.#container = :container',
          ExpressionAttributeNames: {
            '#lease': 'lease',
            '#until': 'until',
            '#container': 'container',
            '#ttl': TTL,
            '#topic': 'topic',
            '#partition': 'partition',
          },
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
        }),
      );
      state.ranges = this.live(out.Attributes ?? {});
      state.touched.clear();
      state.leased = true;
      return true;
    } catch (e) {
      if ((e as { name?: string }).name !== 'ConditionalCheckFailedException') {
        // The write may have landed: the partition stays held here until this session releases it.
        state.maybeLeased = true;
        throw e;
      }
      this.unhold(state, owner);
      return false;
    }
  }

  /** Gives up the leases, writing the ranges as they are now (merged once relayed) with the same write. */
  private async releaseLeases(states: Map<string, PartitionState>, owner: string): Promise<void> {
    await forEachLimit(
      [...states.values()].filter((s) => s.leased || s.maybeLeased),
      LEASES_IN_FLIGHT,
      async (state) => {
        // Whether or not the write below succeeds, this process no longer works on the partition.
        const leased = state.leased;
        this.unhold(state, owner);
        state.leased = false;
        state.maybeLeased = false;
        if (leased) this.compact(state);
        const ranges = leased && state.dirty;
        await this.client
          .send(
            new (dynamodbSdk().UpdateItemCommand)({
              TableName: this.tableName,
              Key: key(state.headKey),
              UpdateExpression: ranges ? 'SET #ranges = :ranges REMOVE #lease' : 'REMOVE #lease',
              ConditionExpression: '#lease.#owner = :owner',
              ExpressionAttributeNames: { '#lease': 'lease', '#owner': 'owner', ...(ranges ? { '#ranges': 'ranges' } : {}) },
              ExpressionAttributeValues: {
                ':owner': { S: owner },
                ...(ranges ? { ':ranges': { S: encodeRanges(state.ranges) } } : {}),
              },
            }),
          )
          .catch((e: { name?: string }) => {
            if (e.name !== 'ConditionalCheckFailedException') throw e;
          });
      },
    );
  }

  /** The stored results of done records, read only when a record is delivered again. */
  private async readResults(
    wanted: ReadonlyArray<{ entry: IdempotencyEntry; range: Range }>,
    done: Map<string, CompletedRecord>,
  ): Promise<void> {
    const keys = new Set<string>();
    for (const { entry, range } of wanted)
      for (let i = 0; i < range.resultItems!; i++) keys.add(resultsKey(headKeyOf(entry.record), range.resultsId!, i));
    const results = new Map<string, unknown>();
    for (const item of await batchGet(this.client, this.tableName, [...keys].map(key), this.retry)) {
      const [headKey, k] = splitResultsKey(item[ID].S!);
      for (const [offset, result] of Object.entries(JSON.parse(item.results?.S ?? '{}')))
        results.set(`${headKey}#${k}@${offset}`, result);
    }
    for (const { entry, range } of wanted) {
      const found = `${headKeyOf(entry.record)}#${range.resultsId}@${entry.record.offset}`;
      // A result that is no longer there (its item expired) cannot be relayed again.
      done.set(
        entry.key,
        results.has(found)
          ? { ...completedRecord(range, entry.record), result: results.get(found) }
          : { ...completedRecord(range, entry.record), resultOmitted: true },
      );
    }
  }

  private unhold(state: PartitionState, owner: string): void {
    const held = this.heldKey(state);
    if (HELD.get(held) === owner) HELD.delete(held);
  }

  private heldKey(state: PartitionState): string {
    return `${this.container}|${this.tableName}|${state.headKey}`;
  }

  private live(item: Item): Range[] {
    const now = this.nowSeconds();
    const ranges = item.ranges?.S === undefined ? [] : decodeRanges(item.ranges.S);
    return ranges.filter((r) => r.doneAtSeconds + this.ttlSeconds > now);
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
function headKeyOf(record: RecordCoordinates): string {
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

/** The event's positions per partition, in order. */
function groupPositions(delivered: readonly RecordCoordinates[]): Map<string, Position[]> {
  const out = new Map<string, Position[]>();
  for (const r of delivered) {
    const k = headKeyOf(r);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(r.offset);
  }
  for (const positions of out.values()) positions.sort(comparePositions);
  return out;
}

/** Marks these records of the event as needing nothing more. */
function settle(states: Map<string, PartitionState>, records: readonly RecordCoordinates[]): void {
  for (const r of records) states.get(headKeyOf(r))?.settled.add(String(r.offset));
}

/**
 * The entries (sorted) as the ranges they make: one, as the records of an invocation are consecutive in the event;
 * in a redrive's event, what lies between two of its records is not theirs, so one range per run of adjacent offsets
 * (a Kinesis record alone).
 */
function adjacentRuns(state: PartitionState, sorted: readonly CompletionEntry[]): CompletionEntry[][] {
  if (!state.redrive) return [[...sorted]];
  const runs: CompletionEntry[][] = [];
  for (const e of sorted) {
    const run = runs[runs.length - 1];
    const last = run?.[run.length - 1].record.offset;
    const next = e.record.offset;
    if (run !== undefined && typeof next === 'number' && typeof last === 'number' && next === last + 1) run.push(e);
    else runs.push([e]);
  }
  return runs;
}

/**
 * Whether two ranges may merge: handled failures only with failures of the same outcome, so that a redrive still
 * finds them after the ranges around them merged.
 */
const sameKind = (a: Range, b: Range): boolean =>
  isHandledFailure(a.outcome) || isHandledFailure(b.outcome) ? a.outcome === b.outcome : true;

/** A range with nothing left to relay: no results, and not responded (a responded range's results may be undefined). */
const plain = (r: Range): boolean =>
  r.outcome !== 'responded' && r.resultsId === undefined && r.unstored === undefined && r.relayPending === undefined;

/**
 * Whether position `next` comes right after `last`: the next Kafka offset, or the next record delivered in the event
 * (what lies between two records of one event was never delivered: compacted away or a transaction marker).
 */
function follows(state: PartitionState, next: Position, last: Position): boolean {
  if (state.redrive) return typeof next === 'number' && typeof last === 'number' && next === last + 1;
  if (typeof next === 'number' && typeof last === 'number') return next === last + 1 || previousInEvent(state, next) === last;
  return previousInEvent(state, next) !== undefined && String(previousInEvent(state, next)) === String(last);
}

function previousInEvent(state: PartitionState, position: Position): Position | undefined {
  const i = state.index.get(String(position));
  return i === undefined || i === 0 ? undefined : state.order[i - 1];
}

/** Past REDRIVE_RANGES_BYTES, this session's oldest plain ranges go, those inside an earlier range first. */
function evictOwnFragments(state: PartitionState, kept: Range[]): void {
  const own = (r: Range) => state.touched.has(r) && plain(r);
  while (Buffer.byteLength(encodeRanges(kept)) > REDRIVE_RANGES_BYTES) {
    let i = kept.findIndex((r, j) => own(r) && kept.slice(0, j).some((e) => contains(e, r)));
    if (i < 0) i = kept.findIndex(own);
    if (i < 0) return;
    kept.splice(i, 1);
  }
}

/** Whether range a holds every position of range b. */
const contains = (a: Range, b: Range): boolean =>
  comparePositions(a.first, b.first) <= 0 && comparePositions(b.last, a.last) <= 0;

/** Whether the range holds a position of the event. */
function holdsDelivered(state: PartitionState, range: Range): boolean {
  let lo = 0;
  let hi = state.order.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (comparePositions(state.order[mid], range.first) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo < state.order.length && comparePositions(state.order[lo], range.last) <= 0;
}

/** Every record of the range is in the event (its first and last are) and needs nothing more. */
function settledWhole(state: PartitionState, range: Range): boolean {
  const first = state.index.get(String(range.first));
  const last = state.index.get(String(range.last));
  if (first === undefined || last === undefined) return false;
  for (let i = first; i <= last; i++) if (!state.settled.has(String(state.order[i]))) return false;
  return true;
}

function groupByHead(entries: readonly CompletionEntry[]): Map<string, CompletionEntry[]> {
  const out = new Map<string, CompletionEntry[]>();
  for (const e of entries) {
    const k = headKeyOf(e.record);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(e);
  }
  return out;
}

/** The index of the latest range holding this position, or -1. */
function coveringIndex(state: PartitionState, offset: Position): number {
  for (let i = state.ranges.length - 1; i >= 0; i--) {
    const r = state.ranges[i];
    if (comparePositions(r.first, offset) <= 0 && comparePositions(offset, r.last) <= 0) return i;
  }
  return -1;
}

/** The latest range holding this position. */
function covering(state: PartitionState, offset: Position): Range | undefined {
  return state.ranges[coveringIndex(state, offset)];
}

const has = (xs: readonly Position[] | undefined, offset: Position): boolean =>
  xs?.some((x) => String(x) === String(offset)) === true;

/** Done: in a range, and its result stored or relayed. */
function isDone(range: Range | undefined, offset: Position): boolean {
  return range !== undefined && !has(range.relayPending, offset);
}

function completedRecord(range: Range, record: RecordCoordinates): CompletedRecord {
  return {
    // A range without an outcome merged records whose results, if any, were relayed: nothing is left to relay.
    outcome: range.outcome ?? 'invoked',
    resultOmitted: has(range.unstored, record.offset),
    relayPending: has(range.relayPending, record.offset),
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

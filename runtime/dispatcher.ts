import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DispatcherConfig, ErrorBehaviorName } from '../lib/private/dispatcher-config';
import {
  BatchFailedError, IdempotencyInProgressError, PayloadTooLargeError,
  RemainingTimeExhaustedError, TargetInvocationError,
} from './errors';
import {
  CompletedRecord, CompletionEntry, coordinatesKey, DynamoDbIdempotencyStore, IdempotencyKeyFunction, jsonPointerKey, RecordOutcome,
} from './idempotency';
import { forEachLimit } from './concurrency';
import { TargetInvoker } from './invoke';
import { JsonLogger, Logger } from './logger';
import { EmfMetrics } from './metrics';
import { ASYNC_PAYLOAD_LIMIT_BYTES, InvocationBatch, planBatches, RawEventEnvelope, SYNC_PAYLOAD_LIMIT_BYTES } from './payload';
import { ErrorItem, KafkaRelay } from './relay';
import { comparePositions, decodeSourceEvent, EventSourceKind, nextPosition, Position, SourceRecord } from './source';

/** The partial batch response of a Kafka event source mapping: per failed topic-partition, the offset to retry from. */
export interface KafkaBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: { readonly partition: string; readonly offset: number } }[];
}

/** The partial batch response of a Kinesis event source mapping (seed 003): the sequence numbers to retry from. */
export interface KinesisBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/** What the dispatcher returns: the partial batch response in the format of the event's source. */
export type DispatcherResponse = KafkaBatchResponse | KinesisBatchResponse;

/** The part of the Lambda context the dispatcher uses. */
export interface InvocationContext {
  getRemainingTimeInMillis(): number;
  readonly awsRequestId?: string;
}

export type ErrorBehavior = ErrorBehaviorName;

export interface DispatcherOptions {
  readonly invoker: TargetInvoker;
  /** fail: throw so the ESM retries (done records are skipped then); log: error topic, continue; drop: count, continue. @default 'fail' */
  readonly onError?: ErrorBehavior;
  /** Answer with batchItemFailures instead of throwing. @default false */
  readonly reportBatchItemFailures?: boolean;
  /** @default 100 */
  readonly batchSize?: number;
  /** Topic-partitions (Kinesis: shards) in parallel. @default 4 */
  readonly concurrency?: number;
  /** @default 6 MB for RequestResponse, 256 KB for Event */
  readonly maxPayloadBytes?: number;
  /** No invocation starts when less than this remains. @default 10000 */
  readonly timeMarginMs?: number;
  readonly store?: DynamoDbIdempotencyStore;
  /** @default 'batched' */
  readonly idempotencyMode?: 'batched' | 'strict';
  /** @default coordinatesKey (topic-partition-offset) */
  readonly keyOf?: IdempotencyKeyFunction;
  readonly relay?: KafkaRelay;
  readonly logger?: Logger;
  readonly metrics?: EmfMetrics;
}

/** AWS SDK clients the dispatcher creates from its configuration, injectable for tests. */
export interface DispatcherClients {
  readonly lambda?: LambdaClient;
  readonly dynamodb?: DynamoDBClient;
  readonly secretsManager?: SecretsManagerClient;
}

/** Conditional writes in flight per partition in strict mode. */
const STRICT_WRITES_IN_FLIGHT = 16;

type Work = { readonly offset: Position; readonly record?: SourceRecord; readonly key?: string; readonly error?: Error };

/** Per topic-partition (Kinesis: per shard) progress of one event. */
class PartitionRun {
  stopped = false;
  /** Offset (Kinesis: sequence number) the ESM must retry from (partial batch response), when the partition did not finish. */
  retryFrom?: Position;
  readonly errors: Error[] = [];
  readonly acquired = new Set<string>();
  constructor(
    /** "topic-partition", or "stream-shardId" for Kinesis. */
    public readonly topicPartition: string,
    public readonly topic: string,
    public readonly partition: number | string,
  ) {}

  stop(offset: Position, error: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.retryFrom = offset;
    this.errors.push(error);
  }
}

/**
 * The dispatcher: decode → skip done records → invoke the target → relay → mark done. Partitions run
 * in parallel up to a bound, in offset order within each. A Kinesis event is handled the same way with
 * shards as partitions and sequence numbers as offsets (see source.ts), and answered with Kinesis's
 * partial batch response.
 */
export class Dispatcher {
  /** Builds a dispatcher from the configuration the KafkaDispatcher construct writes. */
  static fromConfig(config: DispatcherConfig, clients: DispatcherClients = {}, logger: Logger = new JsonLogger()): Dispatcher {
    const metrics = new EmfMetrics();
    const t = config.target;
    const idem = config.idempotency;
    const relay = config.relay;
    return new Dispatcher({
      invoker: new TargetInvoker({
        functionName: t.functionName,
        invocationType: t.invocationType,
        payloadFormat: t.payloadFormat,
        maxAttempts: t.maxAttempts,
        baseDelayMs: t.baseDelayMs,
        maxDelayMs: t.maxDelayMs,
        client: clients.lambda,
        logger,
        metrics,
      }),
      onError: config.onError,
      reportBatchItemFailures: config.reportBatchItemFailures,
      batchSize: t.batchSize,
      concurrency: t.concurrency,
      timeMarginMs: config.timeMarginMs,
      store: idem === undefined ? undefined : new DynamoDbIdempotencyStore({
        tableName: idem.tableName,
        ttlSeconds: idem.ttlSeconds,
        maxResultBytes: idem.maxResultBytes,
        client: clients.dynamodb,
      }),
      idempotencyMode: idem?.mode,
      keyOf: idem?.keyPointer === undefined ? undefined : jsonPointerKey(idem.keyPointer),
      relay: relay === undefined ? undefined : new KafkaRelay({ ...relay, secretsClient: clients.secretsManager, logger }),
      logger,
      metrics,
    });
  }

  private readonly o: DispatcherOptions;
  private readonly logger: Logger;
  private readonly metrics: EmfMetrics;
  private readonly onError: ErrorBehavior;
  private readonly maxPayloadBytes: number;

  constructor(options: DispatcherOptions) {
    this.o = options;
    this.logger = options.logger ?? new JsonLogger();
    this.metrics = options.metrics ?? new EmfMetrics();
    this.onError = options.onError ?? 'fail';
    this.maxPayloadBytes = options.maxPayloadBytes
      ?? (options.invoker.invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT_BYTES : SYNC_PAYLOAD_LIMIT_BYTES);
  }

  /** The ESM target: processes the event and answers with a partial batch response, or throws BatchFailedError. */
  async handle(event: unknown, context: InvocationContext): Promise<DispatcherResponse> {
    if (context.awsRequestId !== undefined) this.logger.append({ function_request_id: context.awsRequestId });
    try {
      return await this.process(event, context);
    } finally {
      this.metrics.flush();
    }
  }

  private async process(event: unknown, context: InvocationContext): Promise<DispatcherResponse> {
    const margin = this.o.timeMarginMs ?? 10_000;
    // The deadline for starting work; a strict in-progress entry lives until the invocation's end.
    const end = Date.now() + context.getRemainingTimeInMillis();
    const deadline = end - margin;
    const { kind, records, failures, envelope } = decodeSourceEvent(event);
    this.metrics.add('RecordsIn', records.length + failures.length);

    // Work per topic-partition (shard), in the event's order, offsets (sequence numbers) increasing.
    const partitions = new Map<string, { run: PartitionRun; work: Work[] }>();
    const seenKeys = new Set<string>();
    const add = (topic: string, partition: number | string, w: Work) => {
      const tp = `${topic}-${partition}`;
      let p = partitions.get(tp);
      if (p === undefined) partitions.set(tp, p = { run: new PartitionRun(tp, topic, partition), work: [] });
      p.work.push(w);
    };
    const keyOf = this.o.keyOf ?? coordinatesKey;
    for (const record of records) {
      let key: string;
      try {
        key = keyOf(record);
      } catch (e) {
        add(record.topic, record.partition, { offset: record.offset, record, error: e as Error });
        continue;
      }
      if (seenKeys.has(key)) {
        // Same key earlier in this event: that record stands for this one.
        this.metrics.add('RecordsSkippedDuplicate');
        continue;
      }
      seenKeys.add(key);
      add(record.topic, record.partition, { offset: record.offset, record, key });
    }
    for (const f of failures) add(f.topic, f.partition, { offset: f.offset, error: f.error });
    for (const { work } of partitions.values()) work.sort((a, b) => comparePositions(a.offset, b.offset));

    const done = this.o.store !== undefined && this.o.idempotencyMode !== 'strict'
      ? await this.o.store.getCompleted([...seenKeys])
      : new Map<string, CompletedRecord>();

    const runs = [...partitions.values()];
    await forEachLimit(runs, this.o.concurrency ?? 4, ({ run, work }) => this.processPartition(run, work, done, deadline, end, envelope));

    const failed = runs.filter(({ run }) => run.stopped).map(({ run }) => run);
    if (failed.length === 0) return { batchItemFailures: [] };
    const errors = failed.flatMap((r) => r.errors);
    this.logger.error('records not processed; the event source mapping retries them', { errors, partitions: failed.map((r) => ({ partition: r.topicPartition, offset: r.retryFrom })) });
    if (this.o.reportBatchItemFailures) return partialBatchResponse(kind, failed);
    throw new BatchFailedError(errors);
  }

  private async processPartition(run: PartitionRun, work: Work[], done: Map<string, CompletedRecord>, deadline: number, end: number, envelope: RawEventEnvelope): Promise<void> {
    const store = this.o.store;
    const strict = store !== undefined && this.o.idempotencyMode === 'strict';
    const inProgress = new Set<string>();
    try {
      if (strict) {
        await forEachLimit(work, STRICT_WRITES_IN_FLIGHT, async (w) => {
          if (w.key === undefined) return;
          const r = await store.acquire(w.key, w.record!, end);
          if (r.state === 'acquired') run.acquired.add(w.key);
          else if (r.state === 'completed') done.set(w.key, r.completed);
          else inProgress.add(w.key);
        });
      }
      let pending: SourceRecord[] = [];
      const reRelay: { record: SourceRecord; result: unknown }[] = [];
      for (const w of work) {
        if (run.stopped) break;
        if (w.error !== undefined) {
          await this.invokeRun(run, pending, deadline, envelope);
          pending = [];
          if (!run.stopped) await this.recordFailure(run, w.error, w.record ? [w.record] : [], w.offset, nextPosition(w.offset), w.record ? JSON.stringify(w.record.raw) : undefined);
          continue;
        }
        const stored = done.get(w.key!);
        if (stored !== undefined) {
          this.metrics.add('RecordsSkippedDuplicate');
          if (stored.outcome === 'responded' && stored.result !== undefined) reRelay.push({ record: w.record!, result: stored.result });
          continue;
        }
        if (inProgress.has(w.key!)) {
          await this.invokeRun(run, pending, deadline, envelope);
          pending = [];
          run.stop(w.offset, new IdempotencyInProgressError(w.record!.topic, w.record!.partition, w.offset, w.key!));
          break;
        }
        pending.push(w.record!);
      }
      await this.invokeRun(run, pending, deadline, envelope);
      if (reRelay.length > 0 && this.o.relay !== undefined) {
        // Results stored by an earlier attempt: relayed again, the target is not invoked again.
        await this.relayOrStop(run, reRelay[0].record.offset, () => this.o.relay!.sendResponses(reRelay));
      }
    } catch (e) {
      // Infrastructure failures (DynamoDB, Secrets Manager): the partition is retried by the ESM.
      run.stop(work[0]?.offset ?? 0, e as Error);
    } finally {
      if (strict && run.acquired.size > 0) {
        await forEachLimit([...run.acquired], STRICT_WRITES_IN_FLIGHT, (k) => store.release(k).catch((e) => this.logger.warn('releasing an idempotency key failed', { key: k, error: e })));
      }
    }
  }

  /** Invokes the target for consecutive not-done records of one partition, in batches. */
  private async invokeRun(run: PartitionRun, records: SourceRecord[], deadline: number, envelope: RawEventEnvelope): Promise<void> {
    if (records.length === 0 || run.stopped) return;
    const invoker = this.o.invoker;
    const plan = planBatches(records, invoker.payloadFormat, this.o.batchSize ?? 100, this.maxPayloadBytes, envelope);
    for (const step of plan) {
      if (run.stopped) return;
      if (step instanceof PayloadTooLargeError) {
        const record = records.find((r) => r.offset === step.offset)!;
        await this.recordFailure(run, step, [record], step.offset, nextPosition(step.offset), undefined, {
          statusCode: 413, functionError: 'RequestEntityTooLargeException', payload: JSON.stringify({ errorType: step.name, errorMessage: step.message }),
        });
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        run.stop(step.records[0].offset, new RemainingTimeExhaustedError(remaining + (this.o.timeMarginMs ?? 10_000), this.o.timeMarginMs ?? 10_000));
        return;
      }
      let results: readonly unknown[];
      try {
        this.metrics.add('RecordsInvoked', step.records.length);
        results = await invoker.invoke(step, deadline);
      } catch (e) {
        if (!(e instanceof TargetInvocationError)) throw e;
        await this.recordFailure(run, e, step.records, e.startOffset, e.endOffset, step.payload, e.details);
        continue;
      }
      await this.succeeded(run, step, results);
    }
  }

  private async succeeded(run: PartitionRun, batch: InvocationBatch, results: readonly unknown[]): Promise<void> {
    const relay = this.o.relay;
    const responding = invokerIsSync(this.o.invoker) && relay?.responseTopic !== undefined;
    // Stored before relaying: if the relay fails, the retry re-relays the stored results without invoking again.
    await this.complete(run, batch.records, responding ? 'responded' : 'invoked', results);
    if (responding) {
      await this.relayOrStop(run, batch.records[0].offset, () => relay!.sendResponses(batch.records.map((record, i) => ({ record, result: results[i] }))));
      if (!run.stopped) this.metrics.add('RecordsResponded', batch.records.length);
    }
  }

  /**
   * A failure of records [startOffset, endOffset) (Kinesis: sequence numbers): with fail the partition stops here (retried by the
   * ESM); with log it goes to the error topic (or the log) and the records are marked done; with drop
   * it is counted and the records are marked done.
   */
  private async recordFailure(
    run: PartitionRun, error: Error, records: readonly SourceRecord[], startOffset: Position, endOffset: Position,
    inputPayload?: string, details?: TargetInvocationError['details'],
  ): Promise<void> {
    const { topic, partition } = run;
    const count = Math.max(records.length, 1);
    if (this.onError === 'fail') {
      this.metrics.add('RecordsFailed', count);
      run.stop(startOffset, error);
      return;
    }
    if (this.onError === 'drop') {
      this.metrics.add('RecordsDropped', count);
      this.logger.warn('dropped records after an error', { error, topic, partition, startOffset, endOffset });
      await this.complete(run, records, 'dropped');
      return;
    }
    this.metrics.add('RecordsFailed', count);
    const item: ErrorItem = {
      topic, partition, startOffset, endOffset,
      functionName: this.o.invoker.functionName,
      inputPayload,
      details: details ?? { statusCode: 0, functionError: error.name, payload: JSON.stringify({ errorType: error.name, errorMessage: error.message }) },
    };
    this.logger.error('records failed', { error, topic, partition, startOffset, endOffset, errorTopic: this.o.relay?.errorTopic });
    if (this.o.relay?.errorTopic !== undefined) {
      await this.relayOrStop(run, startOffset, () => this.o.relay!.sendErrors([item]));
      if (run.stopped) return;
    }
    await this.complete(run, records, 'logged');
  }

  private async relayOrStop(run: PartitionRun, offset: Position, send: () => Promise<void>): Promise<void> {
    try {
      await send();
    } catch (e) {
      run.stop(offset, e as Error);
    }
  }

  private async complete(run: PartitionRun, records: readonly SourceRecord[], outcome: RecordOutcome, results?: readonly unknown[]): Promise<void> {
    const store = this.o.store;
    if (store === undefined || records.length === 0) return;
    const keyOf = this.o.keyOf ?? coordinatesKey;
    const entries: CompletionEntry[] = [];
    records.forEach((record, i) => {
      // A record whose key cannot be derived (IdempotencyKeyError) cannot be remembered either.
      const key = keyOrUndefined(keyOf, record);
      if (key !== undefined) entries.push({ key, record, outcome, result: results?.[i] });
    });
    await store.complete(entries);
    for (const e of entries) run.acquired.delete(e.key); // done: nothing left to release
  }
}

function keyOrUndefined(keyOf: IdempotencyKeyFunction, record: SourceRecord): string | undefined {
  try {
    return keyOf(record);
  } catch {
    return undefined;
  }
}

function invokerIsSync(invoker: TargetInvoker): boolean {
  return invoker.invocationType === 'RequestResponse';
}

/**
 * Kafka: `{ partition: "<topic>-<n>", offset }` per failed partition. Kinesis: the sequence number of each
 * failed shard's first unfinished record; the mapping retries the shard from the lowest one reported.
 */
function partialBatchResponse(kind: EventSourceKind, failed: readonly PartitionRun[]): DispatcherResponse {
  if (kind === 'kinesis') return { batchItemFailures: failed.map((r) => ({ itemIdentifier: String(r.retryFrom) })) };
  return { batchItemFailures: failed.map((r) => ({ itemIdentifier: { partition: r.topicPartition, offset: r.retryFrom as number } })) };
}

/** True for an event with no records at all: nothing to do, and the answer stays { batchItemFailures: [] }. */
export function isEmptyEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return false;
  const kinesisRecords = (event as { Records?: unknown }).Records;
  if (Array.isArray(kinesisRecords) && kinesisRecords.length === 0 && Object.keys(event).length === 1) return true;
  const records = (event as { records?: unknown }).records;
  if (records === undefined) return Object.keys(event).length === 0;
  return typeof records === 'object' && records !== null && !Array.isArray(records) && Object.keys(records).length === 0;
}


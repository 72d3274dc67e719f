import { DEFAULTS } from '../../contract/dispatcher-config';
import {
  BatchFailedError, IdempotencyInProgressError, PayloadTooLargeError, RecordCoordinates,
  RemainingTimeExhaustedError, SchemaRegistryUnavailableError, SharedKeyFailedError, SharedKeyPendingError, TargetInvocationError, UnroutedRecordError,
} from '../errors';
import {
  CompletedRecord, CompletionEntry, coordinatesKey, IdempotencyEntry, IdempotencyKeyFunction, RecordOutcome,
} from '../idempotency/store';
import { forEachLimit } from '../concurrency';
import { JsonLogger, Logger } from '../logger';
import { EmfMetrics } from '../metrics';
import { ASYNC_PAYLOAD_LIMIT_BYTES, InvocationBatch, planBatches, RawEventEnvelope, SYNC_PAYLOAD_LIMIT_BYTES } from './payload';
import { ResponseItem } from '../kafka/relay';
import { byResponseTopic, DispatcherRoute, routeOf } from './routes';
import { DispatcherOptions, ErrorBehavior, InvocationContext, InvokerPort } from './options';
import { DispatcherResponse, errorItems, Failure, Fate, PartitionRun, partialBatchResponse, Work } from './partition-run';
import { comparePositions, decodeSourceEvent, nextPosition, Position, SourceRecord } from './source';

export type { DispatcherResponse, KafkaBatchResponse, KinesisBatchResponse } from './partition-run';
export type {
  DispatcherClients, DispatcherOptions, ErrorBehavior, IdempotencyStorePort, InvocationContext, InvokerPort, RelayPort,
} from './options';

/** A result to relay, with the decoded record it is for (which routes it). */
interface RecordResponse extends ResponseItem {
  readonly record: SourceRecord;
}

/** Conditional writes in flight per partition in strict mode. */
const STRICT_WRITES_IN_FLIGHT = 16;


/**
 * The dispatcher: decode → skip done records → invoke the target → relay → mark done. Partitions run
 * in parallel up to a bound, in offset order within each. A Kinesis event is handled the same way with
 * shards as partitions and sequence numbers as offsets (see source.ts), and answered with Kinesis's
 * partial batch response.
 *
 * A record is acknowledged only once its result is on the response topic (when there is one) or it is on an
 * error path: a result too big to store is marked pending in the store until it is relayed, so a retry after a
 * failed relay invokes the target again (ReinvokedForLostResult) instead of skipping the record.
 */
export class Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly logger: Logger;
  private readonly metrics: EmfMetrics;
  private readonly onError: ErrorBehavior;
  private readonly keyOf: IdempotencyKeyFunction;
  /** The routes, then the default target (taking every record) when there is one. */
  private readonly routes: readonly DispatcherRoute[];

  constructor(options: DispatcherOptions) {
    this.o = options;
    this.logger = options.logger ?? new JsonLogger();
    this.metrics = options.metrics ?? new EmfMetrics();
    this.onError = options.onError ?? 'fail';
    this.keyOf = options.keyOf ?? coordinatesKey;
    if (options.idempotencyMode === 'strict' && options.store !== undefined && (options.store.acquire === undefined || options.store.release === undefined)) {
      throw new Error('Dispatcher: strict idempotency needs a store with acquire and release (DynamoDbIdempotencyStore)');
    }
    this.routes = [...options.routes ?? [], ...options.invoker ? [{ match: {}, invoker: options.invoker, responseTopic: options.relay?.responseTopic }] : []];
    if (this.routes.length === 0) throw new Error('Dispatcher: give an invoker (the target), routes, or both');
  }

  /** The largest payload an invocation of this target may carry. */
  private maxPayloadBytes(invoker: InvokerPort): number {
    return this.o.maxPayloadBytes ?? (invoker.invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT_BYTES : SYNC_PAYLOAD_LIMIT_BYTES);
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
    const margin = this.o.timeMarginMs ?? DEFAULTS.timeMarginMs;
    const end = Date.now() + context.getRemainingTimeInMillis();
    // The deadline for starting work.
    const deadline = end - margin;
    // A strict in-progress key outlives any target run the dispatcher may stop waiting for.
    const holdUntil = end + (this.o.targetTimeoutMs ?? DEFAULTS.targetTimeoutMs);
    const { kind, records, failures, envelope } = decodeSourceEvent(event);
    this.metrics.add('RecordsIn', records.length + failures.length);
    // Keys and values decoded with their schemas; a record that does not decode takes the error path.
    const undecoded = this.o.schemas?.active ? await this.o.schemas.decode(records) : undefined;

    // Work per topic-partition (shard), in the event's order, offsets (sequence numbers) increasing.
    const fates = new Map<string, Fate>();
    const partitions = new Map<string, { run: PartitionRun; work: Work[] }>();
    const seenKeys = new Set<string>();
    const entries: IdempotencyEntry[] = [];
    const add = (topic: string, partition: number | string, w: Work) => {
      const tp = `${topic}-${partition}`;
      let p = partitions.get(tp);
      if (p === undefined) partitions.set(tp, p = { run: new PartitionRun(tp, topic, partition, fates), work: [] });
      p.work.push(w);
    };
    for (const record of records) {
      // A record that does not decode or cannot be keyed is remembered by its coordinates once its failure is handled.
      const error = undecoded?.get(record);
      if (error !== undefined) {
        add(record.topic, record.partition, { offset: record.offset, record, error, key: this.keyFor(record) });
        continue;
      }
      let key: string;
      try {
        key = this.keyOf(record);
      } catch (e) {
        add(record.topic, record.partition, { offset: record.offset, record, error: e as Error, key: this.keyFor(record) });
        continue;
      }
      const shared = seenKeys.has(key);
      add(record.topic, record.partition, { offset: record.offset, record, key, shared });
      seenKeys.add(key);
    }
    for (const f of failures) add(f.topic, f.partition, { offset: f.offset, error: f.error, raw: f.raw, key: coordinatesKey(f) });
    for (const { run, work } of partitions.values()) {
      work.sort((a, b) => comparePositions(a.offset, b.offset));
      for (const w of work) if (w.key !== undefined && !w.shared) entries.push({ key: w.key, record: this.coordinates(run, w) });
    }

    // Strict mode reads each key as it takes it; the batched path reads them all now.
    const store = kind === 'kinesis' ? this.o.kinesisStore ?? this.o.store : this.o.store;
    const session = await store?.open(this.o.idempotencyMode === 'strict' ? [] : entries, end, [...records, ...failures]);
    try {
      const done = new Map<string, CompletedRecord>(session?.done ?? []);
      // A copy cannot follow a stored result that was too big to keep: it is invoked itself.
      for (const { run, work } of partitions.values()) {
        run.session = session;
        for (const w of work) if (w.shared && unkeptResult(done.get(w.key!))) w.shared = false;
      }

      const runs = [...partitions.values()];
      const concurrency = this.o.concurrency ?? DEFAULTS.concurrency;
      await forEachLimit(runs, concurrency, ({ run, work }) => this.processPartition(run, work, done, deadline, holdUntil, envelope));
      // Records that share a key with an earlier one follow its fate, known once every partition has run.
      await forEachLimit(runs, concurrency, ({ run, work }) => this.followSharedKeys(run, work.filter((w) => w.shared)));

      const failed = runs.filter(({ run }) => run.stopped).map(({ run }) => run);
      if (failed.length === 0) return { batchItemFailures: [] };
      const errors = failed.flatMap((r) => r.errors);
      this.logger.error('records not processed; the event source mapping retries them', { errors, partitions: failed.map((r) => ({ partition: r.topicPartition, offset: r.retryFrom })) });
      if (this.o.reportBatchItemFailures) return partialBatchResponse(kind, failed);
      throw new BatchFailedError(errors);
    } finally {
      await session?.close().catch((e) => this.logger.warn('releasing idempotency leases failed; they expire with this invocation', { error: e }));
    }
  }

  private async processPartition(run: PartitionRun, work: Work[], done: Map<string, CompletedRecord>, deadline: number, holdUntil: number, envelope: RawEventEnvelope): Promise<void> {
    const store = this.o.store;
    const strict = store !== undefined && this.o.idempotencyMode === 'strict';
    const inProgress = new Set<string>();
    try {
      if (strict) {
        await forEachLimit(work, STRICT_WRITES_IN_FLIGHT, async (w) => {
          if (w.key === undefined || w.shared) return;
          const r = await store.acquire!(w.key, this.coordinates(run, w), holdUntil);
          if (r.state === 'acquired') {
            run.acquired.add(w.key);
            if (r.lostResult) this.metrics.add('ReinvokedForLostResult');
          }
          else if (r.state === 'completed') done.set(w.key, r.completed);
          else inProgress.add(w.key);
        });
      }
      // Consecutive records going to one target are invoked together; a record of another target ends the run.
      let pending: SourceRecord[] = [];
      let pendingRoute: DispatcherRoute | undefined;
      const reRelay: RecordResponse[] = [];
      const flush = async () => {
        if (pendingRoute !== undefined) await this.invokeRun(run, pendingRoute, pending, deadline, envelope);
        pending = [];
      };
      for (const w of work) {
        if (run.stopped) break;
        if (w.shared) continue;
        if (w.error !== undefined) {
          const stored = done.get(w.key!);
          if (stored !== undefined && !stored.relayPending) {
            // An earlier attempt finished it (its failure handled, or it decoded then): nothing is done again, but
            // a stored result is relayed again.
            await flush();
            if (run.stopped) break;
            this.metrics.add('RecordsSkippedDuplicate');
            if (w.record !== undefined && sameRecord(stored, w.record) && stored.outcome === 'responded' && !stored.resultOmitted) reRelay.push({ record: w.record, result: stored.result });
            else run.session?.settle?.([this.coordinates(run, w)]);
            continue;
          }
          if (inProgress.has(w.key!) || run.session?.inProgress.has(w.key!)) {
            await flush();
            run.stop(w.offset, new IdempotencyInProgressError(run.topic, run.partition, w.offset));
            break;
          }
        }
        if (w.error instanceof SchemaRegistryUnavailableError) {
          // Not the record's fault: the partition is retried from it.
          await flush();
          run.stop(w.offset, w.error);
          break;
        }
        if (w.error !== undefined) {
          await flush();
          if (!run.stopped) {
            await this.recordFailure(run, {
              error: w.error, records: w.record ? [w.record] : [], raw: w.raw, start: w.offset, end: nextPosition(w.offset),
              inputPayload: w.record ? JSON.stringify(w.record.raw) : undefined,
            });
          }
          continue;
        }
        const record = w.record!;
        const stored = done.get(w.key!);
        const same = stored !== undefined && sameRecord(stored, record);
        if (stored?.relayPending || (stored !== undefined && !same && unkeptResult(stored))) {
          // Its result was neither stored nor relayed (or, for a copy sharing its key, not kept to relay again):
          // the target runs again (an at-least-once window the metric counts).
          this.metrics.add('ReinvokedForLostResult');
        } else if (stored !== undefined) {
          // An invocation holds consecutive records of the event only: a range of the store covers exactly them.
          await flush();
          if (run.stopped) break;
          this.metrics.add('RecordsSkippedDuplicate');
          const fate: Fate = { record: stored, outcome: stored.outcome, result: stored.result };
          run.fates.set(w.key!, fate);
          if (same) {
            // Results stored by an earlier attempt are relayed again; the target is not invoked again.
            if (stored.outcome === 'responded' && !stored.resultOmitted) reRelay.push({ record, result: stored.result });
            else run.session?.settle?.([record]);
          } else {
            await this.follow(run, record, fate, reRelay);
          }
          continue;
        }
        if (inProgress.has(w.key!) || run.session?.inProgress.has(w.key!)) {
          await flush();
          run.stop(w.offset, new IdempotencyInProgressError(record.topic, record.partition, w.offset));
          break;
        }
        const route = routeOf(this.routes, record);
        if (route !== pendingRoute) await flush();
        if (run.stopped) break;
        pendingRoute = route;
        if (route === undefined) {
          await this.recordFailure(run, {
            error: new UnroutedRecordError(record.topic, record.partition, record.offset), records: [record],
            start: w.offset, end: nextPosition(w.offset), inputPayload: JSON.stringify(record.raw),
          });
          continue;
        }
        pending.push(record);
      }
      await flush();
      await this.relayResponses(run, reRelay);
    } catch (e) {
      // Infrastructure failures (DynamoDB, Secrets Manager): the partition is retried by the ESM.
      run.stop(work[0]?.offset ?? 0, e as Error);
    } finally {
      if (strict && run.acquired.size > 0) {
        await forEachLimit([...run.acquired], STRICT_WRITES_IN_FLIGHT, (k) => store.release!(k).catch((e) => this.logger.warn('releasing an idempotency key failed; it expires by itself', { partition: run.topicPartition, error: e })));
      }
    }
  }

  /**
   * Records whose key an earlier record of the event has: acknowledged only when that record was (its result
   * relayed under their coordinates too, or its error path taken by them too); otherwise the partition is
   * retried from the first such record.
   */
  private async followSharedKeys(run: PartitionRun, shared: readonly Work[]): Promise<void> {
    const reRelay: RecordResponse[] = [];
    try {
      for (const w of shared) {
        const record = w.record!;
        if (!run.acknowledges(w.offset)) break; // retried anyway
        const fate = run.fates.get(w.key!);
        if (fate === undefined || (fate.run !== undefined && !fate.run.acknowledges(fate.record.offset!))) {
          run.stop(w.offset, new SharedKeyPendingError(record.topic, record.partition, record.offset, fate?.record as RecordCoordinates ?? record));
          break;
        }
        this.metrics.add('RecordsSkippedDuplicate');
        await this.follow(run, record, fate, reRelay);
      }
      await this.relayResponses(run, reRelay);
    } catch (e) {
      run.stop(shared[0].offset, e as Error);
    }
  }

  /** A record takes the fate of the record its key was done for. */
  private async follow(run: PartitionRun, record: SourceRecord, fate: Fate, reRelay: RecordResponse[]): Promise<void> {
    switch (fate.outcome) {
      case 'responded':
        if (fate.result !== undefined) reRelay.push({ record, result: fate.result });
        return;
      case 'logged':
        await this.recordFailure(run, {
          error: new SharedKeyFailedError(record.topic, record.partition, record.offset, fate.record),
          records: [record], start: record.offset, end: nextPosition(record.offset), remember: false, outcome: fate.invocationOutcome,
        });
        return;
      case 'dropped':
        this.metrics.add('RecordsDropped');
        return;
      default:
        return;
    }
  }

  /** Stored results relayed again, each to its record's route's response topic. */
  private async relayResponses(run: PartitionRun, items: readonly RecordResponse[]): Promise<void> {
    const relay = this.o.relay;
    if (relay === undefined) return;
    for (const [topic, list] of byResponseTopic(this.routes, items)) {
      if (await this.relayOrStop(run, list[0].record.offset, () => relay.sendResponses(list, topic))) run.session?.settle?.(list.map((i) => i.record));
    }
  }

  /** The record's idempotency key; a record that cannot be keyed (or only its coordinates are known) by its coordinates. */
  private keyFor(record: RecordCoordinates): string {
    if (!('raw' in record)) return coordinatesKey(record);
    try {
      return this.keyOf(record as SourceRecord);
    } catch {
      return coordinatesKey(record);
    }
  }

  private coordinates(run: PartitionRun, w: Work): RecordCoordinates {
    return w.record ?? { topic: run.topic, partition: run.partition, offset: w.offset };
  }

  /** Invokes the route's target for consecutive not-done records of one partition, in batches. */
  private async invokeRun(run: PartitionRun, route: DispatcherRoute, records: SourceRecord[], deadline: number, envelope: RawEventEnvelope): Promise<void> {
    if (records.length === 0 || run.stopped) return;
    const invoker = route.invoker;
    const functionName = invoker.functionName;
    const plan = planBatches(records, invoker.payloadFormat, this.o.batchSize ?? DEFAULTS.recordsPerInvocation, this.maxPayloadBytes(invoker), envelope);
    for (const step of plan) {
      if (run.stopped) return;
      if (step instanceof PayloadTooLargeError) {
        const record = records.find((r) => r.offset === step.offset)!;
        await this.recordFailure(run, {
          error: step, records: [record], start: step.offset, end: nextPosition(step.offset), functionName,
          details: { statusCode: 413, functionError: 'RequestEntityTooLargeException', payload: JSON.stringify({ errorType: step.name, errorMessage: step.message }) },
        });
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        run.stop(step.records[0].offset, new RemainingTimeExhaustedError(remaining + (this.o.timeMarginMs ?? DEFAULTS.timeMarginMs), this.o.timeMarginMs ?? DEFAULTS.timeMarginMs));
        return;
      }
      let results: readonly unknown[];
      try {
        this.metrics.add('RecordsInvoked', step.records.length);
        results = await invoker.invoke(step, deadline);
      } catch (e) {
        if (!(e instanceof TargetInvocationError)) throw e;
        if (e.outcome === 'unknown') {
          // The target may still be running these: their strict keys stay in progress until they expire.
          this.metrics.add('RecordsUnknownOutcome', step.records.length);
          for (const r of step.records) run.acquired.delete(this.keyFor(r));
        }
        await this.recordFailure(run, { error: e, records: step.records, start: e.startOffset, end: e.endOffset, inputPayload: step.payload, details: e.details, outcome: e.outcome, functionName });
        continue;
      }
      await this.succeeded(run, route, step, results);
    }
  }

  private async succeeded(run: PartitionRun, route: DispatcherRoute, batch: InvocationBatch, results: readonly unknown[]): Promise<void> {
    const relay = this.o.relay;
    const session = run.session;
    const responding = route.invoker.invocationType === 'RequestResponse' && relay !== undefined && route.responseTopic !== undefined;
    // Stored before relaying: if the relay fails, the retry re-relays the stored results without invoking again.
    // A result too big to store is marked pending until it is relayed.
    const unstored = responding && session !== undefined ? batch.records.map((_, i) => !session.fits(results[i])) : [];
    // Results nothing will relay are not stored. If they cannot be recorded the partition is retried and the records
    // run again: the window the metric counts.
    try {
      await this.complete(run, batch.records, responding ? 'responded' : 'invoked', responding ? results : undefined, unstored);
    } catch (e) {
      this.metrics.add('RecordsNotRecorded', batch.records.length);
      throw e;
    }
    if (!responding) return;
    await this.relayOrStop(run, batch.records[0].offset, () => relay!.sendResponses(batch.records.map((record, i) => ({ record, result: results[i] })), route.responseTopic));
    if (run.stopped) return;
    this.metrics.add('RecordsResponded', batch.records.length);
    session?.settle?.(batch.records);
    if (unstored.includes(true)) {
      const relayed = batch.records.filter((_, i) => unstored[i]);
      await this.complete(run, relayed, 'responded', results.filter((_, i) => unstored[i]), undefined, true);
    }
  }

  /**
   * A failure of records [start, end) (Kinesis: sequence numbers): with fail the partition stops here (retried by
   * the ESM); with log it goes to the error topic (or the log) with the records' bytes and the records are marked
   * done; with drop it is counted and the records are marked done.
   */
  private async recordFailure(run: PartitionRun, f: Failure): Promise<void> {
    const { topic, partition } = run;
    const count = Math.max(f.records.length, 1);
    const remember = f.remember ?? true;
    const fields = { error: f.error, topic, partition, startOffset: f.start, endOffset: f.end, outcome: f.outcome ?? 'failed' };
    if (this.onError === 'fail') {
      this.metrics.add('RecordsFailed', count);
      run.stop(f.start, f.error);
      return;
    }
    if (this.onError === 'drop') {
      this.metrics.add('RecordsDropped', count);
      this.logger.warn('dropped records after an error', fields);
      if (remember) await this.complete(run, this.failed(run, f), 'dropped');
      return;
    }
    this.metrics.add('RecordsFailed', count);
    this.logger.error('records failed', { ...fields, errorTopic: this.o.relay?.errorTopic });
    if (this.o.relay?.errorTopic !== undefined) {
      const items = errorItems(run, f, f.functionName ?? this.o.invoker?.functionName ?? '');
      await this.relayOrStop(run, f.start, () => this.o.relay!.sendErrors(items));
      if (run.stopped) return;
    }
    if (!remember) return;
    await this.complete(run, this.failed(run, f), 'logged');
    if (f.outcome === 'unknown') {
      for (const r of f.records) {
        const fate = run.fates.get(this.keyFor(r));
        if (fate !== undefined) fate.invocationOutcome = 'unknown';
      }
    }
  }

  /** What a failure remembers: its records, or the coordinates of an event entry that did not decode. */
  private failed(run: PartitionRun, f: Failure): readonly RecordCoordinates[] {
    return f.records.length > 0 || f.raw === undefined ? f.records : [{ topic: run.topic, partition: run.partition, offset: f.start }];
  }

  /** Sends, or stops the partition at offset when the send fails; whether it was sent. */
  private async relayOrStop(run: PartitionRun, offset: Position, send: () => Promise<void>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (e) {
      run.stop(offset, e as Error);
      return false;
    }
  }

  /**
   * Remembers how records ended: in the event's fates (for records sharing their keys) and in the store; relayed:
   * results too big to store, completed before with relayPending, are on the response topic now.
   */
  private async complete(run: PartitionRun, records: readonly RecordCoordinates[], outcome: RecordOutcome, results?: readonly unknown[], relayPending?: readonly boolean[], relayed = false): Promise<void> {
    const entries: CompletionEntry[] = [];
    records.forEach((record, i) => {
      const key = this.keyFor(record);
      entries.push({ key, record, outcome, result: results?.[i], relayPending: relayPending?.[i] });
      run.fates.set(key, { run, record, outcome, result: results?.[i] });
    });
    const session = run.session;
    if (session === undefined || entries.length === 0) return;
    await (relayed ? session.relayed(entries) : session.complete(entries));
    // Done: nothing left to release, but a result being relayed that could not be stored (held until it is relayed).
    for (const e of entries) if (e.relayPending !== true) run.acquired.delete(e.key);
  }
}

/** Whether the store completed the key for this record (not for another record sharing its key). */
function sameRecord(stored: CompletedRecord, record: RecordCoordinates): boolean {
  return stored.topic === undefined
    || (stored.topic === record.topic && String(stored.partition) === String(record.partition) && String(stored.offset) === String(record.offset));
}

/** A responded record whose result was not stored (too big): nothing to relay again for another record. */
function unkeptResult(stored: CompletedRecord | undefined): boolean {
  return stored !== undefined && stored.outcome === 'responded' && stored.resultOmitted;
}


export { isEmptyEvent } from './source';

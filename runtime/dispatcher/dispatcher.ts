import { DEFAULTS } from '../../contract/dispatcher-config';
import {
  BatchFailedError,
  IdempotencyInProgressError,
  PayloadTooLargeError,
  RecordCoordinates,
  RemainingTimeExhaustedError,
  SchemaRegistryUnavailableError,
  SharedKeyFailedError,
  SharedKeyPendingError,
  TargetInvocationError,
  UnroutedRecordError,
} from '../errors';
import {
  CompletedRecord,
  CompletionEntry,
  coordinatesKey,
  IdempotencyEntry,
  IdempotencyKeyFunction,
  RecordOutcome,
} from '../idempotency/store';
import { forEachLimit } from '../concurrency';
import { JsonLogger, Logger } from '../logger';
import { EmfMetrics } from '../metrics';
import { ASYNC_PAYLOAD_LIMIT_BYTES, InvocationBatch, planBatches, RawEventEnvelope, SYNC_PAYLOAD_LIMIT_BYTES } from './payload';
import { ResponseItem } from '../kafka/relay';
import { byResponseTopic, DispatcherRoute, routeOf } from './routes';
import { DispatcherOptions, ErrorBehavior, IdempotencyStorePort, InvocationContext, InvokerPort } from './options';
import {
  DispatcherResponse,
  errorItems,
  Failure,
  FailedWork,
  Fate,
  isShared,
  PartitionRun,
  partialBatchResponse,
  RecordWork,
  Work,
} from './partition-run';
import { comparePositions, decodeSourceEvent, nextPosition, Position, SourceRecord } from './source';

export type { DispatcherResponse, KafkaBatchResponse, KinesisBatchResponse } from './partition-run';
export type {
  DispatcherClients,
  DispatcherOptions,
  ErrorBehavior,
  IdempotencyStorePort,
  InvocationContext,
  InvokerPort,
  RelayPort,
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
  private readonly options: DispatcherOptions;
  /** The store in strict mode: a key is taken before its record is invoked. */
  private readonly strictStore?: StrictStore;
  private readonly logger: Logger;
  private readonly metrics: EmfMetrics;
  private readonly onError: ErrorBehavior;
  private readonly keyOf: IdempotencyKeyFunction;
  /** The routes, then the default target (taking every record) when there is one. */
  private readonly routes: readonly DispatcherRoute[];
  /** Each record's idempotency key, derived once. */
  private readonly keys = new WeakMap<SourceRecord, string>();

  constructor(options: DispatcherOptions) {
    this.options = options;
    this.logger = options.logger ?? new JsonLogger();
    this.metrics = options.metrics ?? new EmfMetrics();
    this.onError = options.onError ?? 'fail';
    this.keyOf = options.keyOf ?? coordinatesKey;
    if (options.idempotencyMode === 'strict' && options.store !== undefined) {
      if (!takesKeys(options.store))
        throw new Error('Dispatcher: strict idempotency needs a store with acquire and release (DynamoDbIdempotencyStore)');
      this.strictStore = options.store;
    }
    this.routes = [
      ...(options.routes ?? []),
      ...(options.invoker ? [{ match: {}, invoker: options.invoker, responseTopic: options.relay?.responseTopic }] : []),
    ];
    if (this.routes.length === 0) throw new Error('Dispatcher: give an invoker (the target), routes, or both');
  }

  /** The largest payload an invocation of this target may carry. */
  private maxPayloadBytes(invoker: InvokerPort): number {
    return (
      this.options.maxPayloadBytes ?? (invoker.invocationType === 'Event' ? ASYNC_PAYLOAD_LIMIT_BYTES : SYNC_PAYLOAD_LIMIT_BYTES)
    );
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
    const margin = this.options.timeMarginMs ?? DEFAULTS.timeMarginMs;
    const end = Date.now() + context.getRemainingTimeInMillis();
    // The deadline for starting work.
    const deadline = end - margin;
    // A strict in-progress key outlives any target run the dispatcher may stop waiting for.
    const holdUntil = end + (this.options.targetTimeoutMs ?? DEFAULTS.targetTimeoutMs);
    const { kind, records, failures, envelope, redrive } = decodeSourceEvent(event);
    this.metrics.add('RecordsIn', records.length + failures.length);
    // Keys and values decoded with their schemas; a record that does not decode takes the error path.
    const undecoded = this.options.schemas?.active ? await this.options.schemas.decode(records) : undefined;

    // Work per topic-partition (shard), in the event's order, offsets (sequence numbers) increasing.
    const fates = new Map<string, Fate>();
    const partitions = new Map<string, { run: PartitionRun; work: Work[] }>();
    const seenKeys = new Set<string>();
    const entries: IdempotencyEntry[] = [];
    const add = (topic: string, partition: number | string, w: Work) => {
      const tp = `${topic}-${partition}`;
      let p = partitions.get(tp);
      if (p === undefined) partitions.set(tp, (p = { run: new PartitionRun(tp, topic, partition, fates), work: [] }));
      p.work.push(w);
    };
    for (const record of records) {
      // A record that does not decode or cannot be keyed is remembered by its coordinates once its failure is handled.
      const error = undecoded?.get(record);
      if (error !== undefined) {
        add(record.topic, record.partition, { kind: 'failed', offset: record.offset, record, error, key: this.keyFor(record) });
        continue;
      }
      let key: string;
      try {
        key = this.recordKey(record);
      } catch (e) {
        add(record.topic, record.partition, {
          kind: 'failed',
          offset: record.offset,
          record,
          error: e as Error,
          key: this.keyFor(record),
        });
        continue;
      }
      const shared = seenKeys.has(key);
      add(record.topic, record.partition, { kind: 'record', offset: record.offset, record, key, shared });
      seenKeys.add(key);
    }
    for (const f of failures)
      add(f.topic, f.partition, { kind: 'failed', offset: f.offset, error: f.error, raw: f.raw, key: coordinatesKey(f) });
    for (const { run, work } of partitions.values()) {
      work.sort((a, b) => comparePositions(a.offset, b.offset));
      for (const w of work) if (!isShared(w)) entries.push({ key: w.key, record: this.coordinates(run, w) });
    }

    // Strict mode reads each key as it takes it; the batched path reads them all now.
    const store = kind === 'kinesis' ? (this.options.kinesisStore ?? this.options.store) : this.options.store;
    const strict = this.options.idempotencyMode === 'strict';
    if (redrive) this.logger.info('a redrive: records whose failure was handled before run again', { records: entries.length });
    const session = await store?.open(strict ? [] : entries, end, [...records, ...failures], { rerunFailed: redrive });
    try {
      const done = new Map<string, CompletedRecord>(session?.done ?? []);
      // A copy cannot follow a stored result that was too big to keep: it is invoked itself.
      for (const { run, work } of partitions.values()) {
        run.session = session;
        run.rerunFailed = redrive;
        for (const w of work) if (isShared(w) && unkeptResult(done.get(w.key))) w.shared = false;
      }

      const runs = [...partitions.values()];
      const concurrency = this.options.concurrency ?? DEFAULTS.concurrency;
      await forEachLimit(runs, concurrency, ({ run, work }) =>
        this.processPartition(run, work, done, deadline, holdUntil, envelope),
      );
      // Records that share a key with an earlier one follow its fate, known once every partition has run.
      await forEachLimit(runs, concurrency, ({ run, work }) => this.followSharedKeys(run, work.filter(isShared)));

      const failed = runs.filter(({ run }) => run.stopped).map(({ run }) => run);
      if (failed.length === 0) return { batchItemFailures: [] };
      const errors = failed.flatMap((r) => r.errors);
      this.logger.error('records not processed; the event source mapping retries them', {
        errors,
        partitions: failed.map((r) => ({ partition: r.topicPartition, offset: r.retryFrom })),
      });
      if (this.options.reportBatchItemFailures) return partialBatchResponse(kind, failed);
      throw new BatchFailedError(errors);
    } finally {
      await session
        ?.close()
        .catch((e) => this.logger.warn('releasing idempotency leases failed; they expire with this invocation', { error: e }));
    }
  }

  /** One partition's records in offset order: skip what is done, invoke the rest, take each failure's error path. */
  private async processPartition(
    run: PartitionRun,
    work: Work[],
    done: Map<string, CompletedRecord>,
    deadline: number,
    holdUntil: number,
    envelope: RawEventEnvelope,
  ): Promise<void> {
    try {
      const heldElsewhere = await this.takeKeys(run, work, done, holdUntil);
      const pass: PartitionPass = { done, heldElsewhere, deadline, envelope, reRelay: [], pending: [] };
      for (const w of work) {
        if (run.stopped) break;
        // Most records join the waiting invocation at once: only a step with work to wait for is awaited.
        const waiting = this.take(run, w, this.stepOf(run, w, pass), pass);
        if (waiting !== undefined) await waiting;
      }
      await this.flush(run, pass);
      await this.relayResponses(run, pass.reRelay);
    } catch (e) {
      // Infrastructure failures (DynamoDB, Secrets Manager): the partition is retried by the ESM.
      run.stop(work[0]?.offset ?? 0, e as Error);
    } finally {
      await this.releaseKeys(run);
    }
  }

  /** Strict mode: takes the key of each entry but those sharing an earlier one's; returns the keys another invocation holds. */
  private async takeKeys(
    run: PartitionRun,
    work: readonly Work[],
    done: Map<string, CompletedRecord>,
    holdUntil: number,
  ): Promise<Set<string>> {
    const heldElsewhere = new Set<string>();
    const store = this.strictStore;
    if (store === undefined) return heldElsewhere;
    await forEachLimit(work, STRICT_WRITES_IN_FLIGHT, async (w) => {
      if (isShared(w)) return;
      const taken = await store.acquire(w.key, this.coordinates(run, w), holdUntil, { rerunFailed: run.rerunFailed });
      if (taken.state === 'acquired') {
        run.acquired.add(w.key);
        if (taken.lostResult) this.metrics.add('ReinvokedForLostResult');
      } else if (taken.state === 'completed') done.set(w.key, taken.completed);
      else heldElsewhere.add(w.key);
    });
    return heldElsewhere;
  }

  /** Strict mode: gives up the keys the partition still holds. */
  private async releaseKeys(run: PartitionRun): Promise<void> {
    const store = this.strictStore;
    if (store === undefined || run.acquired.size === 0) return;
    await forEachLimit([...run.acquired], STRICT_WRITES_IN_FLIGHT, (k) =>
      store.release(k).catch((e) =>
        this.logger.warn('releasing an idempotency key failed; it expires by itself', {
          partition: run.topicPartition,
          error: e,
        }),
      ),
    );
  }

  /** What to do with an entry, from what the store and this event know of its key. */
  private stepOf(run: PartitionRun, w: Work, pass: PartitionPass): Step {
    if (w.kind === 'failed') {
      const stored = pass.done.get(w.key);
      // An earlier attempt finished it (its failure handled, or it decoded then).
      if (stored !== undefined && !stored.relayPending) return { kind: 'done', work: w, stored };
      if (heldElsewhere(run, pass, w.key))
        return { kind: 'stop', error: new IdempotencyInProgressError(run.topic, run.partition, w.offset) };
      // Not the record's fault: the partition is retried from it.
      if (w.error instanceof SchemaRegistryUnavailableError) return { kind: 'stop', error: w.error };
      return { kind: 'fail', work: w };
    }
    if (w.shared) return { kind: 'follow' };
    const stored = pass.done.get(w.key);
    if (stored !== undefined && !runsAgain(stored, w.record)) return { kind: 'done', work: w, stored };
    // Its result was neither stored nor relayed (or, for a copy sharing its key, not kept to relay again): the target
    // runs again (an at-least-once window the metric counts).
    if (stored !== undefined) this.metrics.add('ReinvokedForLostResult');
    if (heldElsewhere(run, pass, w.key))
      return { kind: 'stop', error: new IdempotencyInProgressError(w.record.topic, w.record.partition, w.offset) };
    return { kind: 'invoke', record: w.record };
  }

  /** Carries out an entry's step: a promise only when the step has work to wait for (an invocation, a failure, a skip). */
  private take(run: PartitionRun, w: Work, step: Step, pass: PartitionPass): Promise<void> | undefined {
    switch (step.kind) {
      case 'follow':
        return undefined;
      case 'invoke':
        return this.enqueue(run, step.record, pass);
      default:
        return this.takeAfterFlush(run, w, step, pass);
    }
  }

  /** A step that ends the waiting invocation first: stop, fail or skip a done entry. */
  private async takeAfterFlush(
    run: PartitionRun,
    w: Work,
    step: Extract<Step, { kind: 'stop' | 'fail' | 'done' }>,
    pass: PartitionPass,
  ): Promise<void> {
    await this.flush(run, pass);
    switch (step.kind) {
      case 'stop':
        run.stop(w.offset, step.error);
        return;
      case 'fail':
        if (!run.stopped) await this.recordFailure(run, entryFailure(step.work));
        return;
      case 'done':
        if (!run.stopped) await this.skipDone(run, step.work, step.stored, pass.reRelay);
        return;
    }
  }

  /**
   * A record done by an earlier attempt (or whose key's record was): the target is not invoked again; a stored
   * result is relayed again, a record sharing a done key follows its fate.
   */
  private async skipDone(run: PartitionRun, w: Work, stored: CompletedRecord, reRelay: RecordResponse[]): Promise<void> {
    this.metrics.add('RecordsSkippedDuplicate');
    if (w.kind === 'failed') {
      if (w.record !== undefined && sameRecord(stored, w.record) && relayable(stored))
        reRelay.push({ record: w.record, result: stored.result });
      else run.session?.settle?.([this.coordinates(run, w)]);
      return;
    }
    // An invocation holds consecutive records of the event only: a range of the store covers exactly them.
    const fate: Fate = { record: stored, outcome: stored.outcome, result: stored.result };
    run.fates.set(w.key, fate);
    if (!sameRecord(stored, w.record)) await this.follow(run, w.record, fate, reRelay);
    else if (relayable(stored)) reRelay.push({ record: w.record, result: stored.result });
    else run.session?.settle?.([w.record]);
  }

  /**
   * Consecutive records going to one target are invoked together: a record of the waiting invocation's target joins it
   * at once; a record of another target (or of none) ends it.
   */
  private enqueue(run: PartitionRun, record: SourceRecord, pass: PartitionPass): Promise<void> | undefined {
    const route = routeOf(this.routes, record);
    if (route !== undefined && route === pass.pendingRoute) {
      pass.pending.push(record);
      return undefined;
    }
    return this.startInvocation(run, record, route, pass);
  }

  private async startInvocation(
    run: PartitionRun,
    record: SourceRecord,
    route: DispatcherRoute | undefined,
    pass: PartitionPass,
  ): Promise<void> {
    await this.flush(run, pass);
    if (run.stopped) return;
    pass.pendingRoute = route;
    if (route === undefined) {
      await this.recordFailure(run, {
        error: new UnroutedRecordError(record.topic, record.partition, record.offset),
        records: [record],
        start: record.offset,
        end: nextPosition(record.offset),
        inputPayload: JSON.stringify(record.raw),
      });
      return;
    }
    pass.pending.push(record);
  }

  /** Invokes the records waiting for their target. */
  private async flush(run: PartitionRun, pass: PartitionPass): Promise<void> {
    if (pass.pendingRoute !== undefined) await this.invokeRun(run, pass.pendingRoute, pass.pending, pass.deadline, pass.envelope);
    pass.pending = [];
  }

  /**
   * Records whose key an earlier record of the event has: acknowledged only when that record was (its result
   * relayed under their coordinates too, or its error path taken by them too); otherwise the partition is
   * retried from the first such record.
   */
  private async followSharedKeys(run: PartitionRun, shared: readonly RecordWork[]): Promise<void> {
    const reRelay: RecordResponse[] = [];
    try {
      for (const { record, offset, key } of shared) {
        if (!run.acknowledges(offset)) break; // retried anyway
        const fate = run.fates.get(key);
        if (fate === undefined || (fate.run !== undefined && !fate.run.acknowledges(fate.record.offset!))) {
          run.stop(
            offset,
            new SharedKeyPendingError(
              record.topic,
              record.partition,
              record.offset,
              (fate?.record as RecordCoordinates) ?? record,
            ),
          );
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
          records: [record],
          start: record.offset,
          end: nextPosition(record.offset),
          remember: false,
          outcome: fate.invocationOutcome,
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
    const relay = this.options.relay;
    if (relay === undefined) return;
    for (const [topic, list] of byResponseTopic(this.routes, items)) {
      if (await this.relayOrStop(run, list[0].record.offset, () => relay.sendResponses(list, topic)))
        run.session?.settle?.(list.map((i) => i.record));
    }
  }

  /** The record's idempotency key; a record that cannot be keyed (or only its coordinates are known) by its coordinates. */
  private keyFor(record: RecordCoordinates): string {
    if (!('raw' in record)) return coordinatesKey(record);
    try {
      return this.recordKey(record as SourceRecord);
    } catch {
      return coordinatesKey(record);
    }
  }

  /**
   * The record's key as keyOf first derived it: code in the same process (an in-process target) may change the
   * record's bytes or its decoded value, and its completion must still go to the key that was read and taken.
   */
  private recordKey(record: SourceRecord): string {
    let key = this.keys.get(record);
    if (key === undefined) this.keys.set(record, (key = this.keyOf(record)));
    return key;
  }

  private coordinates(run: PartitionRun, w: Work): RecordCoordinates {
    return w.record ?? { topic: run.topic, partition: run.partition, offset: w.offset };
  }

  /** Invokes the route's target for consecutive not-done records of one partition, in batches. */
  private async invokeRun(
    run: PartitionRun,
    route: DispatcherRoute,
    records: SourceRecord[],
    deadline: number,
    envelope: RawEventEnvelope,
  ): Promise<void> {
    if (records.length === 0 || run.stopped) return;
    const invoker = route.invoker;
    const functionName = invoker.functionName;
    const plan = planBatches(
      records,
      invoker.payloadFormat,
      this.options.recordsPerInvocation ?? this.options.batchSize ?? DEFAULTS.recordsPerInvocation,
      this.maxPayloadBytes(invoker),
      envelope,
    );
    for (const step of plan) {
      if (run.stopped) return;
      if (step instanceof PayloadTooLargeError) {
        const record = records.find((r) => r.offset === step.offset)!;
        await this.recordFailure(run, {
          error: step,
          records: [record],
          start: step.offset,
          end: nextPosition(step.offset),
          functionName,
          details: {
            statusCode: 413,
            functionError: 'RequestEntityTooLargeException',
            payload: JSON.stringify({ errorType: step.name, errorMessage: step.message }),
          },
        });
        continue;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        run.stop(
          step.records[0].offset,
          new RemainingTimeExhaustedError(
            remaining + (this.options.timeMarginMs ?? DEFAULTS.timeMarginMs),
            this.options.timeMarginMs ?? DEFAULTS.timeMarginMs,
          ),
        );
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
        await this.recordFailure(run, {
          error: e,
          records: step.records,
          start: e.startOffset,
          end: e.endOffset,
          inputPayload: step.payload,
          details: e.details,
          outcome: e.outcome,
          functionName,
        });
        continue;
      }
      await this.succeeded(run, route, step, results);
    }
  }

  private async succeeded(
    run: PartitionRun,
    route: DispatcherRoute,
    batch: InvocationBatch,
    results: readonly unknown[],
  ): Promise<void> {
    const relay = this.options.relay;
    const session = run.session;
    const responding =
      route.invoker.invocationType === 'RequestResponse' && relay !== undefined && route.responseTopic !== undefined;
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
    await this.relayOrStop(run, batch.records[0].offset, () =>
      relay!.sendResponses(
        batch.records.map((record, i) => ({ record, result: results[i] })),
        route.responseTopic,
      ),
    );
    if (run.stopped) return;
    this.metrics.add('RecordsResponded', batch.records.length);
    session?.settle?.(batch.records);
    if (unstored.includes(true)) {
      const relayed = batch.records.filter((_, i) => unstored[i]);
      await this.complete(
        run,
        relayed,
        'responded',
        results.filter((_, i) => unstored[i]),
        undefined,
        true,
      );
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
    this.logger.error('records failed', { ...fields, errorTopic: this.options.relay?.errorTopic });
    if (this.options.relay?.errorTopic !== undefined) {
      const items = errorItems(run, f, f.functionName ?? this.options.invoker?.functionName ?? '');
      await this.relayOrStop(run, f.start, () => this.options.relay!.sendErrors(items));
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
    return f.records.length > 0 || f.raw === undefined
      ? f.records
      : [{ topic: run.topic, partition: run.partition, offset: f.start }];
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
  private async complete(
    run: PartitionRun,
    records: readonly RecordCoordinates[],
    outcome: RecordOutcome,
    results?: readonly unknown[],
    relayPending?: readonly boolean[],
    relayed = false,
  ): Promise<void> {
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

/** A store that takes keys before their records are invoked (strict idempotency). */
type StrictStore = IdempotencyStorePort & Required<Pick<IdempotencyStorePort, 'acquire' | 'release'>>;

function takesKeys(store: IdempotencyStorePort): store is StrictStore {
  return store.acquire !== undefined && store.release !== undefined;
}

/** One partition's walk through its work: what it knows, and what it gathers. */
interface PartitionPass {
  readonly done: Map<string, CompletedRecord>;
  /** Strict mode: the keys another invocation holds. */
  readonly heldElsewhere: ReadonlySet<string>;
  readonly deadline: number;
  readonly envelope: RawEventEnvelope;
  /** Stored results to relay again once the partition has run. */
  readonly reRelay: RecordResponse[];
  /** Consecutive records waiting for their target (pendingRoute's). */
  pending: SourceRecord[];
  pendingRoute?: DispatcherRoute;
}

/** What the partition does with one entry of its work. */
type Step =
  /** It shares its key with an earlier record of the event: it follows that record's fate once every partition has run. */
  | { readonly kind: 'follow' }
  /** The partition is retried from it (its key is in progress elsewhere, or the schema registry is unavailable). */
  | { readonly kind: 'stop'; readonly error: Error }
  /** It takes the error path. */
  | { readonly kind: 'fail'; readonly work: FailedWork }
  /** An earlier attempt did it. */
  | { readonly kind: 'done'; readonly work: Work; readonly stored: CompletedRecord }
  /** Its target is invoked with it. */
  | { readonly kind: 'invoke'; readonly record: SourceRecord };

/** The error path's failure of an entry that did not decode or could not be keyed. */
function entryFailure(w: FailedWork): Failure {
  return {
    error: w.error,
    records: w.record ? [w.record] : [],
    raw: w.raw,
    start: w.offset,
    end: nextPosition(w.offset),
    inputPayload: w.record ? JSON.stringify(w.record.raw) : undefined,
  };
}

/** Whether another invocation holds the key (strict mode, or the range store's lease of the partition). */
function heldElsewhere(run: PartitionRun, pass: PartitionPass, key: string): boolean {
  return pass.heldElsewhere.has(key) || run.session?.inProgress.has(key) === true;
}

/** A done record the target runs again: its result was neither stored nor relayed, or (for a copy) not kept. */
function runsAgain(stored: CompletedRecord, record: SourceRecord): boolean {
  return stored.relayPending === true || (!sameRecord(stored, record) && unkeptResult(stored));
}

/** A stored result to relay again. */
function relayable(stored: CompletedRecord): boolean {
  return stored.outcome === 'responded' && !stored.resultOmitted;
}

/** Whether the store completed the key for this record (not for another record sharing its key). */
function sameRecord(stored: CompletedRecord, record: RecordCoordinates): boolean {
  return (
    stored.topic === undefined ||
    (stored.topic === record.topic &&
      String(stored.partition) === String(record.partition) &&
      String(stored.offset) === String(record.offset))
  );
}

/** A responded record whose result was not stored (too big): nothing to relay again for another record. */
function unkeptResult(stored: CompletedRecord | undefined): boolean {
  return stored !== undefined && stored.outcome === 'responded' && stored.resultOmitted;
}

export { isEmptyEvent } from './source';

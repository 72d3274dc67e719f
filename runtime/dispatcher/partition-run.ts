/** One event's progress per topic-partition (Kinesis: per shard), and the partial batch response built from it. */
import type { InvocationOutcome, RecordCoordinates, TargetInvocationError } from '../errors';
import type { IdempotencySession, RecordOutcome } from '../idempotency/store';
import { ErrorItem, fitErrorItem } from '../kafka/error-records';
import { comparePositions, EventSourceKind, nextPosition, Position, SourceRecord } from './source';

/** The partial batch response of a Kafka event source mapping: per failed topic-partition, the offset to retry from. */
export interface KafkaBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: { readonly partition: string; readonly offset: number } }[];
}

/** The partial batch response of a Kinesis event source mapping (https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html): the sequence numbers to retry from. */
export interface KinesisBatchResponse {
  readonly batchItemFailures: { readonly itemIdentifier: string }[];
}

/** What the dispatcher returns: the partial batch response in the format of the event's source. */
export type DispatcherResponse = KafkaBatchResponse | KinesisBatchResponse;

/** A record of the event that decoded and was keyed: it is invoked, unless done or its key is an earlier record's. */
export interface RecordWork {
  readonly kind: 'record';
  readonly offset: Position;
  readonly record: SourceRecord;
  readonly key: string;
  /** An earlier record of this event has the same key: it stands for this one, whose fate follows it. */
  shared: boolean;
}

/** An entry of the event that did not decode or could not be keyed: it takes the error path. */
export interface FailedWork {
  readonly kind: 'failed';
  readonly offset: Position;
  /** Its key when it has one, else its coordinates' key: what it is remembered by once its failure is handled. */
  readonly key: string;
  readonly error: Error;
  /** The decoded record, when only its schema decoding or its key failed. */
  readonly record?: SourceRecord;
  /** The event's entry, for an error without a decoded record. */
  readonly raw?: unknown;
}

/** One entry of a partition's work, in offset order. */
export type Work = RecordWork | FailedWork;

/** A record that shares its key with an earlier one of the event. */
export const isShared = (w: Work): w is RecordWork => w.kind === 'record' && w.shared;

/** How a key ended in this event (or in an earlier one, from the store): what its other records follow. */
export interface Fate {
  /** The partition run of the record the key was done for; undefined when it was done in an earlier event. */
  readonly run?: PartitionRun;
  readonly record: Partial<RecordCoordinates>;
  readonly outcome: RecordOutcome;
  readonly result?: unknown;
  /** For a logged failure: whether the target may have run the record. */
  invocationOutcome?: InvocationOutcome;
}

/** A failure of records [start, end) for the error path. */
export interface Failure {
  readonly error: Error;
  /** The decoded records; empty for an entry that could not be decoded (then raw holds it). */
  readonly records: readonly SourceRecord[];
  readonly raw?: unknown;
  readonly start: Position;
  readonly end: Position;
  readonly inputPayload?: string;
  readonly details?: TargetInvocationError['details'];
  readonly outcome?: InvocationOutcome;
  /** Remember the records as done in the store. @default true */
  readonly remember?: boolean;
  /** The target the records were for. @default - the dispatcher's default target */
  readonly functionName?: string;
}

/** Per topic-partition (Kinesis: per shard) progress of one event. */
export class PartitionRun {
  stopped = false;
  /** Offset (Kinesis: sequence number) the ESM must retry from (partial batch response), when the partition did not finish. */
  retryFrom?: Position;
  readonly errors: Error[] = [];
  readonly acquired = new Set<string>();
  /** The event's idempotency session, once the store is read. */
  session?: IdempotencySession;
  /** A redrive's event: records whose failure was handled before are taken again (strict mode). */
  rerunFailed = false;
  constructor(
    /** "topic-partition", or "stream-shardId" for Kinesis. */
    public readonly topicPartition: string,
    public readonly topic: string,
    public readonly partition: number | string,
    /** The event's fates by key, shared by its partitions. */
    public readonly fates: Map<string, Fate>,
  ) {}

  /** Stops the partition; the ESM retries it from the lowest offset any stop named. */
  stop(offset: Position, error: Error): void {
    this.stopped = true;
    if (this.retryFrom === undefined || comparePositions(offset, this.retryFrom) < 0) this.retryFrom = offset;
    this.errors.push(error);
  }

  /** Whether the record at this offset is acknowledged: the partition is not retried from it or before it. */
  acknowledges(offset: Position): boolean {
    return this.retryFrom === undefined || comparePositions(offset, this.retryFrom) < 0;
  }
}

/**
 * Kafka: `{ partition: "<topic>-<n>", offset }` per failed partition. Kinesis: the sequence number of each
 * failed shard's first unfinished record; the mapping retries the shard from the lowest one reported.
 */
export function partialBatchResponse(kind: EventSourceKind, failed: readonly PartitionRun[]): DispatcherResponse {
  if (kind === 'kinesis') return { batchItemFailures: failed.map((r) => ({ itemIdentifier: String(r.retryFrom) })) };
  return {
    batchItemFailures: failed.map((r) => ({ itemIdentifier: { partition: r.topicPartition, offset: r.retryFrom as number } })),
  };
}

/**
 * The error record of a failure: its records as the event carried them (or the entry that could not be decoded), each
 * with its offset, and the input payload. The relay fits it to the error topic's max.message.bytes when it sends it
 * (KafkaRelay.sendErrors); given maxMessageBytes, it is fitted here: split in bytes over several error records, the
 * input payload on the first when it fits there, a record too big for any given by its coordinates, sizes and digests.
 */
export function errorItems(run: PartitionRun, f: Failure, functionName: string, maxMessageBytes?: number): ErrorItem[] {
  const base = {
    topic: run.topic,
    partition: run.partition,
    functionName,
    outcome: f.outcome ?? 'failed',
    inputPayload: f.inputPayload,
    details: f.details ?? {
      statusCode: 0,
      functionError: f.error.name,
      payload: JSON.stringify({ errorType: f.error.name, errorMessage: f.error.message }),
    },
  };
  const item: ErrorItem =
    f.records.length === 0
      ? { ...base, startOffset: f.start, endOffset: f.end, records: [f.raw ?? null], offsets: [f.start] }
      : {
          ...base,
          startOffset: f.records[0].offset,
          endOffset: nextPosition(f.records[f.records.length - 1].offset),
          records: f.records.map((r) => r.raw),
          offsets: f.records.map((r) => r.offset),
        };
  return maxMessageBytes === undefined ? [item] : fitErrorItem(item, maxMessageBytes);
}

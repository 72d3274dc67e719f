/**
 * Coordinates of a record: what every record-level error names. Kafka: topic, partition number, offset.
 * Kinesis: stream name, shard id (a string) and sequence number (a decimal string, beyond a number's precision).
 */
export interface RecordCoordinates {
  readonly topic: string;
  readonly partition: number | string;
  readonly offset: number | string;
}

/** The position before an exclusive end: offset - 1, or sequence number - 1 (as a decimal string). */
function previousPosition(end: number | string): number | string {
  return typeof end === 'number' ? end - 1 : (BigInt(end) - 1n).toString();
}

/** "topic-partition" (Kafka) or "stream/shardId" (Kinesis: the shard id is a string). */
export function sourceName(topic: string, partition: number | string): string {
  return typeof partition === 'string' ? `${topic}/${partition}` : `${topic}-${partition}`;
}

/** "Kafka record topic-partition@offset" or "Kinesis record stream/shardId@sequenceNumber". */
function at(c: RecordCoordinates): string {
  return `${typeof c.partition === 'string' ? 'Kinesis' : 'Kafka'} record ${sourceName(c.topic, c.partition)}@${c.offset}`;
}

/** The event is not a Kafka event source mapping event (SelfManagedKafka or aws:kafka), or its records are not grouped as the ESM sends them. */
export class KafkaEventDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaEventDecodeError';
  }
}

/** One record of the event cannot be decoded (e.g. a key or value that is not base64). */
export class KafkaRecordDecodeError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number,
    public readonly offset: number,
    reason: string,
  ) {
    super(`${at({ topic, partition, offset })}: ${reason}`);
    this.name = 'KafkaRecordDecodeError';
  }
}

/** The idempotency key cannot be derived from the record (e.g. the value is not JSON or lacks the field). */
export class IdempotencyKeyError extends Error implements RecordCoordinates {
  constructor(public readonly topic: string, public readonly partition: number | string, public readonly offset: number | string, reason: string) {
    super(`${at({ topic, partition, offset })}: no idempotency key: ${reason}`);
    this.name = 'IdempotencyKeyError';
  }
}

/** Another invocation holds the record in progress (strict idempotency); it is retried later. */
export class IdempotencyInProgressError extends Error implements RecordCoordinates {
  constructor(public readonly topic: string, public readonly partition: number | string, public readonly offset: number | string, public readonly key: string) {
    super(`${at({ topic, partition, offset })}: idempotency key ${JSON.stringify(key)} is in progress in another invocation`);
    this.name = 'IdempotencyInProgressError';
  }
}

/** A single record's invocation payload exceeds the Lambda invocation payload limit. */
export class PayloadTooLargeError extends Error implements RecordCoordinates {
  constructor(public readonly topic: string, public readonly partition: number | string, public readonly offset: number | string, bytes: number, limit: number) {
    super(`${at({ topic, partition, offset })}: invocation payload of ${bytes} bytes exceeds the limit of ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/** Invoking the target failed: a function error, a malformed response, or retries exhausted. */
export class TargetInvocationError extends Error {
  constructor(
    message: string,
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly startOffset: number | string,
    /** Exclusive: the last record's offset (or sequence number) + 1. */
    public readonly endOffset: number | string,
    public readonly details: InvocationFailureDetails,
  ) {
    super(`${sourceName(topic, partition)}@${startOffset}..${previousPosition(endOffset)}: ${message}`);
    this.name = 'TargetInvocationError';
  }
}

/** What the Lambda Invoke API answered, as seed 000's error schema records it. */
export interface InvocationFailureDetails {
  readonly statusCode: number;
  readonly functionError: string;
  readonly logResult?: string;
  readonly payload?: string;
  readonly executedVersion?: string;
}

/** Not enough of the dispatcher's time is left to start more work; the rest is retried by the ESM. */
export class RemainingTimeExhaustedError extends Error {
  constructor(remainingMs: number, marginMs: number) {
    super(`${remainingMs} ms of invocation time left, under the margin of ${marginMs} ms: stopping before starting more work`);
    this.name = 'RemainingTimeExhaustedError';
  }
}

/** Records failed and the error behaviour is fail: thrown so the event source mapping retries the batch. */
export class BatchFailedError extends Error {
  constructor(public readonly failures: readonly Error[]) {
    super(`${failures.length} failure(s): ${failures.slice(0, 3).map((f) => f.message).join('; ')}${failures.length > 3 ? '; ...' : ''}`);
    this.name = 'BatchFailedError';
  }
}

/** Relaying to Kafka failed (connection, authentication, or a produce error). */
export class RelayError extends Error {
  constructor(message: string, public readonly cause?: unknown) {
    super(message);
    this.name = 'RelayError';
  }
}

/** The event is neither a Kafka (SelfManagedKafka, aws:kafka) nor a Kinesis (aws:kinesis) event source mapping event. */
export class UnsupportedEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedEventError';
  }
}

/** The event is not a Kinesis event source mapping event (aws:kinesis), or a shard's records are out of order. */
export class KinesisEventDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KinesisEventDecodeError';
  }
}

/** One Kinesis record cannot be decoded; names stream, shard and sequence number. */
export class KinesisRecordDecodeError extends Error {
  constructor(
    public readonly stream: string,
    public readonly shardId: string,
    public readonly sequenceNumber: string,
    reason: string,
  ) {
    super(`Kinesis record ${stream}/${shardId}@${sequenceNumber}: ${reason}`);
    this.name = 'KinesisRecordDecodeError';
  }
}

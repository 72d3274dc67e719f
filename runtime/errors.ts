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

/**
 * Keeps the record as the event carried it on an error, for the error path, without making it enumerable: a
 * logged error (JSON, spread) never writes record bytes.
 */
function attachRaw(error: Error, raw: unknown): void {
  if (raw !== undefined) hide(error, 'raw', raw);
}

/**
 * Sets a property that is read by code but not enumerated: the Lambda runtime writes every enumerable property of
 * a thrown error to the function's log, and an invocation's answer or a cause may hold record data.
 */
function hide(error: Error, name: string, value: unknown): void {
  Object.defineProperty(error, name, { value, enumerable: false, writable: false, configurable: true });
}

/**
 * One record of the event cannot be decoded (e.g. a key or value that is not base64, or a record without an
 * offset). The message names the record's coordinates, never its bytes.
 */
export class KafkaRecordDecodeError extends Error implements RecordCoordinates {
  /** The record as the event carried it (not enumerable: logging the error does not write it). */
  declare readonly raw?: unknown;
  constructor(
    public readonly topic: string,
    public readonly partition: number,
    /** The record's offset; for a record without a usable offset, the position its partition is retried from. */
    public readonly offset: number,
    reason: string,
    raw?: unknown,
  ) {
    super(`${at({ topic, partition, offset })}: ${reason}`);
    this.name = 'KafkaRecordDecodeError';
    attachRaw(this, raw);
  }
}

/** The idempotency key cannot be derived from the record (e.g. the value is not JSON or lacks the field). */
export class IdempotencyKeyError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
    reason: string,
  ) {
    super(`${at({ topic, partition, offset })}: no idempotency key: ${reason}`);
    this.name = 'IdempotencyKeyError';
  }
}

/**
 * Another invocation holds the record's idempotency key in progress (strict idempotency); it is retried later.
 * The message names the record, not the key (a key from the value is record data).
 */
export class IdempotencyInProgressError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
  ) {
    super(`${at({ topic, partition, offset })}: its idempotency key is in progress in another invocation`);
    this.name = 'IdempotencyInProgressError';
  }
}

/**
 * The partition's idempotency lease passed to another invocation (this one outlived its deadline): what this
 * invocation did is not recorded, and the partition is retried from here.
 */
export class IdempotencyLeaseLostError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
  ) {
    super(`${at({ topic, partition, offset })}: another invocation holds the partition's idempotency lease`);
    this.name = 'IdempotencyLeaseLostError';
  }
}

/**
 * A record shares its idempotency key with another record of the same event, which stands for it, and that
 * record did not finish: this record is retried from its offset with its partition.
 */
export class SharedKeyPendingError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
    first: RecordCoordinates,
  ) {
    super(
      `${at({ topic, partition, offset })}: shares its idempotency key with ${at(first)}, which did not finish; retried with its partition`,
    );
    this.name = 'SharedKeyPendingError';
  }
}

/** A record shares its idempotency key with a record that failed and went to the error path: it follows it there. */
export class SharedKeyFailedError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
    first: Partial<RecordCoordinates>,
  ) {
    super(
      `${at({ topic, partition, offset })}: shares its idempotency key with ${first.topic === undefined ? 'a record' : at(first as RecordCoordinates)} that failed`,
    );
    this.name = 'SharedKeyFailedError';
  }
}

/** A single record's invocation payload exceeds the Lambda invocation payload limit. */
export class PayloadTooLargeError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
    bytes: number,
    limit: number,
  ) {
    super(`${at({ topic, partition, offset })}: invocation payload of ${bytes} bytes exceeds the limit of ${limit} bytes`);
    this.name = 'PayloadTooLargeError';
  }
}

/**
 * How an invocation ended: failed (the target answered with an error, or was never reached), or unknown (the
 * call was cut off while the target may still have run it: a timeout or a dropped connection).
 */
export type InvocationOutcome = 'failed' | 'unknown';

/** Invoking the target failed: a function error, a malformed response, retries exhausted, or an unknown outcome. */
export class TargetInvocationError extends Error {
  /** What the Invoke API answered (the target's error payload, its log tail): for the error topic, not enumerable. */
  declare readonly details: InvocationFailureDetails;
  constructor(
    message: string,
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly startOffset: number | string,
    /** Exclusive: the last record's offset (or sequence number) + 1. */
    public readonly endOffset: number | string,
    details: InvocationFailureDetails,
    public readonly outcome: InvocationOutcome = 'failed',
  ) {
    super(`${sourceName(topic, partition)}@${startOffset}..${previousPosition(endOffset)}: ${message}`);
    hide(this, 'details', details);
    this.name = 'TargetInvocationError';
  }
}

/**
 * Assuming the role the target is invoked with failed (refused, throttled, STS unreachable): the invocation never
 * reached Lambda, so its records did not run. Carries the STS error's status and retryability.
 */
export class TargetRoleError extends Error {
  /** STS's HTTP status (0 when STS did not answer), read by the invoker's retry rule. */
  public readonly $metadata: { readonly httpStatusCode?: number };
  public readonly $retryable?: unknown;
  constructor(
    public readonly roleArn: string,
    cause: Error & { $metadata?: { httpStatusCode?: number }; $retryable?: unknown },
  ) {
    super(`assuming ${roleArn} failed: ${cause.name}: ${cause.message}`);
    this.name = 'TargetRoleError';
    const status = cause.$metadata?.httpStatusCode;
    this.$metadata = { httpStatusCode: status ?? 0 };
    // No answer from STS, or STS throttling: worth another attempt; a refusal (AccessDenied) is not.
    this.$retryable = cause.$retryable ?? (status === undefined || cause.name === 'Throttling' ? true : undefined);
  }
}

/** What the Lambda Invoke API answered, as the Confluent connector's error records hold it. */
export interface InvocationFailureDetails {
  readonly statusCode: number;
  readonly functionError: string;
  readonly logResult?: string;
  readonly payload?: string;
  readonly executedVersion?: string;
}

/** No route of the dispatcher takes the record, and it has no default target: the record takes the error path. */
export class UnroutedRecordError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
  ) {
    super(`${at({ topic, partition, offset })}: no route takes it and the dispatcher has no default target`);
    this.name = 'UnroutedRecordError';
  }
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
  /** The failures, not enumerable (the Lambda runtime logs a thrown error's enumerable properties). */
  declare readonly failures: readonly Error[];
  constructor(failures: readonly Error[]) {
    super(
      `${failures.length} failure(s): ${failures
        .slice(0, 3)
        .map((f) => f.message)
        .join('; ')}${failures.length > 3 ? '; ...' : ''}`,
    );
    this.name = 'BatchFailedError';
    hide(this, 'failures', failures);
  }
}

/** Relaying to Kafka failed (connection, authentication, or a produce error). */
export class RelayError extends Error {
  /** The client library's error, not enumerable. */
  declare readonly cause?: unknown;
  constructor(message: string, cause?: unknown) {
    super(message);
    hide(this, 'cause', cause);
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

/** One Kinesis record cannot be decoded; names stream, shard and sequence number, never the record's data. */
export class KinesisRecordDecodeError extends Error {
  /** The record as the event carried it (not enumerable: logging the error does not write it). */
  declare readonly raw?: unknown;
  constructor(
    public readonly stream: string,
    public readonly shardId: string,
    public readonly sequenceNumber: string,
    reason: string,
    raw?: unknown,
  ) {
    super(`Kinesis record ${stream}/${shardId}@${sequenceNumber}: ${reason}`);
    this.name = 'KinesisRecordDecodeError';
    attachRaw(this, raw);
  }
}

/** Which part of a record a schema decodes. */
export type RecordField = 'key' | 'value';

/**
 * A record's key or value does not decode with its schema: its framing is not the configured wire format, the
 * schema it names does not exist, or its bytes do not match the schema. A poison record: it takes the error path.
 * The message names the record's coordinates and the schema id, never the bytes.
 */
export class SchemaDecodeError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
    public readonly field: RecordField,
    /** The schema the bytes name ("confluent:42", "glue:<schema version id>"), when the framing named one. */
    public readonly schemaId: string | undefined,
    reason: string,
  ) {
    super(
      `${at({ topic, partition, offset })}: ${field}${schemaId === undefined ? '' : ` (schema ${schemaId})`} does not decode: ${reason}`,
    );
    this.name = 'SchemaDecodeError';
  }
}

/**
 * The schema registry could not be reached or answered with a server error or throttling: the record is not at
 * fault, so its partition is retried from it (never sent to the error path).
 */
export class SchemaRegistryUnavailableError extends Error implements RecordCoordinates {
  constructor(
    public readonly topic: string,
    public readonly partition: number | string,
    public readonly offset: number | string,
    public readonly field: RecordField,
    public readonly schemaId: string,
    reason: string,
  ) {
    super(`${at({ topic, partition, offset })}: ${field} schema ${schemaId} could not be fetched: ${reason}`);
    this.name = 'SchemaRegistryUnavailableError';
  }
}

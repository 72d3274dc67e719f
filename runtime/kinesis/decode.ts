import { base64 } from '../base64';
import type { DecodedFields, KafkaHeader } from '../kafka/decode';
import { KinesisEventDecodeError, KinesisRecordDecodeError } from '../errors';

/** One entry of `Records` as the Kinesis event source mapping sends it (https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html). */
export interface RawKinesisRecord {
  readonly kinesis: {
    readonly kinesisSchemaVersion?: string;
    readonly partitionKey: string;
    /** Decimal digits, up to 128: more than a double holds. */
    readonly sequenceNumber: string;
    /** Base64. */
    readonly data: string;
    /** Unix seconds with milliseconds as the fraction. */
    readonly approximateArrivalTimestamp: number;
  };
  readonly eventSource: string;
  /** "shardId-000000000006:<sequenceNumber>". */
  readonly eventID: string;
  readonly eventSourceARN: string;
  readonly awsRegion?: string;
}

/** The event a Kinesis event source mapping invokes its function with. */
export interface KinesisEvent {
  readonly Records: readonly RawKinesisRecord[];
}

/**
 * A decoded Kinesis record, shaped like KafkaRecord where the two meet: topic is the stream name,
 * partition the shard id, key the partition key, value the data, timestamp the arrival time in ms.
 * The sequence number stays a string: 56 or more digits do not fit a number without losing precision.
 */
export class KinesisRecord {
  /** The data decoded with its schema, when the dispatcher has a value schema format. */
  decoded?: DecodedFields;

  constructor(
    /** The stream name. */
    public readonly topic: string,
    /** The shard id, e.g. "shardId-000000000006". */
    public readonly partition: string,
    public readonly sequenceNumber: string,
    /** Approximate arrival time, Unix milliseconds. */
    public readonly timestamp: number,
    public readonly partitionKey: string,
    /** The data. */
    public readonly value: Buffer,
    /** The record exactly as the event carried it. */
    public readonly raw: RawKinesisRecord,
  ) {}

  /**
   * The sequence number, as the dispatcher's payloads, keys and errors name a record's position: where a
   * Kafka record has a numeric offset, a Kinesis record has this decimal string.
   */
  get offset(): string {
    return this.sequenceNumber;
  }

  /** Kinesis records carry no headers. */
  get headers(): readonly KafkaHeader[] {
    return NO_HEADERS;
  }

  /** The arrival time is set by Kinesis when it accepts the record: Kafka's LogAppendTime. */
  get timestampType(): string {
    return 'LOG_APPEND_TIME';
  }

  /** "stream-shardId", the unit of ordering. */
  get topicPartition(): string {
    return `${this.topic}-${this.partition}`;
  }

  /** "stream-shardId-sequenceNumber": unique per record of a stream, the default idempotency key. */
  get coordinates(): string {
    return `${this.topic}-${this.partition}-${this.sequenceNumber}`;
  }

  /** The partition key as UTF-8 bytes, like a Kafka record's key. */
  get key(): Buffer {
    return Buffer.from(this.partitionKey, 'utf8');
  }

  /** Calls `read` with the partition key's bytes or the data, as a Kafka record's readBytes does. */
  readBytes<T>(field: 'key' | 'value', read: (bytes: Buffer | null) => T): T {
    return read(field === 'key' ? this.key : this.value);
  }

  /** The partition key (always text). */
  keyAsText(): string {
    return this.partitionKey;
  }

  /** The partition key parsed as JSON. Throws KinesisRecordDecodeError when it is not JSON. */
  keyAsJson<T = unknown>(): T {
    return this.parse<T>(this.partitionKey, 'partition key');
  }

  /** Kinesis records carry no headers: always undefined. */
  header(_name: string): Buffer | undefined {
    return undefined;
  }

  /** The data as UTF-8 text. */
  valueAsText(): string {
    return this.value.toString('utf8');
  }

  /** The data parsed as JSON. Throws KinesisRecordDecodeError when it is not JSON. */
  valueAsJson<T = unknown>(): T {
    return this.parse<T>(this.value.toString('utf8'), 'data');
  }

  private parse<T>(text: string, field: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new KinesisRecordDecodeError(
        this.topic,
        this.partition,
        this.sequenceNumber,
        `${field} is not JSON (${(e as Error).name})`,
      );
    }
  }
}

/** True for an event whose Records array holds aws:kinesis records, as a Kinesis event source mapping sends. */
export function isKinesisEvent(event: unknown): event is KinesisEvent {
  const records = (event as { Records?: unknown } | null | undefined)?.Records;
  return Array.isArray(records) && (records[0] as { eventSource?: unknown } | undefined)?.eventSource === 'aws:kinesis';
}

/** Result of decodeKinesisEventLenient: good records in input order, and one error per bad record. */
export interface LenientKinesisDecodeResult {
  readonly records: KinesisRecord[];
  readonly failures: KinesisRecordDecodeError[];
}

const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

const SEQUENCE_NUMBER = /^\d{1,128}$/;

/**
 * Decodes a Kinesis ESM event into records, in input order. Throws KinesisEventDecodeError when the event
 * is not a Kinesis event or a shard's sequence numbers do not increase, and KinesisRecordDecodeError
 * (naming stream, shard and sequence number) for the first record that cannot be decoded.
 */
export function decodeKinesisEvent(event: unknown): KinesisRecord[] {
  const { records, failures } = decodeKinesisEventLenient(event);
  if (failures.length > 0) throw failures[0];
  return records;
}

/**
 * Like decodeKinesisEvent, but a record that cannot be decoded does not stop the others: it is returned in
 * failures so the caller can send it to its error path (or report its sequence number as failed).
 */
export function decodeKinesisEventLenient(event: unknown): LenientKinesisDecodeResult {
  const raws = (event as Partial<KinesisEvent> | null)?.Records;
  if (typeof event !== 'object' || event === null || !Array.isArray(raws)) {
    throw new KinesisEventDecodeError('not a Kinesis event: expected an object with a Records array');
  }
  const records: KinesisRecord[] = [];
  const failures: KinesisRecordDecodeError[] = [];
  const lastSequence = new Map<string, bigint>();
  for (let i = 0; i < raws.length; i++) {
    const raw = raws[i] as RawKinesisRecord;
    if (
      typeof raw !== 'object' ||
      raw === null ||
      raw.eventSource !== 'aws:kinesis' ||
      typeof raw.kinesis !== 'object' ||
      raw.kinesis === null
    ) {
      throw new KinesisEventDecodeError(
        `Records[${i}] is not a Kinesis record: eventSource is ${JSON.stringify(raw?.eventSource)}, expected "aws:kinesis" with a kinesis object`,
      );
    }
    const stream = /:stream\/([^/]+)/.exec(String(raw.eventSourceARN))?.[1];
    const colon = typeof raw.eventID === 'string' ? raw.eventID.indexOf(':') : -1;
    const shardId = colon > 0 ? raw.eventID.slice(0, colon) : undefined;
    const seq = raw.kinesis.sequenceNumber;
    if (stream === undefined || shardId === undefined) {
      throw new KinesisEventDecodeError(
        `Records[${i}] (sequence number ${JSON.stringify(seq)}) has eventSourceARN ${JSON.stringify(raw.eventSourceARN)} and eventID ${JSON.stringify(raw.eventID)}: expected arn:…:stream/<name> and "<shardId>:<sequenceNumber>"`,
      );
    }
    if (typeof seq !== 'string' || !SEQUENCE_NUMBER.test(seq) || raw.eventID.slice(colon + 1) !== seq) {
      throw new KinesisEventDecodeError(
        `Records[${i}] of ${stream}/${shardId} has sequence number ${JSON.stringify(seq)} and eventID ${JSON.stringify(raw.eventID)}: a sequence number is decimal digits and ends the eventID`,
      );
    }
    // Compared as bigints: sequence numbers of one shard need not have the same number of digits.
    const n = BigInt(seq);
    const previous = lastSequence.get(shardId);
    if (previous !== undefined && n <= previous) {
      throw new KinesisEventDecodeError(
        `Records[${i}] of ${stream}/${shardId} has sequence number ${seq} after ${previous}: sequence numbers must increase within a shard`,
      );
    }
    lastSequence.set(shardId, n);
    const fail = (reason: string) => failures.push(new KinesisRecordDecodeError(stream, shardId, seq, reason, raw));
    const data = base64(raw.kinesis.data);
    if (data === undefined || data === null) {
      fail(`data is not valid base64 (${typeOf(raw.kinesis.data)})`);
      continue;
    }
    if (typeof raw.kinesis.partitionKey !== 'string') {
      fail(`partitionKey must be a string, got ${typeOf(raw.kinesis.partitionKey)}`);
      continue;
    }
    const arrival = raw.kinesis.approximateArrivalTimestamp;
    if (typeof arrival !== 'number' || !Number.isFinite(arrival)) {
      fail(`approximateArrivalTimestamp must be a number of seconds, got ${typeOf(arrival)}`);
      continue;
    }
    records.push(new KinesisRecord(stream, shardId, seq, Math.round(arrival * 1000), raw.kinesis.partitionKey, data, raw));
  }
  return { records, failures };
}

/** What a value is, for a message, never what it holds: record data stays out of logs and exceptions. */
function typeOf(v: unknown): string {
  return v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'string'
        ? `a string of ${v.length} characters`
        : typeof v;
}

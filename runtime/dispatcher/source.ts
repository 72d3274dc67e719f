/**
 * What the dispatcher reads: a Kafka (SelfManagedKafka, aws:kafka) or a Kinesis (aws:kinesis) event source
 * mapping event, told apart by its shape, decoded into records that share the Kafka record's fields.
 *
 * Kinesis maps onto Kafka's coordinates as: topic = the stream name, partition = the shard id (a string,
 * "shardId-000000000006"), offset = the sequence number (a decimal string: 56 or more digits do not fit a
 * number). A shard is a partition: the unit of ordering and of the partial batch response.
 */
import { decodeKafkaEventLenient, KAFKA_EVENT_SOURCES, KafkaEvent, KafkaRecord, LenientDecodeResult } from '../kafka/decode';
import { UnsupportedEventError } from '../errors';
import { isRedriveEvent } from '../../contract/redrive-event';
import {
  decodeKinesisEvent,
  decodeKinesisEventLenient,
  isKinesisEvent,
  KinesisEvent,
  KinesisRecord,
  LenientKinesisDecodeResult,
} from '../kinesis/decode';

/** A decoded record of either source. */
export type SourceRecord = KafkaRecord | KinesisRecord;

/** A record's position in its partition: a Kafka offset, or a Kinesis sequence number. */
export type Position = number | string;

export type EventSourceKind = 'kafka' | 'kinesis';

/** A record that could not be decoded, with its coordinates, for the error path. */
export interface RecordFailure {
  readonly topic: string;
  readonly partition: number | string;
  readonly offset: Position;
  readonly error: Error;
  /** The record as the event carried it, for the error path (its bytes are kept there, never logged). */
  readonly raw?: unknown;
}

export interface DecodedEvent {
  readonly kind: EventSourceKind;
  /** Good records in the event's order. */
  readonly records: SourceRecord[];
  readonly failures: RecordFailure[];
  /** What the raw payload format repeats around a batch's records. */
  readonly envelope: RawEventEnvelope;
  /** A redrive's event: records whose failure was handled before run again (REDRIVE_EVENT_FIELD). */
  readonly redrive: boolean;
}

/**
 * Which source sent this event: Kinesis when it has a Records array whose first entry says aws:kinesis,
 * Kafka when its eventSource is a Kafka one or it has a records map. Anything else throws
 * UnsupportedEventError naming what the event has.
 */
export function eventSourceKind(event: unknown): EventSourceKind {
  if (typeof event === 'object' && event !== null && !Array.isArray(event)) {
    const e = event as { eventSource?: unknown; records?: unknown; Records?: unknown };
    if (isKinesisEvent(event)) return 'kinesis';
    if ((typeof e.eventSource === 'string' && KAFKA_EVENT_SOURCES.has(e.eventSource)) || e.records !== undefined) return 'kafka';
    const first = Array.isArray(e.Records) ? (e.Records[0] as { eventSource?: unknown } | undefined)?.eventSource : undefined;
    throw new UnsupportedEventError(
      `not a Kafka or Kinesis event: eventSource is ${JSON.stringify(e.eventSource ?? first)}, fields ${JSON.stringify(Object.keys(event).slice(0, 8))}; ` +
        'expected "SelfManagedKafka" or "aws:kafka" with a records map, or a Records array of "aws:kinesis" records',
    );
  }
  throw new UnsupportedEventError(
    `not a Kafka or Kinesis event: expected an object, got ${event === null ? 'null' : Array.isArray(event) ? 'an array' : typeof event}`,
  );
}

/**
 * Decodes either event leniently: a record that cannot be decoded is a failure naming its coordinates; a
 * malformed event throws KafkaEventDecodeError, KinesisEventDecodeError or UnsupportedEventError.
 */
export function decodeSourceEvent(event: unknown): DecodedEvent {
  const kind = eventSourceKind(event);
  if (kind === 'kinesis') {
    const { records, failures } = decodeKinesisEventLenient(event);
    return {
      kind,
      records,
      failures: failures.map((f) => ({ topic: f.stream, partition: f.shardId, offset: f.sequenceNumber, error: f, raw: f.raw })),
      envelope: { eventSource: 'aws:kinesis' },
      redrive: isRedriveEvent(event),
    };
  }
  const { records, failures } = decodeKafkaEventLenient(event as KafkaEvent);
  const e = event as { eventSource: string; eventSourceArn?: string; bootstrapServers?: string };
  return {
    kind,
    records,
    failures: failures.map((f) => ({ topic: f.topic, partition: f.partition, offset: f.offset, error: f, raw: f.raw })),
    envelope: { eventSource: e.eventSource, eventSourceArn: e.eventSourceArn, bootstrapServers: e.bootstrapServers },
    redrive: isRedriveEvent(event),
  };
}

/** Orders positions of one partition; sequence numbers are compared as bigints (their lengths may differ). */
export function comparePositions(a: Position, b: Position): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** The exclusive end after a position: offset + 1, or sequence number + 1 as a decimal string. */
export function nextPosition(p: Position): Position {
  return typeof p === 'number' ? p + 1 : (BigInt(p) + 1n).toString();
}

/** What the raw payload format keeps of the event around the records. */
export interface RawEventEnvelope {
  readonly eventSource: string;
  readonly eventSourceArn?: string;
  readonly bootstrapServers?: string;
}

/**
 * What decodeEvent returns for an event of type E: KinesisRecord[] for a Kinesis event, KafkaRecord[] for a
 * Kafka event, and either for an event of unknown type (the shapes share topic, partition, offset, timestamp,
 * key, value, headers and the keyAs…/valueAs…/header helpers).
 */
export type DecodedRecords<E> = E extends KinesisEvent
  ? KinesisRecord[]
  : E extends KafkaEvent
    ? KafkaRecord[]
    : KafkaRecord[] | KinesisRecord[];

/** What decodeEventLenient returns for an event of type E, chosen as DecodedRecords is. */
export type LenientDecodedRecords<E> = E extends KinesisEvent
  ? LenientKinesisDecodeResult
  : E extends KafkaEvent
    ? LenientDecodeResult
    : LenientDecodeResult | LenientKinesisDecodeResult;

/**
 * Decodes a Kafka ESM event into records, in input order: topic-partition groups in the event's
 * order, records in array order. Throws KafkaEventDecodeError when the event is not a Kafka event or
 * its records are not grouped as the ESM sends them, and KafkaRecordDecodeError (naming
 * topic-partition-offset) for the first record that cannot be decoded. A Kinesis event (aws:kinesis
 * records) is decoded by decodeKinesisEvent into KinesisRecords of the same shape.
 */
export function decodeEvent<E = unknown>(event: E): DecodedRecords<E> {
  if (isKinesisEvent(event)) return decodeKinesisEvent(event) as DecodedRecords<E>;
  const { records, failures } = decodeKafkaEventLenient(event);
  if (failures.length > 0) throw failures[0];
  return records as DecodedRecords<E>;
}

/**
 * Like decodeEvent, but a record that cannot be decoded does not stop the others: it is returned
 * in failures so the caller can send it to its error path. Event-level problems still throw.
 */
export function decodeEventLenient<E = unknown>(event: E): LenientDecodedRecords<E> {
  return (isKinesisEvent(event) ? decodeKinesisEventLenient(event) : decodeKafkaEventLenient(event)) as LenientDecodedRecords<E>;
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

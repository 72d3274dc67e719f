import { base64ToUtf8, isBase64, readBase64 } from '../base64';
import { KafkaEventDecodeError, KafkaRecordDecodeError } from '../errors';

/** A record as the Kafka event source mapping sends it (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html, https://docs.aws.amazon.com/lambda/latest/dg/with-msk.html). */
export interface RawKafkaRecord {
  readonly topic: string;
  /** A number for self-managed Kafka; MSK may send a string ("0"). */
  readonly partition: number | string;
  readonly offset: number | string;
  readonly timestamp: number;
  readonly timestampType: string;
  /** Base64; absent when the record has no key. */
  readonly key?: string | null;
  /** Base64; null for a tombstone. */
  readonly value?: string | null;
  /** Single-key objects: header name → byte values. */
  readonly headers?: ReadonlyArray<Record<string, number[]>>;
  /** With the mapping's schema registry: the key's data format and schema id. */
  readonly keySchemaMetadata?: SchemaMetadata;
  /** With the mapping's schema registry: the value's data format and schema id. */
  readonly valueSchemaMetadata?: SchemaMetadata;
}

/** What the event source mapping's schema registry adds to a record (https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html). */
export interface SchemaMetadata {
  /** AVRO, PROTOBUF or JSON. */
  readonly dataFormat?: string;
  /** A number (Confluent) or a UUID (Glue schema version id). */
  readonly schemaId?: string;
}

/** A key or value decoded with its schema (see runtime/schemas): what the JSON payload formats carry. */
export interface DecodedField {
  readonly value: unknown;
  /** "confluent:42", "glue:<uuid>", or the mapping's schema id. */
  readonly schemaId?: string;
  /** The Avro record or Protobuf message type's full name, or the JSON schema's title. */
  readonly schemaName?: string;
}

export interface DecodedFields {
  key?: DecodedField;
  value?: DecodedField;
}

/** The event a Kafka event source mapping invokes its function with. */
export interface KafkaEvent {
  readonly eventSource: string;
  readonly eventSourceArn?: string;
  readonly bootstrapServers?: string;
  /** Keyed "topic-partition", in the order the ESM sends them. */
  readonly records: Readonly<Record<string, readonly RawKafkaRecord[]>>;
}

export interface KafkaHeader {
  readonly key: string;
  readonly value: Buffer;
}

/** The eventSource values of Kafka event source mapping events. */
export const KAFKA_EVENT_SOURCES: ReadonlySet<string> = new Set(['SelfManagedKafka', 'aws:kafka']);

/**
 * A decoded Kafka record. A class (not object literals with closures) so the helpers live on the
 * prototype and decoding allocates only the record.
 *
 * Records from decodeEvent hold the key and value as the event's base64 text and the headers as the
 * event's byte arrays, all checked when the event was decoded: `key`, `value` and `headers` make their
 * Buffers on first access and return the same ones after that, and valueAsJson/valueAsText (and the key
 * ones) and readBytes decode the text without making a Buffer at all.
 */
export class KafkaRecord {
  /** The key: base64 text until first read, then its Buffer; null when the record has no key. */
  private _key: Buffer | string | null;
  /** The value: base64 text until first read, then its Buffer; null for a tombstone. */
  private _value: Buffer | string | null;
  /** The headers, once decoded. */
  private _headers: readonly KafkaHeader[] | undefined;
  /** The event's headers (checked) until `headers` decodes them. */
  private _rawHeaders: ReadonlyArray<Record<string, unknown>> | undefined;
  /** Key and value decoded with their schemas, when the dispatcher has schema formats. */
  decoded?: DecodedFields;

  constructor(
    public readonly topic: string,
    public readonly partition: number,
    public readonly offset: number,
    public readonly timestamp: number,
    public readonly timestampType: string,
    /** null when the record has no key. */
    key: Buffer | null,
    /** null for a tombstone. */
    value: Buffer | null,
    headers: readonly KafkaHeader[],
    /** The record exactly as the event carried it (used by the raw payload format). */
    public readonly raw: RawKafkaRecord,
  ) {
    this._key = key;
    this._value = value;
    this._headers = headers;
    this._rawHeaders = undefined;
  }

  /** null when the record has no key. The same Buffer on every access. */
  get key(): Buffer | null {
    const k = this._key;
    return typeof k === 'string' ? (this._key = Buffer.from(k, 'base64')) : k;
  }

  /** null for a tombstone. The same Buffer on every access. */
  get value(): Buffer | null {
    const v = this._value;
    return typeof v === 'string' ? (this._value = Buffer.from(v, 'base64')) : v;
  }

  /** The headers in the event's order; the same array (and Buffers) on every access. */
  get headers(): readonly KafkaHeader[] {
    let h = this._headers;
    if (h === undefined) {
      h = this._headers = decodeHeaders(this._rawHeaders!);
      this._rawHeaders = undefined;
    }
    return h;
  }

  /** "topic-partition", the key of the record's group in the event. */
  get topicPartition(): string {
    return `${this.topic}-${this.partition}`;
  }

  /** The key as UTF-8 text, or null. */
  keyAsText(): string | null {
    return utf8(this._key);
  }

  /** The value as UTF-8 text, or null. */
  valueAsText(): string | null {
    return utf8(this._value);
  }

  /** The value parsed as JSON, or null for a tombstone. Throws KafkaRecordDecodeError when it is not JSON. */
  valueAsJson<T = unknown>(): T | null {
    const text = utf8(this._value);
    return text === null ? null : this.parse<T>(text, 'value');
  }

  /** The key parsed as JSON, or null. Throws KafkaRecordDecodeError when it is not JSON. */
  keyAsJson<T = unknown>(): T | null {
    const text = utf8(this._key);
    return text === null ? null : this.parse<T>(text, 'key');
  }

  /**
   * Calls `read` with the key's or value's bytes (null when absent) without the record keeping a Buffer of them:
   * until the record has made its Buffer, the bytes are scratch space, valid only until `read` returns.
   */
  readBytes<T>(field: 'key' | 'value', read: (bytes: Buffer | null) => T): T {
    const slot = field === 'key' ? this._key : this._value;
    return typeof slot === 'string' ? readBase64(slot, read) : read(slot);
  }

  /** The first header with this name, or undefined. */
  header(name: string): Buffer | undefined {
    for (const h of this.headers) if (h.key === name) return h.value;
    return undefined;
  }

  /** What JSON.stringify writes: the decoded fields, as when they were own properties. */
  toJSON(): Record<string, unknown> {
    return {
      topic: this.topic,
      partition: this.partition,
      offset: this.offset,
      timestamp: this.timestamp,
      timestampType: this.timestampType,
      key: this.key,
      value: this.value,
      headers: this.headers,
      raw: this.raw,
    };
  }

  private parse<T>(text: string, field: string): T {
    try {
      return JSON.parse(text) as T;
    } catch (e) {
      throw new KafkaRecordDecodeError(this.topic, this.partition, this.offset, `${field} is not JSON (${(e as Error).name})`);
    }
  }
}

/** A key or value slot as UTF-8 text: a Buffer's text, or base64 text decoded without a Buffer. */
function utf8(field: Buffer | string | null): string | null {
  return field === null ? null : typeof field === 'string' ? base64ToUtf8(field) : field.toString('utf8');
}

/** Result of decodeEventLenient: good records in input order, and one error per bad record. */
export interface LenientDecodeResult {
  readonly records: KafkaRecord[];
  readonly failures: KafkaRecordDecodeError[];
}

/**
 * Each group must be keyed "topic-partition". A record that cannot be placed in its group (not an object, no
 * usable offset, offsets not increasing, another topic-partition's record) is a failure at the position its
 * partition is retried from: the offset after the previous good record, or, before the group's first good
 * record, that record's offset minus the bad records before it. Only a group with no addressable position
 * (its key is not "topic-partition", or no record has an offset) fails the event.
 */
/** Decodes a Kafka event, a record that cannot be decoded going to failures; event-level problems throw. */
export function decodeKafkaEventLenient(event: unknown): LenientDecodeResult {
  const groups = eventRecords(event);
  const records: KafkaRecord[] = [];
  const failures: KafkaRecordDecodeError[] = [];
  for (const groupKey of Object.keys(groups)) {
    const group = groups[groupKey];
    if (!Array.isArray(group)) {
      throw new KafkaEventDecodeError(`records["${groupKey}"] must be an array of records, got ${typeOf(group)}`);
    }
    const dash = groupKey.lastIndexOf('-');
    const topic = groupKey.slice(0, dash);
    const partition = dash > 0 ? toInteger(groupKey.slice(dash + 1)) : -1;
    if (partition < 0) {
      throw new KafkaEventDecodeError(
        `records["${groupKey}"]: records must be grouped by "topic-partition" as the event source mapping sends them`,
      );
    }
    // Offsets of the group's records, -1 where a record cannot be placed (and the reason why).
    const offsets: number[] = new Array(group.length).fill(-1);
    const reasons: (string | undefined)[] = new Array(group.length);
    let previous = -1;
    for (let i = 0; i < group.length; i++) {
      const raw = group[i] as RawKafkaRecord;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        reasons[i] = `records["${groupKey}"][${i}] must be a record object, got ${typeOf(raw)}`;
        continue;
      }
      const offset = toInteger(raw.offset);
      if (offset < 0) {
        reasons[i] =
          `records["${groupKey}"][${i}] has no usable offset (${typeOf(raw.offset)}): offsets must be non-negative integers`;
      } else if (raw.topic !== topic || toInteger(raw.partition) !== partition) {
        reasons[i] =
          `records["${groupKey}"][${i}] (offset ${offset}) names another topic-partition: records must be grouped by "topic-partition" as the event source mapping sends them`;
      } else if (offset <= previous) {
        reasons[i] =
          `records["${groupKey}"][${i}] has offset ${offset} after offset ${previous}: offsets must increase within a partition`;
      } else {
        offsets[i] = previous = offset;
      }
    }
    const firstGood = offsets.findIndex((o) => o >= 0);
    if (firstGood < 0 && group.length > 0) {
      throw new KafkaEventDecodeError(
        `records["${groupKey}"]: no record can be placed in the group, so the partition has no known position to be retried from; ${reasons[0]}`,
      );
    }
    let after = firstGood < 0 ? 0 : Math.max(0, offsets[firstGood] - firstGood);
    for (let i = 0; i < group.length; i++) {
      const raw = group[i] as RawKafkaRecord;
      if (reasons[i] !== undefined) {
        failures.push(new KafkaRecordDecodeError(topic, partition, after, reasons[i]!, raw));
        continue;
      }
      after = offsets[i] + 1;
      const record = decodeRecord(raw, topic, partition, offsets[i], failures);
      if (record !== undefined) records.push(record);
    }
  }
  return { records, failures };
}

function eventRecords(event: unknown): Readonly<Record<string, unknown>> {
  if (typeof event !== 'object' || event === null) {
    throw new KafkaEventDecodeError(`not a Kafka event: expected an object, got ${typeOf(event)}`);
  }
  const e = event as Partial<KafkaEvent>;
  if (typeof e.eventSource !== 'string' || !KAFKA_EVENT_SOURCES.has(e.eventSource)) {
    throw new KafkaEventDecodeError(
      `not a Kafka event: eventSource is ${JSON.stringify(e.eventSource)}, expected "SelfManagedKafka" or "aws:kafka" (or a Records array of "aws:kinesis" records)`,
    );
  }
  const records = e.records;
  if (typeof records !== 'object' || records === null || Array.isArray(records)) {
    throw new KafkaEventDecodeError(
      `not a Kafka event: records must be an object keyed "topic-partition", got ${typeOf(records)}`,
    );
  }
  return records;
}

function decodeRecord(
  raw: RawKafkaRecord,
  topic: string,
  partition: number,
  offset: number,
  failures: KafkaRecordDecodeError[],
): KafkaRecord | undefined {
  const fail = (reason: string) => {
    failures.push(new KafkaRecordDecodeError(topic, partition, offset, reason, raw));
    return undefined;
  };
  const key = raw.key ?? null;
  if (key !== null && !isBase64(key)) return fail(`key is not valid base64 (${typeOf(key)})`);
  const value = raw.value ?? null;
  if (value !== null && !isBase64(value)) return fail(`value is not valid base64 (${typeOf(value)})`);
  const headers = checkHeaders(raw.headers);
  if (headers === undefined)
    return fail('headers must be an array of single-key objects whose values are arrays of bytes (integers 0-255)');
  if (typeof raw.timestamp !== 'number' || !Number.isFinite(raw.timestamp))
    return fail(`timestamp must be a number of milliseconds, got ${typeOf(raw.timestamp)}`);
  const record = new KafkaRecord(topic, partition, offset, raw.timestamp, raw.timestampType, null, null, NO_HEADERS, raw);
  // The checked event text goes into the record's private slots, decoded on first access.
  const slots = record as unknown as RecordSlots;
  slots._key = key;
  slots._value = value;
  if (headers !== null) {
    slots._headers = undefined;
    slots._rawHeaders = headers;
  }
  return record;
}

/** KafkaRecord's private slots, as decodeRecord fills them. */
interface RecordSlots {
  _key: Buffer | string | null;
  _value: Buffer | string | null;
  _headers: readonly KafkaHeader[] | undefined;
  _rawHeaders: ReadonlyArray<Record<string, unknown>> | undefined;
}

const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

/**
 * Checks the shape of an event's headers without decoding them: the headers to decode later, null when
 * there are none, undefined when they are not an array of single-key objects whose values are arrays.
 */
function checkHeaders(raw: unknown): ReadonlyArray<Record<string, unknown>> | null | undefined {
  if (raw === undefined || raw === null) return null;
  if (!Array.isArray(raw)) return undefined;
  if (raw.length === 0) return null;
  for (let i = 0; i < raw.length; i++) {
    if (headerName(raw[i]) === undefined) return undefined;
  }
  return raw as ReadonlyArray<Record<string, unknown>>;
}

/** The name of a header as the event carries it ({ name: bytes }), or undefined when it has another shape. */
function headerName(h: unknown): string | undefined {
  if (typeof h !== 'object' || h === null) return undefined;
  let name: string | undefined;
  for (const k in h) {
    if (name !== undefined) return undefined; // more than one key
    name = k;
  }
  return name !== undefined && isByteArray((h as Record<string, unknown>)[name]) ? name : undefined;
}

/** An array of integers 0-255: Buffer.from would wrap anything else into a different byte without a word. */
function isByteArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (let i = 0; i < v.length; i++) {
    const b = v[i];
    if (typeof b !== 'number' || (b & 255) !== b) return false;
  }
  return true;
}

/** Headers that checkHeaders accepted, as names and Buffers of their bytes. */
function decodeHeaders(raw: ReadonlyArray<Record<string, unknown>>): readonly KafkaHeader[] {
  const headers: KafkaHeader[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const name = headerName(raw[i])!;
    headers[i] = { key: name, value: Buffer.from(raw[i][name] as number[]) };
  }
  return headers;
}

/** Integer from a number or a decimal string (MSK sends partition as a string); -1 when neither. */
function toInteger(v: unknown): number {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v : -1;
  if (typeof v === 'string' && v.length > 0 && v.length < 16) {
    const n = Number(v);
    return Number.isSafeInteger(n) && String(n) === v ? n : -1;
  }
  return -1;
}

/** What a value is, for a message, never what it holds: record bytes stay out of logs and exceptions. */
function typeOf(v: unknown): string {
  return v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'string'
        ? `a string of ${v.length} characters`
        : typeof v;
}

import { base64 } from './base64';
import { KafkaEventDecodeError, KafkaRecordDecodeError } from './errors';

/** A record as the Kafka event source mapping sends it (seed 002 self-managed, seed 004 MSK). */
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

const EVENT_SOURCES = new Set(['SelfManagedKafka', 'aws:kafka']);

/**
 * A decoded Kafka record. A class (not object literals with closures) so the helpers live on the
 * prototype and decoding allocates only the record and its buffers.
 */
export class KafkaRecord {
  constructor(
    public readonly topic: string,
    public readonly partition: number,
    public readonly offset: number,
    public readonly timestamp: number,
    public readonly timestampType: string,
    /** null when the record has no key. */
    public readonly key: Buffer | null,
    /** null for a tombstone. */
    public readonly value: Buffer | null,
    public readonly headers: readonly KafkaHeader[],
    /** The record exactly as the event carried it (used by the raw payload format). */
    public readonly raw: RawKafkaRecord,
  ) {}

  /** "topic-partition", the key of the record's group in the event. */
  get topicPartition(): string {
    return `${this.topic}-${this.partition}`;
  }

  /** The key as UTF-8 text, or null. */
  keyAsText(): string | null {
    return this.key === null ? null : this.key.toString('utf8');
  }

  /** The value as UTF-8 text, or null. */
  valueAsText(): string | null {
    return this.value === null ? null : this.value.toString('utf8');
  }

  /** The value parsed as JSON, or null for a tombstone. Throws KafkaRecordDecodeError when it is not JSON. */
  valueAsJson<T = unknown>(): T | null {
    return this.value === null ? null : this.parse<T>(this.value, 'value');
  }

  /** The key parsed as JSON, or null. Throws KafkaRecordDecodeError when it is not JSON. */
  keyAsJson<T = unknown>(): T | null {
    return this.key === null ? null : this.parse<T>(this.key, 'key');
  }

  /** The first header with this name, or undefined. */
  header(name: string): Buffer | undefined {
    for (const h of this.headers) if (h.key === name) return h.value;
    return undefined;
  }

  private parse<T>(buf: Buffer, field: string): T {
    try {
      return JSON.parse(buf.toString('utf8')) as T;
    } catch (e) {
      throw new KafkaRecordDecodeError(this.topic, this.partition, this.offset, `${field} is not JSON: ${(e as Error).message}`);
    }
  }
}

/** Result of decodeEventLenient: good records in input order, and one error per bad record. */
export interface LenientDecodeResult {
  readonly records: KafkaRecord[];
  readonly failures: KafkaRecordDecodeError[];
}

/**
 * Decodes a Kafka ESM event into records, in input order: topic-partition groups in the event's
 * order, records in array order. Throws KafkaEventDecodeError when the event is not a Kafka event or
 * its records are not grouped as the ESM sends them, and KafkaRecordDecodeError (naming
 * topic-partition-offset) for the first record that cannot be decoded.
 */
export function decodeEvent(event: unknown): KafkaRecord[] {
  const { records, failures } = decodeEventLenient(event);
  if (failures.length > 0) throw failures[0];
  return records;
}

/**
 * Like decodeEvent, but a record that cannot be decoded does not stop the others: it is returned
 * in failures so the caller can send it to its error path. Event-level problems still throw.
 */
export function decodeEventLenient(event: unknown): LenientDecodeResult {
  const groups = eventRecords(event);
  const records: KafkaRecord[] = [];
  const failures: KafkaRecordDecodeError[] = [];
  for (const groupKey of Object.keys(groups)) {
    const group = groups[groupKey];
    if (!Array.isArray(group)) {
      throw new KafkaEventDecodeError(`records["${groupKey}"] must be an array of records, got ${typeOf(group)}`);
    }
    let topic = '';
    let partition = -1;
    let previousOffset = -1;
    for (let i = 0; i < group.length; i++) {
      const raw = group[i] as RawKafkaRecord;
      if (typeof raw !== 'object' || raw === null) {
        throw new KafkaEventDecodeError(`records["${groupKey}"][${i}] must be a record object, got ${typeOf(raw)}`);
      }
      const offset = toInteger(raw.offset);
      if (i === 0) {
        topic = raw.topic;
        partition = toInteger(raw.partition);
        if (typeof topic !== 'string' || partition < 0 || `${topic}-${partition}` !== groupKey) {
          throw new KafkaEventDecodeError(`records["${groupKey}"][0] has topic ${JSON.stringify(raw.topic)} and partition ${JSON.stringify(raw.partition)}: records must be grouped by "topic-partition" as the event source mapping sends them`);
        }
      } else if (raw.topic !== topic || toInteger(raw.partition) !== partition) {
        throw new KafkaEventDecodeError(`records["${groupKey}"][${i}] (offset ${JSON.stringify(raw.offset)}) belongs to ${JSON.stringify(raw.topic)}-${JSON.stringify(raw.partition)}: records must be grouped by "topic-partition" as the event source mapping sends them`);
      }
      if (offset < 0) {
        throw new KafkaEventDecodeError(`records["${groupKey}"][${i}] has offset ${JSON.stringify(raw.offset)}: offsets must be non-negative integers`);
      }
      if (offset <= previousOffset) {
        throw new KafkaEventDecodeError(`records["${groupKey}"][${i}] has offset ${offset} after offset ${previousOffset}: offsets must increase within a partition`);
      }
      previousOffset = offset;
      const record = decodeRecord(raw, topic, partition, offset, failures);
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
  if (typeof e.eventSource !== 'string' || !EVENT_SOURCES.has(e.eventSource)) {
    throw new KafkaEventDecodeError(`not a Kafka event: eventSource is ${JSON.stringify(e.eventSource)}, expected "SelfManagedKafka" or "aws:kafka"`);
  }
  const records = e.records;
  if (typeof records !== 'object' || records === null || Array.isArray(records)) {
    throw new KafkaEventDecodeError(`not a Kafka event: records must be an object keyed "topic-partition", got ${typeOf(records)}`);
  }
  return records;
}

function decodeRecord(raw: RawKafkaRecord, topic: string, partition: number, offset: number, failures: KafkaRecordDecodeError[]): KafkaRecord | undefined {
  const key = base64(raw.key);
  if (key === undefined) {
    failures.push(new KafkaRecordDecodeError(topic, partition, offset, `key is not valid base64: ${preview(raw.key)}`));
    return undefined;
  }
  const value = base64(raw.value);
  if (value === undefined) {
    failures.push(new KafkaRecordDecodeError(topic, partition, offset, `value is not valid base64: ${preview(raw.value)}`));
    return undefined;
  }
  const headers = decodeHeaders(raw.headers);
  if (headers === undefined) {
    failures.push(new KafkaRecordDecodeError(topic, partition, offset, 'headers must be an array of single-key objects whose values are arrays of bytes'));
    return undefined;
  }
  if (typeof raw.timestamp !== 'number') {
    failures.push(new KafkaRecordDecodeError(topic, partition, offset, `timestamp must be a number, got ${typeOf(raw.timestamp)}`));
    return undefined;
  }
  return new KafkaRecord(topic, partition, offset, raw.timestamp, raw.timestampType, key, value, headers, raw);
}

const NO_HEADERS: readonly KafkaHeader[] = Object.freeze([]);

function decodeHeaders(raw: unknown): readonly KafkaHeader[] | undefined {
  if (raw === undefined || raw === null) return NO_HEADERS;
  if (!Array.isArray(raw)) return undefined;
  if (raw.length === 0) return NO_HEADERS;
  const headers: KafkaHeader[] = new Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const h = raw[i];
    if (typeof h !== 'object' || h === null) return undefined;
    let name: string | undefined;
    for (const k in h) {
      if (name !== undefined) return undefined; // more than one key
      name = k;
    }
    if (name === undefined) return undefined;
    const bytes = (h as Record<string, unknown>)[name];
    if (!Array.isArray(bytes)) return undefined;
    headers[i] = { key: name, value: Buffer.from(bytes as number[]) };
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

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? JSON.stringify(preview(v)) : typeof v;
}

function preview(v: unknown): string {
  const s = typeof v === 'string' ? v : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}... (${s.length} chars)` : s;
}

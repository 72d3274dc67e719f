/**
 * The error topic's records, sized in bytes against the topic's max.message.bytes: the Confluent connector's error
 * schema (key {topic, partition, startOffset, endOffset}; value {functionName, inputPayload, statusCode,
 * functionError, logResult, payload, executedVersion}) with `outcome` and `records` added, and the fields that say
 * what did not fit. A failure always has error records the broker takes: its records are split over several, the
 * input payload is left out when it does not fit, the failure's payload and log tail are cut to a quarter of the
 * limit, and a record too big for any error record is given by its coordinates, sizes and SHA-256 digests
 * (`truncated: true`): it can be read again from the source topic.
 */
import { createHash } from 'node:crypto';
import type { InvocationFailureDetails, InvocationOutcome } from '../errors';
import { nextPosition, Position } from '../dispatcher/source';

/** A message for a Kafka topic, as the relay produces it. */
export interface OutgoingMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/**
 * A failure for the error topic: the Confluent connector's error schema, plus the failed records as the event
 * carried them (so their bytes outlive the source topic's retention) and whether the target may have run them.
 */
export interface ErrorItem {
  readonly topic: string;
  /** Kafka: the partition number; Kinesis: the shard id. */
  readonly partition: number | string;
  /** Kafka: an offset; Kinesis: a sequence number (decimal string). */
  readonly startOffset: number | string;
  /** Exclusive: the last record's offset (or sequence number) + 1. */
  readonly endOffset: number | string;
  readonly functionName: string;
  readonly inputPayload?: string;
  readonly details: InvocationFailureDetails;
  /**
   * The records of [startOffset, endOffset) exactly as the event carried them: a Kafka record with its base64
   * key and value, headers, timestamp and timestampType; a Kinesis record with its base64 data and partition key.
   * A record too big for the error topic is a TruncatedRecord.
   */
  readonly records: readonly unknown[];
  /** failed: the target answered with an error or was never reached; unknown: it may have run the records. @default 'failed' */
  readonly outcome?: InvocationOutcome;
  /**
   * Each record's offset (Kinesis: sequence number), in the order of `records`, so that the item can be split into
   * several error records. @default - read from each record (a Kafka record's offset, a Kinesis sequence number)
   */
  readonly offsets?: readonly Position[];
  /** What was left out or cut to fit the error topic's limit: the UTF-8 bytes each had. Set by fitErrorItem. */
  readonly omitted?: OmittedBytes;
}

/** The UTF-8 bytes of what an error record left out (inputPayload) or cut (payload, logResult) to fit. */
export interface OmittedBytes {
  readonly inputPayloadBytes?: number;
  readonly payloadBytes?: number;
  readonly logResultBytes?: number;
}

/** Kafka's default max.message.bytes (a topic's own may be lower or higher). */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;
/** A record batch's header (61 bytes in the v2 format), rounded up: max.message.bytes counts the whole batch. */
export const BATCH_OVERHEAD_BYTES = 128;
/** One record's framing in a batch (its length, attributes, timestamp and offset deltas, the varints of its key, value and header lengths), rounded up. */
export const RECORD_OVERHEAD_BYTES = 128;

/** The bytes of a message that count against max.message.bytes, less its framing: key, value, header names and values (UTF-8). */
export function messageBytes(m: OutgoingMessage): number {
  let n = Buffer.byteLength(m.key) + Buffer.byteLength(m.value);
  for (const [k, v] of Object.entries(m.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** The most bytes of key, value and headers (messageBytes) that one record sent alone may have for a topic's max.message.bytes. */
export function errorRecordBudget(maxMessageBytes: number): number {
  return maxMessageBytes - BATCH_OVERHEAD_BYTES - RECORD_OVERHEAD_BYTES;
}

/**
 * A record given by its coordinates, sizes and digests instead of its bytes: it did not fit in an error record.
 * Sizes are of the bytes the record had (the event's base64 decoded); digests are SHA-256 in hex, so a copy read again
 * from the source topic can be checked. A Kinesis record's key is its partition key (UTF-8), its value its data. An
 * entry that is neither (it could not be decoded) has entryBytes and entrySha256 of its JSON.
 */
export class TruncatedRecord {
  readonly truncated = true;
  readonly topic: string;
  readonly partition: number | string;
  readonly offset: Position | null;
  readonly timestamp?: number;
  readonly timestampType?: string;
  /** null: the record has no key. */
  readonly keyBytes?: number | null;
  readonly keySha256?: string | null;
  /** null: a tombstone (Kafka). */
  readonly valueBytes?: number | null;
  readonly valueSha256?: string | null;
  /** Kafka: the bytes of its header names and values. */
  readonly headersBytes?: number;
  readonly entryBytes?: number;
  readonly entrySha256?: string;

  constructor(topic: string, partition: number | string, offset: Position | undefined, raw: unknown) {
    this.topic = topic;
    this.partition = partition;
    this.offset = offset ?? null;
    const r = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, any>;
    const k = r.kinesis as Record<string, unknown> | undefined;
    const kafkaKey = r.key === undefined || r.key === null ? null : base64Bytes(r.key);
    const kafkaValue = r.value === undefined || r.value === null ? null : base64Bytes(r.value);
    if (typeof r.timestamp === 'number' && kafkaKey !== undefined && kafkaValue !== undefined) {
      this.timestamp = r.timestamp;
      this.timestampType = typeof r.timestampType === 'string' ? r.timestampType : undefined;
      this.keyBytes = kafkaKey?.length ?? null;
      this.keySha256 = kafkaKey === null ? null : sha256(kafkaKey);
      this.valueBytes = kafkaValue?.length ?? null;
      this.valueSha256 = kafkaValue === null ? null : sha256(kafkaValue);
      this.headersBytes = kafkaHeadersBytes(r.headers);
      return;
    }
    const data = typeof k === 'object' && k !== null ? base64Bytes(k.data) : undefined;
    if (data !== undefined && typeof k!.partitionKey === 'string') {
      const key = Buffer.from(k!.partitionKey);
      this.keyBytes = key.length;
      this.keySha256 = sha256(key);
      this.valueBytes = data.length;
      this.valueSha256 = sha256(data);
      return;
    }
    const entry = Buffer.from(JSON.stringify(raw) ?? 'null');
    this.entryBytes = entry.length;
    this.entrySha256 = sha256(entry);
  }
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The bytes of canonical base64 text; undefined for anything else (then the entry is digested whole). */
function base64Bytes(s: unknown): Buffer | undefined {
  if (typeof s !== 'string') return undefined;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : undefined;
}

function kafkaHeadersBytes(headers: unknown): number {
  if (!Array.isArray(headers)) return 0;
  let n = 0;
  for (const h of headers) {
    for (const [name, v] of Object.entries(h ?? {})) n += Buffer.byteLength(name) + (Array.isArray(v) ? v.length : 0);
  }
  return n;
}

/** The error record of an item: key the failed range, value the connector's error schema and what was added. */
export function errorRecordMessage(e: ErrorItem): OutgoingMessage {
  const o = e.omitted ?? {};
  return {
    key: JSON.stringify({ topic: e.topic, partition: e.partition, startOffset: e.startOffset, endOffset: e.endOffset }),
    value: JSON.stringify({
      functionName: e.functionName,
      inputPayload: e.inputPayload ?? null,
      statusCode: e.details.statusCode,
      functionError: e.details.functionError,
      logResult: e.details.logResult ?? null,
      payload: e.details.payload ?? null,
      executedVersion: e.details.executedVersion ?? null,
      outcome: e.outcome ?? 'failed',
      records: e.records,
      // Only when they apply, so error records that fit keep the schema they had.
      ...(e.records.some((r) => r instanceof TruncatedRecord) ? { truncated: true } : {}),
      ...(o.inputPayloadBytes === undefined ? {} : { inputPayloadOmitted: true, inputPayloadBytes: o.inputPayloadBytes }),
      ...(o.payloadBytes === undefined ? {} : { payloadTruncated: true, payloadBytes: o.payloadBytes }),
      ...(o.logResultBytes === undefined ? {} : { logResultTruncated: true, logResultBytes: o.logResultBytes }),
    }),
    headers: {
      'source-topic': e.topic,
      'source-partition': String(e.partition),
      'source-start-offset': String(e.startOffset),
      'source-end-offset': String(e.endOffset),
    },
  };
}

/** messageBytes of the item's error record. */
export function errorRecordBytes(e: ErrorItem): number {
  return messageBytes(errorRecordMessage(e));
}

/** Bytes of JSON text of a value (a string's quotes and escapes included). */
function jsonBytes(v: unknown): number {
  return Buffer.byteLength(JSON.stringify(v ?? null));
}

/**
 * The longest prefix of s whose JSON text has at most maxJsonBytes bytes, never splitting a character (a UTF-16
 * surrogate pair stays whole, so the UTF-8 stays valid); `multipleOf` keeps its length a multiple (4 for base64).
 */
export function cutToJsonBytes(s: string, maxJsonBytes: number, multipleOf = 1): string {
  if (jsonBytes(s) <= maxJsonBytes) return s;
  // A prefix never ends between the halves of a surrogate pair (JSON.stringify would escape the lone half in 6 bytes,
  // UTF-8 would replace it): so cut, the size only grows with n, and the largest n that fits is found by halving.
  const whole = (n: number) => {
    const m = n - (n % multipleOf);
    const last = s.charCodeAt(m - 1);
    return m > 0 && last >= 0xd800 && last <= 0xdbff ? m - 1 : m;
  };
  let lo = 0;
  let hi = s.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(s.slice(0, whole(mid))) <= maxJsonBytes) lo = mid;
    else hi = mid - 1;
  }
  return s.slice(0, whole(lo));
}

/** Each record's offset: given, or read from the record as the event carried it. */
function offsetsOf(item: ErrorItem): (Position | undefined)[] {
  return item.records.map((r, i) => {
    if (item.offsets?.[i] !== undefined) return item.offsets[i];
    if (r instanceof TruncatedRecord) return r.offset ?? undefined;
    const raw = (typeof r === 'object' && r !== null ? r : {}) as { offset?: unknown; kinesis?: { sequenceNumber?: unknown } };
    if (typeof raw.offset === 'number' || typeof raw.offset === 'string')
      return typeof raw.offset === 'string' && /^\d{1,15}$/.test(raw.offset) ? Number(raw.offset) : raw.offset;
    if (typeof raw.kinesis?.sequenceNumber === 'string') return raw.kinesis.sequenceNumber;
    return item.records.length === 1 ? item.startOffset : undefined;
  });
}

/**
 * The failure's payload and log tail within a quarter of the budget (at least 8 KiB where half the budget allows):
 * the log tail keeps at most half of that, the payload (a JSON text whose start names the error) the rest.
 */
function boundDetails(item: ErrorItem, budget: number): { details: InvocationFailureDetails; omitted: OmittedBytes } {
  const d = item.details;
  const limit = Math.max(Math.floor(budget / 4), Math.min(8192, Math.floor(budget / 2)));
  // What an earlier fitting cut stays said.
  const omitted: { payloadBytes?: number; logResultBytes?: number } = {
    payloadBytes: item.omitted?.payloadBytes,
    logResultBytes: item.omitted?.logResultBytes,
  };
  if (jsonBytes(d.payload) + jsonBytes(d.logResult) <= limit) return { details: d, omitted };
  let logResult = d.logResult;
  if (logResult !== undefined && jsonBytes(logResult) > Math.floor(limit / 2)) {
    logResult = cutToJsonBytes(logResult, Math.floor(limit / 2), 4);
    omitted.logResultBytes = item.omitted?.logResultBytes ?? Buffer.byteLength(d.logResult!);
  }
  let payload = d.payload;
  if (payload !== undefined && jsonBytes(payload) > limit - jsonBytes(logResult)) {
    payload = cutToJsonBytes(payload, limit - jsonBytes(logResult));
    omitted.payloadBytes = item.omitted?.payloadBytes ?? Buffer.byteLength(d.payload!);
  }
  return { details: { ...d, payload, logResult }, omitted };
}

/** Room left for a chunk's key and headers to name other offsets than the item's (a longer offset, a longer sequence number). */
function offsetSlack(offsets: readonly (Position | undefined)[]): number {
  let longest = 0;
  for (const o of offsets) longest = Math.max(longest, String(o ?? '').length + 1);
  return 4 * longest + 48; // and `"truncated":true`
}

/**
 * The item as error records that each fit one record of a topic with this max.message.bytes (errorRecordBudget):
 * as it is when it fits; otherwise its details bounded (boundDetails), its records split over several error records
 * in order, the input payload on the first when it fits there with the first record, else left out (inputPayloadBytes
 * says so), and each record that cannot fit alone given as a TruncatedRecord. Only an absurdly small limit (a few KB)
 * can leave a record over it.
 */
export function fitErrorItem(item: ErrorItem, maxMessageBytes: number): ErrorItem[] {
  const budget = errorRecordBudget(maxMessageBytes);
  if (errorRecordBytes(item) <= budget) return [item];
  const offsets = offsetsOf(item);
  const { details, omitted } = boundDetails(item, budget);
  const inputBytes = item.inputPayload === undefined ? undefined : Buffer.byteLength(item.inputPayload);
  const slack = offsetSlack([...offsets, item.startOffset, item.endOffset]);
  const make = (
    records: readonly unknown[],
    offs: readonly (Position | undefined)[],
    first: boolean,
    withInput: boolean,
  ): ErrorItem => {
    const start = offs[0] ?? item.startOffset;
    const last = offs[offs.length - 1];
    return {
      ...item,
      details,
      records,
      offsets: offs.every((o) => o !== undefined) ? (offs as Position[]) : undefined,
      startOffset: start,
      endOffset: last === undefined ? item.endOffset : nextPosition(last),
      inputPayload: first && withInput ? item.inputPayload : undefined,
      omitted: {
        ...omitted,
        inputPayloadBytes: first && !withInput ? (item.omitted?.inputPayloadBytes ?? inputBytes) : undefined,
      },
    };
  };
  const shellBytes = (first: boolean, withInput: boolean) =>
    errorRecordBytes(make([], [item.startOffset], first, withInput)) + slack;
  const cost = (r: unknown) => jsonBytes(r) + 1; // and a comma
  const later = shellBytes(false, false);
  // A record that cannot fit alone (with the first error record's note of a left-out input payload) is truncated.
  const alone = Math.max(later, shellBytes(true, false));
  const records = item.records.map((r, i) =>
    r instanceof TruncatedRecord || alone + cost(r) <= budget
      ? r
      : new TruncatedRecord(item.topic, item.partition, offsets[i], r),
  );
  const withInput =
    item.inputPayload !== undefined && shellBytes(true, true) + (records.length > 0 ? cost(records[0]) : 0) <= budget;
  const items: ErrorItem[] = [];
  let i = 0;
  while (i < records.length || items.length === 0) {
    const first = items.length === 0;
    let size = first ? shellBytes(true, withInput) : later;
    const from = i;
    while (i < records.length && (i === from || size + cost(records[i]) <= budget)) size += cost(records[i++]);
    items.push(make(records.slice(from, i), offsets.slice(from, i), first, withInput));
  }
  return items.flatMap((it) => splitOver(it, budget));
}

/** Halves an item until each part fits (the sizes above are exact but for the slack of offsets: a safety net). */
function splitOver(item: ErrorItem, budget: number): ErrorItem[] {
  if (item.records.length <= 1 || errorRecordBytes(item) <= budget) return [item];
  const half = Math.ceil(item.records.length / 2);
  const offs = offsetsOf(item);
  const part = (from: number, to: number, first: boolean): ErrorItem => ({
    ...item,
    records: item.records.slice(from, to),
    offsets: item.offsets?.slice(from, to),
    startOffset: offs[from] ?? item.startOffset,
    endOffset: offs[to - 1] === undefined ? item.endOffset : nextPosition(offs[to - 1]!),
    inputPayload: first ? item.inputPayload : undefined,
    omitted: { ...item.omitted, inputPayloadBytes: first ? item.omitted?.inputPayloadBytes : undefined },
  });
  return [...splitOver(part(0, half, true), budget), ...splitOver(part(half, item.records.length, false), budget)];
}

/**
 * The smallest error records of an item, one per record: each record by its coordinates, sizes and digests, no
 * input payload, the details' payload cut to 1 KiB and the log tail left out. What the relay sends when the broker
 * refused the fitted records (the topic takes less than the relay was told).
 */
export function minimalErrorItems(item: ErrorItem): ErrorItem[] {
  const offsets = offsetsOf(item);
  const d = item.details;
  const payload = d.payload === undefined ? undefined : cutToJsonBytes(d.payload, 1024);
  const omitted: OmittedBytes = {
    inputPayloadBytes: item.inputPayload === undefined ? item.omitted?.inputPayloadBytes : Buffer.byteLength(item.inputPayload),
    payloadBytes:
      payload !== d.payload ? (item.omitted?.payloadBytes ?? Buffer.byteLength(d.payload!)) : item.omitted?.payloadBytes,
    logResultBytes:
      d.logResult === undefined ? item.omitted?.logResultBytes : (item.omitted?.logResultBytes ?? Buffer.byteLength(d.logResult)),
  };
  const records = item.records.length === 0 ? [null] : item.records;
  return records.map((r, i) => {
    const offset = offsets[i] ?? (i === 0 ? item.startOffset : undefined);
    return {
      ...item,
      details: { ...d, payload, logResult: undefined },
      inputPayload: undefined,
      omitted,
      records: [r instanceof TruncatedRecord ? r : new TruncatedRecord(item.topic, item.partition, offset, r)],
      offsets: offset === undefined ? undefined : [offset],
      startOffset: offset ?? item.startOffset,
      endOffset: offset === undefined ? item.endOffset : nextPosition(offset),
    };
  });
}

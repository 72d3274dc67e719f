import { PAYLOAD_LIMIT_BYTES } from '../../contract/dispatcher-config';
import { isUtf8 } from 'node:buffer';
import { PayloadTooLargeError } from '../errors';
import { KinesisRecord } from '../kinesis/decode';
import type { DecodedField } from '../kafka/decode';
import type { RawEventEnvelope, SourceRecord } from './source';

export type { RawEventEnvelope } from './source';

/**
 * Invocation payload formats:
 * - confluent: the Confluent Lambda sink connector's `[{ "payload": { timestamp, topic, partition,
 *   offset, key, value } }]` (https://docs.confluent.io/kafka-connectors/aws-lambda/current/overview.html);
 * - nordstrom-plain / nordstrom-json: the Nordstrom connector's PlainPayloadFormatter /
 *   JsonPayloadFormatter fields (https://github.com/Nordstrom/kafka-connect-lambda), as an array, with the record headers added;
 * - raw: the event source mapping's event, restricted to the batch's records.
 *
 * A key or value decoded with its schema (runtime/schemas) is its JSON value in the confluent and nordstrom-json
 * formats and its JSON text in nordstrom-plain, with the schema's name (and id) in the nordstrom fields; the raw
 * format always carries the bytes as the event did.
 *
 * Kinesis records fill the same fields: topic = stream name, partition = shard id, offset = sequence number
 * (strings), key = the partition key (always as text: Kinesis partition keys are strings, not bytes),
 * value = the data, timestamp = approximate arrival (ms), timestampType LogAppendTime, no headers; the raw
 * format is the aws:kinesis event `{ "Records": [...] }` with the batch's records.
 */
export type PayloadFormat = 'confluent' | 'nordstrom-plain' | 'nordstrom-json' | 'raw';

/** The Lambda Invoke API's request payload limits. */
export const SYNC_PAYLOAD_LIMIT_BYTES = PAYLOAD_LIMIT_BYTES.sync;
export const ASYNC_PAYLOAD_LIMIT_BYTES = PAYLOAD_LIMIT_BYTES.async;

/** Fields of the ESM event that the raw format repeats around the batch's records. */
/**
 * Key or value for the JSON formats: the parsed JSON when the bytes are JSON, else the UTF-8 text,
 * else (bytes that are not UTF-8) the base64 text, so that nothing is lost; null when absent.
 */
export function jsonOrText(buf: Buffer | null): unknown {
  if (buf === null) return null;
  const text = buf.toString('utf8');
  const first = text.charCodeAt(0);
  // Only text that can start a JSON document is tried: skips the exception cost for plain text.
  if (
    first === 123 /* { */ ||
    first === 91 /* [ */ ||
    first === 34 /* " */ ||
    (first >= 48 && first <= 57) ||
    first === 45 /* - */ ||
    text === 'true' ||
    text === 'false' ||
    text === 'null'
  ) {
    try {
      return JSON.parse(text);
    } catch {
      /* not JSON: text below */
    }
  }
  return isUtf8(buf) ? text : buf.toString('base64');
}

/** Key or value as text (plain formatter): UTF-8 text, or base64 when the bytes are not UTF-8; null when absent. */
export function plainText(buf: Buffer | null): string | null {
  if (buf === null) return null;
  return isUtf8(buf) ? buf.toString('utf8') : buf.toString('base64');
}

/** A schema-decoded key or value: the value for the JSON formats, its JSON text for the plain one. */
function schemaValue(field: DecodedField, json: boolean): unknown {
  return json ? field.value : JSON.stringify(field.value);
}

const TIMESTAMP_TYPE_NAMES: Record<string, string> = { CREATE_TIME: 'CreateTime', LOG_APPEND_TIME: 'LogAppendTime' };

function headerEntries(record: SourceRecord): { key: string; value: string | null }[] {
  return record.headers.map((h) => ({ key: h.key, value: plainText(h.value) }));
}

/** One record's entry in the invocation payload, serialized. */
export function formatRecord(record: SourceRecord, format: PayloadFormat): string {
  const decoded = record.decoded;
  const kinesisKey = record instanceof KinesisRecord ? record.partitionKey : undefined;
  switch (format) {
    case 'confluent':
      return JSON.stringify({
        payload: {
          timestamp: record.timestamp,
          topic: record.topic,
          partition: record.partition,
          offset: record.offset,
          key: decoded?.key ? decoded.key.value : (kinesisKey ?? jsonOrText(record.key)),
          value: decoded?.value ? decoded.value.value : jsonOrText(record.value),
        },
      });
    case 'nordstrom-plain':
    case 'nordstrom-json': {
      const json = format === 'nordstrom-json';
      return JSON.stringify({
        key: decoded?.key
          ? schemaValue(decoded.key, json)
          : (kinesisKey ?? (json ? jsonOrText(record.key) : plainText(record.key))),
        keySchemaName: decoded?.key?.schemaName ?? null,
        ...(json ? { keySchemaVersion: null } : {}),
        ...(decoded?.key?.schemaId === undefined ? {} : { keySchemaId: decoded.key.schemaId }),
        value: decoded?.value ? schemaValue(decoded.value, json) : json ? jsonOrText(record.value) : plainText(record.value),
        valueSchemaName: decoded?.value?.schemaName ?? null,
        ...(json ? { valueSchemaVersion: null } : {}),
        ...(decoded?.value?.schemaId === undefined ? {} : { valueSchemaId: decoded.value.schemaId }),
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        timestampTypeName: TIMESTAMP_TYPE_NAMES[record.timestampType] ?? 'NoTimestampType',
        headers: headerEntries(record),
      });
    }
    case 'raw':
      return JSON.stringify(record.raw);
  }
}

/** One invocation: records of one topic-partition (or shard), offsets (sequence numbers) increasing, and the payload sent. */
export interface InvocationBatch {
  readonly topic: string;
  readonly partition: number | string;
  readonly records: readonly SourceRecord[];
  readonly payload: string;
}

function wrap(entries: readonly string[], format: PayloadFormat, topicPartition: string, envelope: RawEventEnvelope): string {
  const list = `[${entries.join(',')}]`;
  if (format !== 'raw') return list;
  if (envelope.eventSource === 'aws:kinesis') return `{"Records":${list}}`;
  const head = JSON.stringify(envelope);
  // The envelope's JSON without its closing brace, then the records object.
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"records":{${JSON.stringify(topicPartition)}:${list}}}`;
}

/**
 * Splits one partition's (or shard's) records (in offset order) into invocations of at most batchSize records
 * whose payload stays within maxPayloadBytes. A record that alone exceeds the limit becomes a
 * PayloadTooLargeError in its place, so the caller keeps the partition's order.
 */
export function planBatches(
  records: readonly SourceRecord[],
  format: PayloadFormat,
  batchSize: number,
  maxPayloadBytes: number,
  envelope: RawEventEnvelope,
): (InvocationBatch | PayloadTooLargeError)[] {
  const plan: (InvocationBatch | PayloadTooLargeError)[] = [];
  if (records.length === 0) return plan;
  const { topic, partition, topicPartition } = records[0];
  const overhead = Buffer.byteLength(wrap([], format, topicPartition, envelope));
  let current: SourceRecord[] = [];
  let entries: string[] = [];
  let bytes = overhead;
  const flush = () => {
    if (current.length > 0)
      plan.push({ topic, partition, records: current, payload: wrap(entries, format, topicPartition, envelope) });
    current = [];
    entries = [];
    bytes = overhead;
  };
  for (const record of records) {
    const entry = formatRecord(record, format);
    const size = Buffer.byteLength(entry);
    if (overhead + size > maxPayloadBytes) {
      flush();
      plan.push(new PayloadTooLargeError(topic, partition, record.offset, overhead + size, maxPayloadBytes));
      continue;
    }
    const separator = current.length > 0 ? 1 : 0;
    if (current.length >= batchSize || bytes + separator + size > maxPayloadBytes) flush();
    bytes += (current.length > 0 ? 1 : 0) + size;
    current.push(record);
    entries.push(entry);
  }
  flush();
  return plan;
}

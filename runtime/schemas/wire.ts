/**
 * The framings a schema registry's serializers put around a record's bytes:
 * - Confluent: magic byte 0, the schema id (4 bytes, big-endian), then the data; Protobuf data starts with the
 *   message indexes (https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format);
 * - AWS Glue Schema Registry: header version byte 3, compression byte (0 none, 5 zlib), the schema version id
 *   (a UUID, 16 bytes), then the data, zlib-compressed when the compression byte says so.
 */
import { inflateSync } from 'node:zlib';

/** The registry a schema id belongs to, and the id. */
export type SchemaRef =
  { readonly registry: 'confluent'; readonly id: number } | { readonly registry: 'glue'; readonly id: string };

/** "confluent:42" or "glue:<uuid>": how errors and logs name a schema. */
export function schemaRefName(ref: SchemaRef): string {
  return `${ref.registry}:${ref.id}`;
}

/** A framing that is not what the configuration says the field carries: the record is poison. */
export class FramingError extends Error {
  constructor(
    message: string,
    public readonly ref?: SchemaRef,
  ) {
    super(message);
    this.name = 'FramingError';
  }
}

export interface Framed {
  readonly ref: SchemaRef;
  /** The data after the header (for Glue, inflated). */
  readonly body: Buffer;
}

const CONFLUENT_MAGIC = 0;
const GLUE_HEADER_VERSION = 3;
const GLUE_COMPRESSION_NONE = 0;
const GLUE_COMPRESSION_ZLIB = 5;
const GLUE_HEADER_BYTES = 18;

export function readConfluentFrame(buf: Buffer): Framed {
  if (buf.length < 5) throw new FramingError(`${buf.length} bytes, shorter than the Confluent wire format's 5-byte header`);
  if (buf[0] !== CONFLUENT_MAGIC) {
    throw new FramingError(
      `first byte is ${buf[0]}, not the Confluent wire format's magic byte 0${buf[0] === GLUE_HEADER_VERSION ? ' (it looks like the Glue wire format)' : ''}`,
    );
  }
  return { ref: { registry: 'confluent', id: buf.readUInt32BE(1) }, body: buf.subarray(5) };
}

/**
 * The most bytes Glue zlib data may inflate to: 6 MB, the Lambda invocation payload limit (no target could be handed
 * more). Inflating stops there, so a small record cannot take the function's memory (a zlib bomb).
 */
export const GLUE_MAX_INFLATED_BYTES = 6 * 1024 * 1024;

/** `maxInflatedBytes`: the bound on zlib data's inflated size (default GLUE_MAX_INFLATED_BYTES); beyond it the record is refused. */
export function readGlueFrame(buf: Buffer, maxInflatedBytes = GLUE_MAX_INFLATED_BYTES): Framed {
  if (buf.length < GLUE_HEADER_BYTES)
    throw new FramingError(`${buf.length} bytes, shorter than the Glue wire format's ${GLUE_HEADER_BYTES}-byte header`);
  if (buf[0] !== GLUE_HEADER_VERSION) {
    throw new FramingError(
      `first byte is ${buf[0]}, not the Glue wire format's header version 3${buf[0] === CONFLUENT_MAGIC ? ' (it looks like the Confluent wire format)' : ''}`,
    );
  }
  const ref: SchemaRef = { registry: 'glue', id: uuidOf(buf.subarray(2, GLUE_HEADER_BYTES)) };
  const data = buf.subarray(GLUE_HEADER_BYTES);
  switch (buf[1]) {
    case GLUE_COMPRESSION_NONE:
      return { ref, body: data };
    case GLUE_COMPRESSION_ZLIB:
      try {
        // zlib stops once the output passes the bound: the data is never inflated whole.
        return { ref, body: inflateSync(data, { maxOutputLength: maxInflatedBytes }) };
      } catch (e) {
        if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new FramingError(
            `zlib data inflates beyond ${maxInflatedBytes} bytes, the bound on a record's inflated data`,
            ref,
          );
        }
        throw new FramingError(`zlib data does not inflate (${(e as Error).message})`, ref);
      }
    default:
      throw new FramingError(`compression byte is ${buf[1]}, not 0 (none) or 5 (zlib)`, ref);
  }
}

function uuidOf(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A schema id of the mapping's schema metadata: a number for a Confluent registry, a UUID for Glue. */
export function refOfSchemaId(schemaId: string): SchemaRef | undefined {
  if (/^\d{1,10}$/.test(schemaId)) return { registry: 'confluent', id: Number(schemaId) };
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(schemaId))
    return { registry: 'glue', id: schemaId.toLowerCase() };
  return undefined;
}

/**
 * Reads a varint at pos: zigzag-decoded (Confluent's message indexes) or plain unsigned (Glue's message index).
 * Returns the value and the position after it.
 */
export function readVarint(buf: Buffer, pos: number, zigzag: boolean): [number, number] {
  let n = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length || shift > 28) throw new FramingError('Protobuf message index is truncated or too long');
    const b = buf[pos++];
    n |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return [zigzag ? (n >>> 1) ^ -(n & 1) : n >>> 0, pos];
}

/**
 * Confluent's Protobuf message indexes: a count, then the index path from the file's top-level messages down;
 * a single 0 byte stands for [0] (the first message).
 */
export function readConfluentMessageIndexes(buf: Buffer): { indexes: number[]; rest: Buffer } {
  const [count, afterCount] = readVarint(buf, 0, true);
  let pos = afterCount;
  if (count === 0) return { indexes: [0], rest: buf.subarray(pos) };
  if (count < 0 || count > 100) throw new FramingError(`Protobuf message index count ${count} is not valid`);
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) {
    let index: number;
    [index, pos] = readVarint(buf, pos, true);
    if (index < 0) throw new FramingError(`Protobuf message index ${index} is negative`);
    indexes.push(index);
  }
  return { indexes, rest: buf.subarray(pos) };
}

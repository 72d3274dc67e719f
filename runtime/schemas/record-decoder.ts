/**
 * Decodes records' keys and values with their schemas before the dispatcher builds payloads. Per field, the
 * format says how the bytes are framed:
 * - bytes: as they are (the payload formats carry JSON, text or base64);
 * - confluent / glue: the registry's wire format; the schema is fetched by the id the bytes carry;
 * - mapping-json: the event source mapping's schema registry delivered JSON (EventRecordFormat JSON);
 * - mapping-source: it delivered the data without the wire header (EventRecordFormat SOURCE); the schema is
 *   fetched by the record's schema metadata.
 * A record whose bytes do not decode gets a SchemaDecodeError (its error path); one whose schema cannot be
 * fetched now gets a SchemaRegistryUnavailableError (its partition is retried from it).
 */
import { constants } from 'node:buffer';
import type { FieldFormatName } from '../../contract/dispatcher-config';
import { SchemaDecodeError, SchemaRegistryUnavailableError, type RecordField } from '../errors';
import { KafkaRecord, type DecodedField, type SchemaMetadata } from '../kafka/decode';
import type { SourceRecord } from '../dispatcher/source';
import { Codec, parseJson } from './codecs';
import { RegistryClient, RegistryError } from './registry';
import { reasonOf, SchemaCache } from './schema-cache';
import { Framed, FramingError, readConfluentFrame, readGlueFrame, refOfSchemaId, SchemaRef, schemaRefName } from './wire';

export { GLUE_MAX_INFLATED_BYTES } from './wire';

export type FieldFormat = FieldFormatName;

const BUFFER_MAX_LENGTH = constants.MAX_LENGTH;

export interface RecordDecoderOptions {
  /** @default 'bytes' */
  readonly key?: FieldFormat;
  /** @default 'bytes' */
  readonly value?: FieldFormat;
  /** Where Confluent schema ids are looked up. */
  readonly confluent?: RegistryClient;
  /** Where Glue schema version ids are looked up. */
  readonly glue?: RegistryClient;
  /**
   * The most bytes a field's Glue zlib data may inflate to; a record whose data inflates beyond it is refused (a
   * SchemaDecodeError), its inflating stopped there.
   * @default GLUE_MAX_INFLATED_BYTES (6 MB, the Lambda invocation payload limit)
   */
  readonly maxInflatedBytes?: number;
}

/** One field's bytes, framed: the schema to fetch and the data to decode with it. */
interface Pending {
  readonly record: SourceRecord;
  readonly field: RecordField;
  readonly ref: SchemaRef;
  /** schemaRefName(ref). */
  readonly name: string;
  readonly body: Buffer;
}

/** The formats whose schema is fetched from a registry by the id the record gives. */
type FetchedFormat = 'confluent' | 'glue' | 'mapping-source';
const isFetched = (format: FieldFormat | undefined): format is FetchedFormat =>
  format === 'confluent' || format === 'glue' || format === 'mapping-source';

export class RecordDecoder {
  private readonly schemas: SchemaCache;
  /** A Kafka and a Kinesis record's field decoded with a fetched schema, when it is the record's only decoded field. */
  private readonly single: { readonly kafka?: RecordField; readonly kinesis?: RecordField };
  /** The schema last named, and its name: fields in a row mostly share one. */
  private lastRef?: SchemaRef;
  private lastName = '';

  constructor(private readonly options: RecordDecoderOptions) {
    const max = options.maxInflatedBytes;
    if (max !== undefined && !(Number.isSafeInteger(max) && max >= 1 && max <= BUFFER_MAX_LENGTH))
      throw new RangeError(`maxInflatedBytes must be a whole number of bytes from 1 to ${BUFFER_MAX_LENGTH}; got ${max}`);
    this.schemas = new SchemaCache(options);
    const key = options.key ?? 'bytes';
    const value = options.value ?? 'bytes';
    this.single = {
      kafka: key === 'bytes' && isFetched(value) ? 'value' : value === 'bytes' && isFetched(key) ? 'key' : undefined,
      kinesis: isFetched(value) ? 'value' : undefined,
    };
  }

  /** Whether any field is decoded (a dispatcher without schema formats skips this step). */
  get active(): boolean {
    return (this.options.key ?? 'bytes') !== 'bytes' || (this.options.value ?? 'bytes') !== 'bytes';
  }

  /**
   * Sets `decoded` on each record whose fields decode; returns the records that do not, each with its error.
   * Schemas are fetched once per id, all at once.
   */
  async decode(records: readonly SourceRecord[]): Promise<Map<SourceRecord, Error>> {
    const errors = new Map<SourceRecord, Error>();
    const pending: Pending[] = [];
    for (const record of records) {
      try {
        const single = record instanceof KafkaRecord ? this.single.kafka : this.single.kinesis;
        // Once its schema is compiled, a single field decodes from its bytes as they are read, with no Buffer kept.
        if (single !== undefined && record.readBytes(single, (bytes) => this.decodeCompiled(record, single, bytes))) continue;
        // A Kinesis record's key is its partition key, text: only the data has a schema.
        if (record instanceof KafkaRecord) this.frame(record, 'key', this.options.key, pending);
        this.frame(record, 'value', this.options.value, pending);
      } catch (e) {
        errors.set(record, e as Error);
      }
    }
    if (pending.length === 0) return errors;
    const refs = new Map(pending.map((p) => [p.name, p.ref]));
    const settled = new Map<string, Codec | Error>();
    await Promise.all(
      [...refs].map(async ([name, ref]) => {
        settled.set(name, await this.schemas.codec(ref).catch((e: Error) => e));
      }),
    );
    for (const p of pending) {
      if (errors.has(p.record)) continue;
      const { record, field, name } = p;
      const codec = settled.get(name)!;
      if (codec instanceof Error) {
        errors.set(
          record,
          codec instanceof RegistryError && !codec.notFound
            ? new SchemaRegistryUnavailableError(record.topic, record.partition, record.offset, field, name, codec.message)
            : new SchemaDecodeError(record.topic, record.partition, record.offset, field, name, codec.message),
        );
        continue;
      }
      try {
        this.decodeWith(codec, record, field, name, p.body);
      } catch (e) {
        errors.set(record, e as Error);
      }
    }
    return errors;
  }

  /** Decodes a field whose schema is compiled; false when it is not compiled yet (the field is then framed again and its schema fetched). */
  private decodeCompiled(record: SourceRecord, field: RecordField, bytes: Buffer | null): boolean {
    if (bytes === null) return true;
    const { ref, body } = this.framed(
      record,
      field,
      (field === 'key' ? this.options.key : this.options.value) as FetchedFormat,
      bytes,
    );
    const name = this.nameOf(ref);
    const codec = this.schemas.compiledCodec(name);
    if (codec === undefined) return false;
    this.decodeWith(codec, record, field, name, body);
    return true;
  }

  /** Sets a field's decoded value; throws the record's SchemaDecodeError when the data does not decode. */
  private decodeWith(codec: Codec, record: SourceRecord, field: RecordField, name: string, body: Buffer): void {
    let decoded: { value: unknown; name?: string };
    try {
      decoded = codec.decode(body);
    } catch (e) {
      throw new SchemaDecodeError(record.topic, record.partition, record.offset, field, name, reasonOf(e));
    }
    setDecoded(record, field, { value: decoded.value, schemaId: name, schemaName: decoded.name });
  }

  /** Decodes a field now (mapping-json) or adds its schema and data to pending. */
  private frame(record: SourceRecord, field: RecordField, format: FieldFormat | undefined, pending: Pending[]): void {
    if (format === undefined || format === 'bytes') return;
    const bytes = field === 'key' ? (record as KafkaRecord).key : record.value;
    if (bytes === null) return; // no key, or a tombstone: null in the payload
    if (format === 'mapping-json') {
      try {
        setDecoded(record, field, { value: parseJson(bytes), schemaId: schemaMetadata(record, field)?.schemaId });
      } catch (e) {
        throw new SchemaDecodeError(record.topic, record.partition, record.offset, field, undefined, reasonOf(e));
      }
      return;
    }
    const { ref, body } = this.framed(record, field, format, bytes);
    pending.push({ record, field, ref, name: this.nameOf(ref), body });
  }

  /** A field's schema and data; throws the record's SchemaDecodeError when the bytes are not framed as the format says. */
  private framed(record: SourceRecord, field: RecordField, format: FetchedFormat, bytes: Buffer): Framed {
    try {
      switch (format) {
        case 'confluent':
          return readConfluentFrame(bytes);
        case 'glue':
          return readGlueFrame(bytes, this.options.maxInflatedBytes);
        case 'mapping-source': {
          const metadata = schemaMetadata(record, field);
          const ref = metadata?.schemaId === undefined ? undefined : refOfSchemaId(metadata.schemaId);
          if (ref === undefined)
            throw new FramingError(
              `${field}SchemaMetadata.schemaId is ${JSON.stringify(metadata?.schemaId)}: not a Confluent schema id or a Glue schema version id`,
            );
          return { ref, body: bytes };
        }
      }
    } catch (e) {
      throw new SchemaDecodeError(
        record.topic,
        record.partition,
        record.offset,
        field,
        e instanceof FramingError && e.ref ? schemaRefName(e.ref) : undefined,
        reasonOf(e),
      );
    }
  }

  private nameOf(ref: SchemaRef): string {
    const last = this.lastRef;
    if (last === undefined || ref.id !== last.id || ref.registry !== last.registry) {
      this.lastRef = ref;
      this.lastName = schemaRefName(ref);
    }
    return this.lastName;
  }
}

/** The schema metadata the mapping's schema registry adds to a record's field. */
function schemaMetadata(record: SourceRecord, field: RecordField): SchemaMetadata | undefined {
  const raw = record.raw as { keySchemaMetadata?: SchemaMetadata; valueSchemaMetadata?: SchemaMetadata };
  return field === 'key' ? raw.keySchemaMetadata : raw.valueSchemaMetadata;
}

function setDecoded(record: SourceRecord, field: RecordField, decoded: DecodedField): void {
  (record.decoded ??= {})[field] = decoded;
}

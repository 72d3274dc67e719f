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
import type { FieldFormatName } from '../../contract/dispatcher-config';
import { SchemaDecodeError, SchemaRegistryUnavailableError, type RecordField } from '../errors';
import { KafkaRecord, type DecodedField, type SchemaMetadata } from '../decode';
import type { SourceRecord } from '../source';
import { Codec, compileCodec, MessageIndexing, parseJson } from './codecs';
import { RegistryClient, RegistryError } from './registry';
import { FramingError, readConfluentFrame, readGlueFrame, refOfSchemaId, SchemaRef, schemaRefName } from './wire';

export type FieldFormat = FieldFormatName;

export interface RecordDecoderOptions {
  /** @default 'bytes' */
  readonly key?: FieldFormat;
  /** @default 'bytes' */
  readonly value?: FieldFormat;
  /** Where Confluent schema ids are looked up. */
  readonly confluent?: RegistryClient;
  /** Where Glue schema version ids are looked up. */
  readonly glue?: RegistryClient;
}

/** One field's bytes, framed: the schema to fetch and the data to decode with it. */
interface Pending {
  readonly record: SourceRecord;
  readonly field: RecordField;
  readonly ref: SchemaRef;
  readonly body: Buffer;
}

export class RecordDecoder {
  private readonly codecs = new Map<string, Promise<Codec>>();

  constructor(private readonly options: RecordDecoderOptions) {}

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
        // A Kinesis record's key is its partition key, text: only the data has a schema.
        if (record instanceof KafkaRecord) this.frame(record, 'key', this.options.key, pending);
        this.frame(record, 'value', this.options.value, pending);
      } catch (e) {
        errors.set(record, e as Error);
      }
    }
    const refs = new Map(pending.map((p) => [schemaRefName(p.ref), p.ref]));
    const settled = new Map<string, Codec | Error>();
    await Promise.all([...refs].map(async ([name, ref]) => {
      settled.set(name, await this.codec(ref).catch((e: Error) => e));
    }));
    for (const p of pending) {
      if (errors.has(p.record)) continue;
      const name = schemaRefName(p.ref);
      const codec = settled.get(name)!;
      const { topic, partition, offset } = p.record;
      if (codec instanceof Error) {
        errors.set(p.record, codec instanceof RegistryError && !codec.notFound
          ? new SchemaRegistryUnavailableError(topic, partition, offset, p.field, name, codec.message)
          : new SchemaDecodeError(topic, partition, offset, p.field, name, codec.message));
        continue;
      }
      try {
        const { value, name: schemaName } = codec.decode(p.body);
        setDecoded(p.record, p.field, { value, schemaId: name, schemaName });
      } catch (e) {
        errors.set(p.record, new SchemaDecodeError(topic, partition, offset, p.field, name, reasonOf(e)));
      }
    }
    return errors;
  }

  /** Reads a field's framing: decodes it now (mapping-json) or adds what to fetch and decode to pending. */
  private frame(record: SourceRecord, field: RecordField, format: FieldFormat | undefined, pending: Pending[]): void {
    if (format === undefined || format === 'bytes') return;
    const bytes = field === 'key' ? (record as KafkaRecord).key : record.value;
    if (bytes === null) return; // no key, or a tombstone: null in the payload
    const { topic, partition, offset } = record;
    try {
      switch (format) {
        case 'confluent':
        case 'glue':
          pending.push({ record, field, ...(format === 'confluent' ? readConfluentFrame(bytes) : readGlueFrame(bytes)) });
          return;
        case 'mapping-json':
          setDecoded(record, field, { value: parseJson(bytes), schemaId: schemaMetadata(record, field)?.schemaId });
          return;
        case 'mapping-source': {
          const metadata = schemaMetadata(record, field);
          const ref = metadata?.schemaId === undefined ? undefined : refOfSchemaId(metadata.schemaId);
          if (ref === undefined) throw new FramingError(`${field}SchemaMetadata.schemaId is ${JSON.stringify(metadata?.schemaId)}: not a Confluent schema id or a Glue schema version id`);
          pending.push({ record, field, ref, body: bytes });
          return;
        }
      }
    } catch (e) {
      throw new SchemaDecodeError(topic, partition, offset, field, e instanceof FramingError && e.ref ? schemaRefName(e.ref) : undefined, reasonOf(e));
    }
  }

  /** The codec of a schema, fetched and compiled once; a failed fetch is forgotten, so the next event asks again. */
  private codec(ref: SchemaRef): Promise<Codec> {
    const name = schemaRefName(ref);
    let c = this.codecs.get(name);
    if (c === undefined) {
      const client = ref.registry === 'confluent' ? this.options.confluent : this.options.glue;
      const indexing: MessageIndexing = ref.registry;
      c = client === undefined
        ? Promise.reject(new RegistryError(`no ${ref.registry === 'confluent' ? 'Confluent' : 'Glue'} schema registry is configured`, true))
        : client.fetch(ref.id).then((text) => {
          try {
            return compileCodec(text, indexing);
          } catch (e) {
            throw new RegistryError(`the schema does not compile: ${reasonOf(e)}`, true);
          }
        });
      c.catch(() => this.codecs.delete(name));
      this.codecs.set(name, c);
    }
    return c;
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

/** A library's reason, without the data: decoders' messages name types and positions, not values. */
function reasonOf(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

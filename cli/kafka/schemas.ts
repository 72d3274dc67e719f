/**
 * What the Kafka mapping's schema registry does to each record before filtering and invoking
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html): for each validated attribute,
 * read the registry's wire format (Confluent: magic byte, schema id; Glue: header version, compression, schema
 * version id), fetch the schema (once per id), decode the data with it, and deliver the attribute as JSON text
 * (EventRecordFormat JSON) or as the data without the wire header (SOURCE), with `keySchemaMetadata` /
 * `valueSchemaMetadata` ({ dataFormat, schemaId }). A schema the registry does not have is SCHEMA_NOT_FOUND, data
 * that does not decode DESERIALIZATION_ERROR; a registry that cannot be asked fails the whole batch (retried).
 * The wire formats, registry clients and codecs are the runtime's (runtime/schemas), so what this delivers is what
 * RecordDecoder's mapping-json and mapping-source formats read.
 */
import { Codec } from '../../runtime/schemas/codecs';
import { RegistryClient, RegistryError } from '../../runtime/schemas/registry';
import { reasonOf, SchemaCache, SchemaCompileError } from '../../runtime/schemas/schema-cache';
import { Framed, FramingError, readConfluentFrame, readGlueFrame, SchemaRef, schemaRefName } from '../../runtime/schemas/wire';
import type { EsmRecord } from './event';
import { registryKind, SchemaRegistrySettings } from './schemas-config';

/** The reason codes Lambda documents for records its schema registry step rejects. */
export type SchemaFailureReason = 'SCHEMA_NOT_FOUND' | 'DESERIALIZATION_ERROR';

/** The registry could not be asked (network, 5xx, throttling, refused credentials, an unreadable secret): not the record's fault. */
export class SchemaRegistryUnreachableError extends Error {
  public override readonly name = 'SchemaRegistryUnreachableError';
}

export interface ValidRecord {
  /** The record as it is delivered: validated attributes replaced, schema metadata added. */
  readonly record: EsmRecord;
  /** What event filters match: the value's JSON text when the value was validated, else its bytes. */
  readonly filterValue: Buffer | null;
}

export interface RejectedRecord {
  /** The record as it was read (its original bytes). */
  readonly record: EsmRecord;
  readonly reason: SchemaFailureReason;
  /** Names topic-partition@offset, the attribute and the schema id; never the record's bytes. */
  readonly message: string;
}

type Field = 'key' | 'value';

class Rejection extends Error {
  constructor(
    public readonly reason: SchemaFailureReason,
    message: string,
  ) {
    super(message);
  }
}

export class RecordSchemaValidator {
  private readonly schemas: SchemaCache;
  private readonly fields: readonly Field[];
  private readonly frame: (bytes: Buffer) => Framed;

  constructor(
    private readonly settings: SchemaRegistrySettings,
    registry: RegistryClient,
  ) {
    this.fields = settings.attributes.map((a) => (a === 'KEY' ? 'key' : 'value'));
    const kind = registryKind(settings.uri);
    this.frame = kind === 'glue' ? readGlueFrame : readConfluentFrame;
    this.schemas = new SchemaCache({ [kind]: registry });
  }

  /** Splits the records into those delivered (transformed) and those rejected; throws SchemaRegistryUnreachableError. */
  async validate(records: readonly EsmRecord[]): Promise<{ valid: ValidRecord[]; rejected: RejectedRecord[] }> {
    // Every schema the batch names is fetched once, all at once, before any record is decided.
    const framed = records.map((r) => this.fields.map((f) => this.framed(r, f)));
    const refs = new Map<string, SchemaRef>();
    for (const fs of framed) for (const f of fs) if (f && !(f instanceof Rejection)) refs.set(schemaRefName(f.ref), f.ref);
    const codecs = new Map<string, Codec | Rejection>();
    await Promise.all(
      [...refs].map(async ([name, ref]) => {
        codecs.set(name, await this.codec(ref));
      }),
    );

    const valid: ValidRecord[] = [];
    const rejected: RejectedRecord[] = [];
    records.forEach((record, i) => {
      try {
        let out: EsmRecord = record;
        let valueJson: Buffer | undefined;
        this.fields.forEach((field, j) => {
          const f = framed[i][j];
          if (f === undefined) return; // no key, or a tombstone: delivered as it is
          if (f instanceof Rejection) throw f;
          const name = schemaRefName(f.ref);
          const codec = codecs.get(name)!;
          if (codec instanceof Rejection)
            throw new Rejection(codec.reason, `${where(record)}: ${field} (schema ${name}) ${codec.message}`);
          const json = this.decode(record, field, f, codec);
          if (field === 'value') valueJson = json;
          const data = this.settings.eventRecordFormat === 'JSON' ? json : f.body;
          out = {
            ...out,
            [field]: data.toString('base64'),
            [`${field}SchemaMetadata`]: { dataFormat: codec.format, schemaId: String(f.ref.id) },
          };
        });
        // Filters see a validated value deserialized (as JSON) in both record formats; any other value as its bytes.
        valid.push({
          record: out,
          filterValue: valueJson ?? (out.value === undefined || out.value === null ? null : Buffer.from(out.value, 'base64')),
        });
      } catch (e) {
        if (!(e instanceof Rejection)) throw e;
        rejected.push({ record, reason: e.reason, message: e.message });
      }
    });
    return { valid, rejected };
  }

  private framed(record: EsmRecord, field: Field): Framed | Rejection | undefined {
    const b64 = record[field];
    if (b64 === undefined || b64 === null) return undefined;
    try {
      return this.frame(Buffer.from(b64, 'base64'));
    } catch (e) {
      const schema = e instanceof FramingError && e.ref ? ` (schema ${schemaRefName(e.ref)})` : '';
      return new Rejection(
        'DESERIALIZATION_ERROR',
        `${where(record)}: ${field}${schema} is not in the ${registryKind(this.settings.uri) === 'glue' ? 'Glue' : 'Confluent'} wire format: ${reasonOf(e)}`,
      );
    }
  }

  /** The attribute's data decoded with its schema, as JSON text; a Rejection when the data does not match the schema. */
  private decode(record: EsmRecord, field: Field, framed: Framed, codec: Codec): Buffer {
    try {
      return Buffer.from(JSON.stringify(codec.decode(framed.body).value));
    } catch (e) {
      throw new Rejection(
        'DESERIALIZATION_ERROR',
        `${where(record)}: ${field} (schema ${schemaRefName(framed.ref)}) does not decode: ${reasonOf(e)}`,
      );
    }
  }

  /** A schema's codec (compiled once, a failed fetch asked again for the next batch), or why the record is rejected. */
  private async codec(ref: SchemaRef): Promise<Codec | Rejection> {
    try {
      return await this.schemas.codec(ref);
    } catch (e) {
      if (e instanceof SchemaCompileError)
        return new Rejection('DESERIALIZATION_ERROR', `has a schema that does not compile: ${e.reason}`);
      if (e instanceof RegistryError && e.notFound)
        return new Rejection('SCHEMA_NOT_FOUND', `is not in the registry: ${reasonOf(e)}`);
      throw new SchemaRegistryUnreachableError(
        `schema ${schemaRefName(ref)} could not be fetched from ${registryName(this.settings.uri)}: ${reasonOf(e)}`,
      );
    }
  }
}

const where = (r: EsmRecord) => `${r.topic}-${r.partition}@${r.offset}`;

/** A registry URL without its credentials or query, or a Glue registry ARN. */
function registryName(uri: string): string {
  if (uri.startsWith('arn:')) return uri;
  const u = new URL(uri);
  return `${u.protocol}//${u.host}${u.pathname}`;
}

/**
 * The local mapping's schema registry step on records in memory (the registry is a map; the real registries are in
 * test/cli/kafka/schemas.integ.test.ts): the JSON and SOURCE record formats with their schema metadata, Glue's zlib
 * framing, each schema fetched once, the reason codes of rejected records, and an unreachable registry failing the batch.
 */
import { deflateSync } from 'node:zlib';
import * as avsc from 'avsc';
import type { SchemaText } from '../../../runtime/schemas/codecs';
import { RegistryClient, RegistryError } from '../../../runtime/schemas/registry';
import type { EsmRecord } from '../../../cli/kafka/event';
import { RecordSchemaValidator, SchemaRegistryUnreachableError } from '../../../cli/kafka/schemas';
import { SchemaRegistrySettings } from '../../../cli/kafka/schemas-config';

const ORDER = {
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
  ],
} as const;
const order = avsc.Type.forSchema(ORDER as any);
const GLUE_ID = '0b7e3a52-6a47-4c2e-9b0e-6f1f6f0d2a11';

/** A registry in memory that counts its fetches; `down` makes it answer like one that cannot be reached. */
class MemoryRegistry implements RegistryClient {
  public fetches = 0;
  public down = false;
  constructor(private readonly schemas: Record<string, SchemaText>) {}
  async fetch(id: number | string): Promise<SchemaText> {
    this.fetches++;
    if (this.down) throw new RegistryError('127.0.0.1:1: connect ECONNREFUSED');
    const s = this.schemas[String(id)];
    if (!s) throw new RegistryError(`/schemas/ids/${id}: HTTP 404`, true);
    return s;
  }
}

const confluent = (id: number, data: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), data]);
const glue = (data: Buffer, zlib = false) =>
  Buffer.concat([Buffer.from([3, zlib ? 5 : 0]), Buffer.from(GLUE_ID.replace(/-/g, ''), 'hex'), zlib ? deflateSync(data) : data]);
const rec = (offset: number, value?: Buffer, key?: Buffer): EsmRecord => ({
  topic: 'orders',
  partition: 0,
  offset,
  timestamp: 1,
  timestampType: 'CREATE_TIME',
  headers: [],
  ...(key ? { key: key.toString('base64') } : {}),
  ...(value ? { value: value.toString('base64') } : {}),
});
const settings = (s: Partial<SchemaRegistrySettings>): SchemaRegistrySettings => ({
  uri: 'http://registry',
  eventRecordFormat: 'JSON',
  attributes: ['VALUE'],
  ...s,
});

describe('RecordSchemaValidator', () => {
  test('JSON: validated values become the base64 of their JSON text with valueSchemaMetadata; keys not validated stay as they were', async () => {
    // GIVEN Avro values in the Confluent wire format (schema 7), keys as plain text, and a tombstone
    const registry = new MemoryRegistry({ 7: { format: 'AVRO', schema: JSON.stringify(ORDER) } });
    const v = new RecordSchemaValidator(settings({}), registry);
    const records = [
      rec(0, confluent(7, order.toBuffer({ id: 'o1', qty: 2 })), Buffer.from('k0')),
      rec(1, confluent(7, order.toBuffer({ id: 'o2', qty: 3 }))),
      rec(2, undefined, Buffer.from('k2')),
    ];
    // WHEN validated
    const { valid, rejected } = await v.validate(records);
    // THEN each value is its JSON, with the schema's format and id; the key and the tombstone are untouched; one fetch
    expect(rejected).toEqual([]);
    expect(valid.map((r) => r.record)).toEqual([
      {
        ...records[0],
        value: Buffer.from('{"id":"o1","qty":2}').toString('base64'),
        valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: '7' },
      },
      {
        ...records[1],
        value: Buffer.from('{"id":"o2","qty":3}').toString('base64'),
        valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: '7' },
      },
      records[2],
    ]);
    expect(valid.map((r) => r.filterValue?.toString() ?? null)).toEqual(['{"id":"o1","qty":2}', '{"id":"o2","qty":3}', null]);
    expect(registry.fetches).toBe(1);
    // AND a second batch with the same schema asks the registry nothing
    await v.validate([records[0]]);
    expect(registry.fetches).toBe(1);
  });

  test('SOURCE: a Glue key (zlib) and value are delivered without their wire header, with their schema version id; filters see the value as JSON', async () => {
    // GIVEN Glue-framed Avro keys and values, the key compressed
    const registry = new MemoryRegistry({ [GLUE_ID]: { format: 'AVRO', schema: JSON.stringify(ORDER) } });
    const v = new RecordSchemaValidator(
      settings({
        uri: 'arn:aws:glue:us-east-1:111122223333:registry/r',
        eventRecordFormat: 'SOURCE',
        attributes: ['KEY', 'VALUE'],
      }),
      registry,
    );
    const data = order.toBuffer({ id: 'o1', qty: 2 });
    const [r] = [rec(0, glue(data), glue(data, true))];
    // WHEN validated
    const { valid } = await v.validate([r]);
    // THEN both fields are the Avro data alone, with the Glue schema version id
    expect(valid[0].record).toEqual({
      ...r,
      key: data.toString('base64'),
      value: data.toString('base64'),
      keySchemaMetadata: { dataFormat: 'AVRO', schemaId: GLUE_ID },
      valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: GLUE_ID },
    });
    expect(valid[0].filterValue?.toString()).toBe('{"id":"o1","qty":2}');
  });

  test('rejects, naming coordinates and schema but never the bytes: an unknown schema (SCHEMA_NOT_FOUND), bytes not in the wire format or not matching the schema (DESERIALIZATION_ERROR)', async () => {
    // GIVEN a good record, one naming schema 9 (not in the registry), one without the magic byte, one whose Avro data is cut short
    const registry = new MemoryRegistry({ 7: { format: 'AVRO', schema: JSON.stringify(ORDER) } });
    const v = new RecordSchemaValidator(settings({ attributes: ['KEY', 'VALUE'] }), registry);
    const good = confluent(7, order.toBuffer({ id: 'secret-value', qty: 2 }));
    const records = [
      rec(0, good),
      rec(1, confluent(9, Buffer.from('x'))),
      rec(2, Buffer.from('secret-value')),
      rec(3, good.subarray(0, good.length - 2)),
      rec(4, good, Buffer.from([3, 0])),
    ];
    // WHEN validated
    const { valid, rejected } = await v.validate(records);
    // THEN only the good one is delivered; each other is rejected with its reason code
    expect(valid.map((r) => r.record.offset)).toEqual([0]);
    expect(rejected.map((r) => [r.record, r.reason, r.message])).toEqual([
      [records[1], 'SCHEMA_NOT_FOUND', 'orders-0@1: value (schema confluent:9) is not in the registry: /schemas/ids/9: HTTP 404'],
      [
        records[2],
        'DESERIALIZATION_ERROR',
        expect.stringMatching(
          /^orders-0@2: value is not in the Confluent wire format: first byte is 115, not the Confluent wire format's magic byte 0$/,
        ),
      ],
      [records[3], 'DESERIALIZATION_ERROR', expect.stringMatching(/^orders-0@3: value \(schema confluent:7\) does not decode: /)],
      [
        records[4],
        'DESERIALIZATION_ERROR',
        "orders-0@4: key is not in the Confluent wire format: 2 bytes, shorter than the Confluent wire format's 5-byte header",
      ],
    ]);
    for (const r of rejected) expect(r.message).not.toContain('secret-value');
  });

  test('a registry that cannot be asked fails the whole batch with SchemaRegistryUnreachableError, and is asked again next time', async () => {
    // GIVEN a registry that is down
    const registry = new MemoryRegistry({ 7: { format: 'AVRO', schema: JSON.stringify(ORDER) } });
    registry.down = true;
    const v = new RecordSchemaValidator(settings({}), registry);
    const records = [rec(0, confluent(7, order.toBuffer({ id: 'o1', qty: 2 })))];
    // WHEN validated THEN nothing is decided: no record is rejected as poison
    await expect(v.validate(records)).rejects.toThrow(SchemaRegistryUnreachableError);
    await expect(v.validate(records)).rejects.toThrow(
      'schema confluent:7 could not be fetched from http://registry/: 127.0.0.1:1: connect ECONNREFUSED',
    );
    // AND once it is back, the same records validate
    registry.down = false;
    expect((await v.validate(records)).valid).toHaveLength(1);
    expect(registry.fetches).toBe(3);
  });
});

import { randomUUID } from 'node:crypto';
import { constants as zlibConstants, deflateRawSync, deflateSync, inflateSync } from 'node:zlib';
import * as avsc from 'avsc';
import * as protobuf from 'protobufjs';
import {
  decodeSourceEvent,
  EmfMetrics,
  JsonLogger,
  RecordDecoder,
  RegistryClient,
  RegistryError,
  SchemaRegistryUnavailableError,
  SchemaText,
} from '../../runtime';
import { Dispatcher } from '../../runtime/dispatcher/dispatcher';
import { kafkaEvent, kinesisEventRecord, RecordSpec } from './support';

const AVRO = JSON.stringify({
  type: 'record',
  name: 'Blob',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'data', type: 'bytes' },
    { name: 'tag', type: { type: 'fixed', name: 'Tag', size: 4 } },
    { name: 'note', type: ['null', 'string'], default: null },
  ],
});
const PROTO = 'syntax = "proto3";\npackage shop;\nmessage Blob {\n  string id = 1;\n  bytes data = 2;\n  int64 grams = 3;\n}\n';
const avroType = avsc.Type.forSchema(JSON.parse(AVRO));
const protoType = protobuf.parse(PROTO).root.lookupType('shop.Blob');

/** Confluent's wire format: magic byte 0, the schema id, then (Protobuf) the message indexes and the data. */
const confluent = (id: number, data: Uint8Array, indexes: number[] = []) =>
  Buffer.concat([Buffer.from([0, 0, 0, 0, id, ...indexes]), data]);
const avroRecord = (i: number) => ({
  id: `b-${i}`,
  data: Buffer.from([i, 255 - i, 7]),
  tag: Buffer.from([i, i, i, i]),
  note: i % 2 ? 'odd' : null,
});
const avroJson = (i: number) => ({
  id: `b-${i}`,
  data: Buffer.from([i, 255 - i, 7]).toString('base64'),
  tag: Buffer.from([i, i, i, i]).toString('base64'),
  note: i % 2 ? 'odd' : null,
});
const avroValue = (i: number) => confluent(1, avroType.toBuffer(avroRecord(i)));

/** A registry answering from memory, counting its fetches; `down` makes it unreachable. */
function registry(schemas: Record<number, SchemaText>) {
  const r = {
    fetches: 0,
    down: false,
    async fetch(id: number | string): Promise<SchemaText> {
      r.fetches++;
      if (r.down) throw new RegistryError('registry.example: connect ECONNREFUSED');
      const text = schemas[Number(id)];
      if (text === undefined) throw new RegistryError(`/schemas/ids/${id}: HTTP 404`, true);
      return text;
    },
  };
  return r satisfies RegistryClient;
}

const records = (specs: RecordSpec[]) => decodeSourceEvent(kafkaEvent(specs)).records;
const values = (n: number, value: (i: number) => unknown) =>
  Array.from({ length: n }, (_, i) => ({ topic: 'blobs', partition: 0, offset: i, value: value(i) }));

describe('RecordDecoder', () => {
  test('decodes Confluent-framed Avro values to JSON values, bytes and fixed as base64, fetching the schema once for two events', async () => {
    // GIVEN a decoder for Avro values and two events of records whose bytes differ
    const reg = registry({ 1: { format: 'AVRO', schema: AVRO } });
    const decoder = new RecordDecoder({ value: 'confluent', confluent: reg });
    for (const shift of [0, 50]) {
      const event = records(values(50, (i) => avroValue(i + shift)));
      // WHEN each event is decoded
      const errors = await decoder.decode(event);
      // THEN every record has its own value (none shares another's bytes), named by its schema
      expect(errors.size).toBe(0);
      expect(event.map((r) => r.decoded!.value)).toEqual(
        event.map((r) => ({ value: avroJson(Number(r.offset) + shift), schemaId: 'confluent:1', schemaName: 'shop.Blob' })),
      );
    }
    expect(reg.fetches).toBe(1);
  });

  test('decodes Protobuf values with the message index, int64 as text and bytes as base64, before and after the schema is compiled', async () => {
    // GIVEN a decoder for Protobuf values
    const decoder = new RecordDecoder({ value: 'confluent', confluent: registry({ 7: { format: 'PROTOBUF', schema: PROTO } }) });
    const value = (i: number) =>
      confluent(
        7,
        protoType.encode(protoType.fromObject({ id: `p-${i}`, data: Buffer.from([i, 1]), grams: '9007199254740993' })).finish(),
        [0],
      );
    const expected = (i: number) => ({
      value: { id: `p-${i}`, data: Buffer.from([i, 1]).toString('base64'), grams: '9007199254740993' },
      schemaId: 'confluent:7',
      schemaName: 'shop.Blob',
    });
    // WHEN a first and a second event are decoded
    const first = records(values(3, value));
    const second = records(values(3, value));
    await decoder.decode(first);
    await decoder.decode(second);
    // THEN both decode alike
    expect(first.map((r) => r.decoded!.value)).toEqual([0, 1, 2].map(expected));
    expect(second.map((r) => r.decoded!.value)).toEqual([0, 1, 2].map(expected));
  });

  test("decodes Kinesis data, keys and the mapping's SOURCE format; a tombstone stays null", async () => {
    // GIVEN a decoder for Avro keys and one for SOURCE-format values
    const reg = registry({ 1: { format: 'AVRO', schema: AVRO } });
    const keys = new RecordDecoder({ key: 'confluent', confluent: reg });
    const source = new RecordDecoder({ value: 'mapping-source', confluent: reg });
    const kafka = records([
      { topic: 'blobs', partition: 0, offset: 0, key: avroValue(3) },
      { topic: 'blobs', partition: 0, offset: 1, key: avroValue(4) },
    ]);
    const sourceFormat = records([
      {
        topic: 'blobs',
        partition: 0,
        offset: 0,
        value: avroType.toBuffer(avroRecord(5)),
        extra: { valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: '1' } },
      },
      { topic: 'blobs', partition: 0, offset: 1, extra: { valueSchemaMetadata: { dataFormat: 'AVRO', schemaId: '1' } } },
    ]);
    const kinesisRecord = kinesisEventRecord({
      stream: 'blobs',
      shardId: 'shardId-000000000000',
      sequenceNumber: '49590338271490256608559692538361571095921575989136588898',
    });
    kinesisRecord.kinesis.data = avroValue(6).toString('base64');
    const kinesis = decodeSourceEvent({ Records: [kinesisRecord] }).records;
    // WHEN decoded, twice (the schema not yet compiled, then compiled)
    for (let i = 0; i < 2; i++) {
      for (const [decoder, event] of [
        [keys, kafka],
        [source, sourceFormat],
        [new RecordDecoder({ value: 'confluent', confluent: reg }), kinesis],
      ] as const) {
        expect((await decoder.decode(event)).size).toBe(0);
      }
    }
    // THEN keys, SOURCE values and Kinesis data decode; the tombstone has nothing decoded
    expect(kafka.map((r) => r.decoded!.key!.value)).toEqual([avroJson(3), avroJson(4)]);
    expect(sourceFormat[0].decoded!.value).toEqual({ value: avroJson(5), schemaId: 'confluent:1', schemaName: 'shop.Blob' });
    expect(sourceFormat[1].decoded).toBeUndefined();
    expect(kinesis[0].decoded!.value!.value).toEqual(avroJson(6));
  });

  test('fails records that are not framed, do not decode or name an unknown schema, the same way before and after the schema is compiled', async () => {
    // GIVEN a decoder, and records: good, the Glue framing, truncated data, an unknown schema id, too short
    const decoder = new RecordDecoder({ value: 'confluent', confluent: registry({ 1: { format: 'AVRO', schema: AVRO } }) });
    const bad = [
      avroValue(1),
      Buffer.concat([Buffer.from([3, 0]), avroValue(1)]),
      avroValue(2).subarray(0, 12),
      confluent(9, avroType.toBuffer(avroRecord(3))),
      Buffer.from([0, 1]),
    ];
    const outcome = async () => {
      const event = records(values(bad.length, (i) => bad[i]));
      const errors = await decoder.decode(event);
      return event.map((r) => (errors.has(r) ? `${errors.get(r)!.name}: ${errors.get(r)!.message}` : r.decoded!.value!.schemaId));
    };
    // WHEN the records are decoded by a decoder that has not compiled the schema, then by one that has
    const cold = await outcome();
    const warm = await outcome();
    // THEN each bad record fails with a SchemaDecodeError naming it, alike both times
    expect(cold[0]).toBe('confluent:1');
    expect(cold.slice(1)).toEqual([
      expect.stringMatching(
        /^SchemaDecodeError: .*blobs-0@1.*first byte is 3, not the Confluent wire format's magic byte 0 \(it looks like the Glue wire format\)/,
      ),
      expect.stringMatching(/^SchemaDecodeError: .*blobs-0@2.*confluent:1/),
      expect.stringMatching(/^SchemaDecodeError: .*blobs-0@3.*confluent:9.*HTTP 404/),
      expect.stringMatching(/^SchemaDecodeError: .*blobs-0@4.*shorter than the Confluent wire format's 5-byte header/),
    ]);
    expect(warm).toEqual(cold);
  });

  test("fails a record whose key does not decode and whose value is not framed with the value's error, before and after the schemas are compiled", async () => {
    // GIVEN Avro keys and values, and a record with a truncated key and a value without the wire format's header
    const decoder = new RecordDecoder({
      key: 'confluent',
      value: 'confluent',
      confluent: registry({ 1: { format: 'AVRO', schema: AVRO } }),
    });
    const specs = (): RecordSpec[] => [
      { topic: 'blobs', partition: 0, offset: 0, key: avroValue(1), value: avroValue(2) },
      { topic: 'blobs', partition: 0, offset: 1, key: avroValue(1).subarray(0, 9), value: Buffer.from([1]) },
      { topic: 'blobs', partition: 0, offset: 2, key: avroValue(1).subarray(0, 9), value: avroValue(3) },
    ];
    for (let i = 0; i < 2; i++) {
      // WHEN decoded
      const event = records(specs());
      const errors = await decoder.decode(event);
      // THEN the good record has both fields, the second fails on its value's framing, the third on its key
      expect([event[0].decoded!.key!.value, event[0].decoded!.value!.value]).toEqual([avroJson(1), avroJson(2)]);
      expect(errors.get(event[1])).toMatchObject({
        name: 'SchemaDecodeError',
        message: expect.stringMatching(/value.*shorter than the Confluent/),
      });
      expect(errors.get(event[2])).toMatchObject({
        name: 'SchemaDecodeError',
        message: expect.stringMatching(/key.*confluent:1/),
      });
    }
  });

  test('fails records with SchemaRegistryUnavailableError while the registry cannot be reached, and decodes them once it can', async () => {
    // GIVEN an unreachable registry
    const reg = registry({ 1: { format: 'AVRO', schema: AVRO } });
    reg.down = true;
    const decoder = new RecordDecoder({ value: 'confluent', confluent: reg });
    // WHEN records arrive THEN each is retried (the registry is not the record's fault)
    const first = records(values(2, avroValue));
    const errors = await decoder.decode(first);
    expect([...errors.values()].map((e) => e.constructor)).toEqual([
      SchemaRegistryUnavailableError,
      SchemaRegistryUnavailableError,
    ]);
    // WHEN the registry is back THEN the same records decode
    reg.down = false;
    const again = records(values(2, avroValue));
    expect((await decoder.decode(again)).size).toBe(0);
    expect(again.map((r) => r.decoded!.value!.value)).toEqual([avroJson(0), avroJson(1)]);
  });
});

/** Glue's wire format: header version 3, the compression byte, the schema version id, then the data. */
const glue = (id: string, compression: 0 | 5, data: Buffer) =>
  Buffer.concat([Buffer.from([3, compression]), Buffer.from(id.replace(/-/g, ''), 'hex'), data]);

/**
 * A zlib stream of `size` zero bytes (a whole number of MiB): a zlib bomb. One MiB of zeros deflated into byte-aligned,
 * non-final blocks (a sync flush), repeated, then an empty final block and the Adler-32 of the zeros; made in
 * milliseconds, the zeros never held whole.
 */
function zlibBomb(size: number): Buffer {
  const mib = 1 << 20;
  const block = deflateRawSync(Buffer.alloc(mib), { level: 9, finishFlush: zlibConstants.Z_SYNC_FLUSH });
  const adler32 = Buffer.alloc(4);
  adler32.writeUInt32BE((((size % 65521) << 16) | 1) >>> 0);
  return Buffer.concat([Buffer.from([0x78, 0xda]), ...Array<Buffer>(size / mib).fill(block), Buffer.from([0x03, 0x00]), adler32]);
}

describe('RecordDecoder with Glue zlib data', () => {
  const ID = randomUUID();
  /** A Glue registry serving the Avro schema for any schema version id. */
  const glueRegistry = { fetch: async (): Promise<SchemaText> => ({ format: 'AVRO', schema: AVRO }) } satisfies RegistryClient;

  test("refuses a zlib bomb (1 MiB inflating to 1 GiB) with a SchemaDecodeError naming topic-partition@offset, stopping at the bound: the process' peak memory does not grow by the inflated size", async () => {
    // GIVEN a record whose zlib data inflates to 1 GiB (as a small one shows), between two good ones
    expect(inflateSync(zlibBomb(8 << 20)).equals(Buffer.alloc(8 << 20))).toBe(true);
    const bomb = glue(ID, 5, zlibBomb(1 << 30));
    const good = glue(ID, 5, deflateSync(avroType.toBuffer(avroRecord(1))));
    const decoder = new RecordDecoder({ value: 'glue', glue: glueRegistry });
    const event = records([good, bomb, good].map((value, offset) => ({ topic: 'blobs', partition: 3, offset, value })));
    const peakBefore = process.resourceUsage().maxRSS; // KiB

    // WHEN the records are decoded
    const errors = await decoder.decode(event);

    // THEN the bomb is refused, by its coordinates and schema, and the others decode
    expect([...errors.keys()]).toEqual([event[1]]);
    expect(errors.get(event[1])).toMatchObject({
      name: 'SchemaDecodeError',
      message: `Kafka record blobs-3@1: value (schema glue:${ID}) does not decode: zlib data inflates beyond 6291456 bytes, the bound on a record's inflated data`,
    });
    expect([event[0].decoded!.value!.value, event[2].decoded!.value!.value]).toEqual([avroJson(1), avroJson(1)]);
    // AND the inflating stopped at the bound: the peak resident memory grew by far less than the 1 GiB inflated whole
    expect((process.resourceUsage().maxRSS - peakBefore) / 1024).toBeLessThan(64);
  });

  test('takes the bound as an option: data inflating to more is refused, data within it decodes; a bound that is no number of bytes fails at construction', async () => {
    // GIVEN a decoder bounded at 64 bytes, and records inflating to 113 (an Avro record with 100 bytes of data) and to 16
    const decoder = new RecordDecoder({ value: 'glue', glue: glueRegistry, maxInflatedBytes: 64 });
    const big = { id: 'b-big', data: Buffer.alloc(100, 1), tag: Buffer.from('tags'), note: null };
    const event = records(
      [avroType.toBuffer(big), avroType.toBuffer(avroRecord(2))].map((data, offset) => ({
        topic: 'blobs',
        partition: 0,
        offset,
        value: glue(ID, 5, deflateSync(data)),
      })),
    );
    // WHEN decoded THEN the first is refused, the second decodes
    const errors = await decoder.decode(event);
    expect(errors.get(event[0])?.message).toMatch(/^Kafka record blobs-0@0: .* zlib data inflates beyond 64 bytes/);
    expect(event[1].decoded!.value!.value).toEqual(avroJson(2));
    // AND bounds that are not a whole number of bytes from 1 are refused
    for (const max of [0, 1.5, -1, Number.NaN])
      expect(() => new RecordDecoder({ value: 'glue', maxInflatedBytes: max })).toThrow(
        /^maxInflatedBytes must be a whole number of bytes/,
      );
  });
});

describe('RecordDecoder and the Dispatcher keep record data out of errors and logs', () => {
  /** Distinctive strings as the keys and values of a record: none may appear in an error message or a log line. */
  const CANARIES = [
    'canary-key-7f3a9@example.com',
    'canary-value-51c2e',
    'canary-nested-key-d04b',
    'canary-nested-value-88e1',
    'canary-item-value-3a6f',
  ];
  const JSON_SCHEMA = JSON.stringify({
    title: 'Contact',
    type: 'object',
    properties: {
      nested: { type: 'object', additionalProperties: { type: 'integer' } },
      items: { type: 'array', items: { type: 'integer' } },
    },
    additionalProperties: { type: 'object' },
  });
  const contact = (id: number) =>
    confluent(
      id,
      Buffer.from(
        JSON.stringify(
          id === 1
            ? { [CANARIES[0]]: CANARIES[1] }
            : id === 2
              ? { nested: { [CANARIES[2]]: CANARIES[3] } }
              : { items: [1, CANARIES[4]] },
        ),
      ),
    );

  test("a JSON Schema failure names the schema path and keyword, never the value's keys or values; through the dispatcher, no log line has them", async () => {
    // GIVEN JSON values that fail the schema at one of their own keys, at a nested key, and at an array item
    const reg = registry({
      1: { format: 'JSON', schema: JSON_SCHEMA },
      2: { format: 'JSON', schema: JSON_SCHEMA },
      3: { format: 'JSON', schema: JSON_SCHEMA },
    });
    const decoder = new RecordDecoder({ value: 'confluent', confluent: reg });
    const event = records([1, 2, 3].map((id, offset) => ({ topic: 'contacts', partition: 0, offset, value: contact(id) })));

    // WHEN decoded
    const errors = await decoder.decode(event);

    // THEN each fails naming the schema path and keyword
    expect(event.map((r) => errors.get(r)?.message)).toEqual([
      'Kafka record contacts-0@0: value (schema confluent:1) does not decode: does not match the JSON schema: #/additionalProperties/type (type): must be object',
      'Kafka record contacts-0@1: value (schema confluent:2) does not decode: does not match the JSON schema: #/properties/nested/additionalProperties/type (type): must be integer',
      'Kafka record contacts-0@2: value (schema confluent:3) does not decode: does not match the JSON schema: #/properties/items/items/type (type): must be integer',
    ]);
    // AND no error says anything of the value
    const said = [...errors.values()].map((e) => `${e.name} ${e.message} ${e.stack} ${JSON.stringify(e)}`).join('\n');
    for (const canary of CANARIES) expect(said).not.toContain(canary);

    // WHEN a dispatcher that drops failed records gets them
    const lines: string[] = [];
    const invoked: unknown[] = [];
    const dispatcher = new Dispatcher({
      invoker: {
        functionName: 'target',
        payloadFormat: 'confluent',
        invocationType: 'RequestResponse',
        invoke: async (b) => {
          invoked.push(b);
          return b.records.map(() => null);
        },
      },
      schemas: new RecordDecoder({ value: 'confluent', confluent: reg }),
      onError: 'drop',
      timeMarginMs: 1_000,
      logger: new JsonLogger({ level: 'DEBUG', write: (l) => lines.push(l) }),
      metrics: new EmfMetrics({ write: (l) => lines.push(l) }),
    });
    await dispatcher.handle(
      kafkaEvent([1, 2, 3].map((id, offset) => ({ topic: 'contacts', partition: 0, offset, value: contact(id) }))),
      { getRemainingTimeInMillis: () => 60_000 },
    );

    // THEN it logged the failures (by the schema's path), invoked nothing, and no log line has the value's keys or values
    expect(invoked).toEqual([]);
    expect(lines.join('\n')).toContain('#/properties/nested/additionalProperties/type (type)');
    for (const canary of CANARIES) expect(lines.join('\n')).not.toContain(canary);
  });
});

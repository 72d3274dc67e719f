import { deflateSync } from 'node:zlib';
import { toBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as avsc from 'avsc';
import * as protobuf from 'protobufjs';
import { BUILTIN_ALIASES, BUILTIN_DESCRIPTORS, BUILTIN_PROTO_TEXTS } from '../../runtime/schemas/builtin-protos';
import { compileCodec, parseJson } from '../../runtime/schemas/codecs';
import { readConfluentFrame, readConfluentMessageIndexes, readGlueFrame, refOfSchemaId } from '../../runtime/schemas/wire';
import { builtinProtoFiles, protoFile } from '../support/schema-registries';

const descriptor = require('protobufjs/ext/descriptor');

const UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427';
const glueHeader = (compression: number) =>
  Buffer.concat([Buffer.from([3, compression]), Buffer.from(UUID.replace(/-/g, ''), 'hex')]);
const zigzag = (...ns: number[]) => Buffer.from(ns.map((n) => (n << 1) ^ (n >> 31)));

const PROTO =
  'syntax = "proto3";\npackage shop;\nmessage Shipment {\n  string id = 1;\n  int64 total_grams = 2;\n  message Box { int32 size = 1; }\n  Box box = 3;\n  Kind kind = 4;\n}\nenum Kind { PARCEL = 0; PALLET = 1; }\nmessage Audit { string who = 1; }\n';
const protoType = (name: string) => protobuf.parse(PROTO).root.lookupType(name);
const protoBytes = (name: string, value: object) =>
  Buffer.from(protoType(name).encode(protoType(name).fromObject(value)).finish());

describe('wire formats', () => {
  test('GIVEN the Confluent wire format THEN the 4-byte big-endian schema id and the data are read; a short or foreign header is named', () => {
    expect(readConfluentFrame(Buffer.from([0, 0, 1, 0, 2, 9, 9]))).toEqual({
      ref: { registry: 'confluent', id: 65538 },
      body: Buffer.from([9, 9]),
    });
    expect(() => readConfluentFrame(Buffer.from([0, 0, 1]))).toThrow(
      "3 bytes, shorter than the Confluent wire format's 5-byte header",
    );
    expect(() => readConfluentFrame(glueHeader(0))).toThrow(
      "first byte is 3, not the Confluent wire format's magic byte 0 (it looks like the Glue wire format)",
    );
  });

  test('GIVEN the Glue wire format THEN the schema version id is read and zlib data inflated; other compression bytes and broken zlib are named with the schema id', () => {
    expect(readGlueFrame(Buffer.concat([glueHeader(0), Buffer.from('abc')]))).toEqual({
      ref: { registry: 'glue', id: UUID },
      body: Buffer.from('abc'),
    });
    expect(readGlueFrame(Buffer.concat([glueHeader(5), deflateSync(Buffer.from('abc'))])).body).toEqual(Buffer.from('abc'));
    expect(() => readGlueFrame(Buffer.concat([glueHeader(7), Buffer.from('abc')]))).toThrow(
      expect.objectContaining({
        message: 'compression byte is 7, not 0 (none) or 5 (zlib)',
        ref: { registry: 'glue', id: UUID },
      }),
    );
    expect(() => readGlueFrame(Buffer.concat([glueHeader(5), Buffer.from('not zlib')]))).toThrow(/^zlib data does not inflate/);
    expect(() => readGlueFrame(Buffer.from([0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]))).toThrow(
      "first byte is 0, not the Glue wire format's header version 3 (it looks like the Confluent wire format)",
    );
    expect(() => readGlueFrame(glueHeader(0).subarray(0, 10))).toThrow(
      "10 bytes, shorter than the Glue wire format's 18-byte header",
    );
  });

  test("GIVEN the mapping's schema ids THEN a number is a Confluent id, a UUID (any case) a Glue one, anything else none", () => {
    expect(refOfSchemaId('42')).toEqual({ registry: 'confluent', id: 42 });
    expect(refOfSchemaId(UUID.toUpperCase())).toEqual({ registry: 'glue', id: UUID });
    expect(refOfSchemaId('orders-value')).toBeUndefined();
  });

  test('GIVEN Confluent message indexes THEN a single 0 is [0], a count is followed by the path; a bad count or a truncated index fails', () => {
    expect(readConfluentMessageIndexes(Buffer.from([0, 8]))).toEqual({ indexes: [0], rest: Buffer.from([8]) });
    expect(readConfluentMessageIndexes(Buffer.concat([zigzag(2, 1, 0), Buffer.from([8])]))).toEqual({
      indexes: [1, 0],
      rest: Buffer.from([8]),
    });
    expect(() => readConfluentMessageIndexes(zigzag(-1))).toThrow('Protobuf message index count -1 is not valid');
    expect(() => readConfluentMessageIndexes(Buffer.from([4, 0x80]))).toThrow('Protobuf message index is truncated or too long');
  });
});

describe('codecs', () => {
  test('GIVEN an Avro schema with bytes, a union and a named type from a reference THEN values decode to JSON-ready values, bytes as base64', () => {
    // GIVEN a referenced record type and a schema using it
    const address = JSON.stringify({
      type: 'record',
      name: 'Address',
      namespace: 'shop',
      fields: [{ name: 'city', type: 'string' }],
    });
    const order = JSON.stringify({
      type: 'record',
      name: 'Order',
      namespace: 'shop',
      fields: [
        { name: 'to', type: 'shop.Address' },
        { name: 'tag', type: ['null', 'string'] },
        { name: 'blob', type: 'bytes' },
      ],
    });
    const codec = compileCodec(
      { format: 'AVRO', schema: order, references: [{ name: 'shop.Address', schema: { format: 'AVRO', schema: address } }] },
      'confluent',
    );
    const writer = avsc.Type.forSchema(JSON.parse(order), {
      registry: { 'shop.Address': avsc.Type.forSchema(JSON.parse(address)) },
    });
    // WHEN a value is decoded THEN
    expect(codec.decode(writer.toBuffer({ to: { city: 'Oslo' }, tag: 'gift', blob: Buffer.from([0, 1]) }))).toEqual({
      value: { to: { city: 'Oslo' }, tag: 'gift', blob: 'AAE=' },
      name: 'shop.Order',
    });
    // AND bytes that do not match fail
    expect(() => codec.decode(Buffer.from([0xff]))).toThrow();
  });

  test('GIVEN an Avro long beyond 2^53 THEN it decodes as its exact decimal text while safe longs stay numbers', () => {
    // GIVEN a record with two longs, one beyond the safe range (written by hand: avsc refuses to write it)
    const schema = JSON.stringify({
      type: 'record',
      name: 'Ids',
      fields: [
        { name: 'big', type: 'long' },
        { name: 'small', type: 'long' },
      ],
    });
    const codec = compileCodec({ format: 'AVRO', schema }, 'confluent');
    const big = Buffer.from([0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]); // zigzag varint of 2^53 + 1
    // WHEN decoded THEN
    expect(codec.decode(Buffer.concat([big, Buffer.from([0x0a])])).value).toEqual({ big: '9007199254740993', small: 5 });
    expect(codec.decode(Buffer.from([0x0a, 0x0a])).value).toEqual({ big: 5, small: 5 });
  });

  test('GIVEN a Protobuf schema and Confluent message indexes THEN the indexed (nested) message decodes as proto3 JSON; an index beyond the file fails', () => {
    const codec = compileCodec({ format: 'PROTOBUF', schema: PROTO }, 'confluent');
    expect(
      codec.decode(
        Buffer.concat([Buffer.from([0]), protoBytes('shop.Shipment', { id: 's1', totalGrams: '9007199254740993', kind: 1 })]),
      ),
    ).toEqual({ value: { id: 's1', totalGrams: '9007199254740993', box: null, kind: 'PALLET' }, name: 'shop.Shipment' });
    expect(codec.decode(Buffer.concat([zigzag(2, 0, 0), protoBytes('shop.Shipment.Box', { size: 7 })]))).toEqual({
      value: { size: 7 },
      name: 'shop.Shipment.Box',
    });
    expect(codec.decode(Buffer.concat([zigzag(1, 1), protoBytes('shop.Audit', { who: 'ann' })]))).toEqual({
      value: { who: 'ann' },
      name: 'shop.Audit',
    });
    expect(() => codec.decode(Buffer.concat([zigzag(1, 5), Buffer.from([8, 1])]))).toThrow(
      'no message at index path [5] of the schema',
    );
  });

  test("GIVEN a Protobuf schema and Glue's message index THEN it indexes every message of the file sorted by full name", () => {
    // shop.Audit, shop.Shipment, shop.Shipment.Box
    const codec = compileCodec({ format: 'PROTOBUF', schema: PROTO }, 'glue');
    expect(codec.decode(Buffer.concat([Buffer.from([2]), protoBytes('shop.Shipment.Box', { size: 3 })]))).toEqual({
      value: { size: 3 },
      name: 'shop.Shipment.Box',
    });
    expect(codec.decode(Buffer.concat([Buffer.from([0]), protoBytes('shop.Audit', { who: 'bo' })]))).toEqual({
      value: { who: 'bo' },
      name: 'shop.Audit',
    });
    expect(() => codec.decode(Buffer.from([3, 8, 1]))).toThrow("no message at index 3 of the schema's 3");
  });

  test('GIVEN a Protobuf schema served as a serialized FileDescriptorProto THEN it decodes to the same JSON as its text', () => {
    // GIVEN the descriptor of the same file, base64 (as Confluent's serializers register it)
    const root = protobuf.parse(PROTO, { keepCase: true }).root;
    root.resolveAll();
    const set = (root as any).toDescriptor('proto3');
    const serialized = Buffer.from(descriptor.FileDescriptorProto.encode(set.file[0]).finish()).toString('base64');
    const data = Buffer.concat([Buffer.from([0]), protoBytes('shop.Shipment', { id: 's2', totalGrams: '12', kind: 0 })]);
    // WHEN both decode the same bytes THEN the values are equal, snake_case fields in lowerCamelCase
    const fromText = compileCodec({ format: 'PROTOBUF', schema: PROTO }, 'confluent').decode(data);
    expect(compileCodec({ format: 'PROTOBUF', schema: serialized }, 'confluent').decode(data)).toEqual(fromText);
    expect(fromText.value).toEqual({ id: 's2', totalGrams: '12', box: null, kind: 'PARCEL' });
  });

  test("GIVEN a Protobuf schema importing another file by reference THEN messages of the import resolve and indexes count the file's own messages only", () => {
    const common = 'syntax = "proto3";\npackage common;\nmessage Money { int64 cents = 1; }\n';
    const order = 'syntax = "proto3";\npackage shop;\nimport "common.proto";\nmessage Order { common.Money total = 1; }\n';
    const codec = compileCodec(
      {
        format: 'PROTOBUF',
        schema: order,
        references: [{ name: 'common.proto', schema: { format: 'PROTOBUF', schema: common } }],
      },
      'confluent',
    );
    const root = protobuf.parse(common).root;
    protobuf.parse(order, root);
    const type = root.lookupType('shop.Order');
    expect(
      codec.decode(
        Buffer.concat([Buffer.from([0]), Buffer.from(type.encode(type.fromObject({ total: { cents: 250 } })).finish())]),
      ),
    ).toEqual({ value: { total: { cents: '250' } }, name: 'shop.Order' });
  });

  describe("Protobuf schemas importing the files Confluent's and Glue's SerDes treat as built in (no reference in the registry)", () => {
    const ORDER = [
      'syntax = "proto3";',
      'package shop;',
      'import "google/protobuf/timestamp.proto";',
      'import "google/protobuf/wrappers.proto";',
      'import "google/protobuf/struct.proto";',
      'import "google/protobuf/duration.proto";',
      'import "google/protobuf/field_mask.proto";',
      'import "google/type/date.proto";',
      'import "google/type/money.proto";',
      'import "confluent/meta.proto";',
      'option (confluent.file_meta).doc = "orders";',
      'message Order {',
      '  option (confluent.message_meta).doc = "an order";',
      '  string id = 1 [(confluent.field_meta).doc = "the order id", (confluent.field_meta).tags = "PII"];',
      '  google.protobuf.Timestamp placed_at = 2;',
      '  google.protobuf.StringValue note = 3;',
      '  google.type.Date due = 4;',
      '  google.type.Money total = 5;',
      '  google.protobuf.Struct extra = 6;',
      '  google.protobuf.Duration ttl = 7;',
      '  repeated google.protobuf.Timestamp seen = 8;',
      '  map<string, google.protobuf.Int64Value> counts = 9;',
      '  google.protobuf.FieldMask mask = 10;',
      '  google.protobuf.StringValue unset = 11;',
      '  message Line { google.protobuf.Timestamp at = 1; google.protobuf.Int32Value qty = 2; }',
      '  repeated Line lines = 12;',
      '}',
      'message Audit { google.protobuf.BoolValue ok = 1; }',
      '',
    ].join('\n');
    const built = protoFile(ORDER, 'shop/order.proto');
    const encode = (name: string, value: object) => {
      const t = built.root.lookupType(name);
      return Buffer.from(t.encode(t.fromObject(value)).finish());
    };
    const order = encode('shop.Order', {
      id: 'o1',
      placedAt: { seconds: 1_700_000_000, nanos: 5_000_000 },
      note: { value: 'gift' },
      due: { year: 2024, month: 2, day: 29 },
      total: { currencyCode: 'EUR', units: 12, nanos: 500_000_000 },
      extra: {
        fields: {
          n: { numberValue: 1.5 },
          l: { listValue: { values: [{ stringValue: 'x' }, { nullValue: 0 }, { boolValue: true }] } },
          s: { structValue: { fields: {} } },
        },
      },
      ttl: { seconds: -1, nanos: -500_000_000 },
      seen: [{ seconds: 0 }, { seconds: 1, nanos: 123_456 }],
      counts: { k: { value: '9007199254740993' } },
      mask: { paths: ['placed_at', 'total.units'] },
      lines: [{ at: { seconds: 86_400 }, qty: { value: 0 } }],
    });
    /** proto3 JSON (protobuf.dev's JSON mapping) for the well-known types; google.type messages as their fields. */
    const ORDER_JSON = {
      id: 'o1',
      placedAt: '2023-11-14T22:13:20.005Z',
      note: 'gift',
      due: { year: 2024, month: 2, day: 29 },
      total: { currencyCode: 'EUR', units: '12', nanos: 500_000_000 },
      extra: { n: 1.5, l: ['x', null, true], s: {} },
      ttl: '-1.500s',
      seen: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:01.000123456Z'],
      counts: { k: '9007199254740993' },
      mask: 'placedAt,total.units',
      unset: null,
      lines: [{ at: '1970-01-02T00:00:00Z', qty: 0 }],
    };
    /** The file as Confluent's serializers register it: its FileDescriptorProto, base64, importing the built-in files by name. */
    const serialized = Buffer.from(
      toBinary(FileDescriptorProtoSchema, built.registry.getFile('shop/order.proto')!.proto),
    ).toString('base64');

    test.each([
      ['text', ORDER],
      ['a serialized FileDescriptorProto', serialized],
    ])(
      "GIVEN the schema as %s with Confluent's message indexes THEN Timestamp, Duration, wrappers, Struct and FieldMask decode as proto3 JSON, google.type messages as their fields; confluent/meta.proto options are read",
      (_, schema) => {
        // GIVEN the schema, with no references: the registry holds none for built-in files
        const codec = compileCodec({ format: 'PROTOBUF', schema }, 'confluent');
        // WHEN records of each message decode THEN
        expect(codec.decode(Buffer.concat([Buffer.from([0]), order]))).toEqual({ value: ORDER_JSON, name: 'shop.Order' });
        expect(codec.decode(Buffer.concat([zigzag(1, 1), encode('shop.Audit', { ok: { value: false } })]))).toEqual({
          value: { ok: false },
          name: 'shop.Audit',
        });
        expect(codec.decode(Buffer.concat([zigzag(2, 0, 0), encode('shop.Order.Line', { qty: { value: 3 } })]))).toEqual({
          value: { at: null, qty: 3 },
          name: 'shop.Order.Line',
        });
      },
    );

    test("GIVEN the schema as text with Glue's message index THEN the index counts the file's own messages only (not the imported ones)", () => {
      // shop.Audit, shop.Order, shop.Order.Line
      const codec = compileCodec({ format: 'PROTOBUF', schema: ORDER }, 'glue');
      expect(codec.decode(Buffer.concat([Buffer.from([1]), order])).value).toEqual(ORDER_JSON);
      expect(codec.decode(Buffer.concat([Buffer.from([2]), encode('shop.Order.Line', { at: { seconds: 1 } })])).value).toEqual({
        at: '1970-01-01T00:00:01Z',
        qty: null,
      });
    });

    test('GIVEN a reference of the same name as a built-in file THEN the reference is used', () => {
      // GIVEN a registry that holds its own google/type/date.proto (a Date with one field) as a reference
      const date = 'syntax = "proto3";\npackage google.type;\nmessage Date { int32 year = 1; }\n';
      const schema =
        'syntax = "proto3";\npackage cal;\nimport "google/type/date.proto";\nmessage Day { google.type.Date date = 1; }\n';
      const codec = compileCodec(
        {
          format: 'PROTOBUF',
          schema,
          references: [{ name: 'google/type/date.proto', schema: { format: 'PROTOBUF', schema: date } }],
        },
        'confluent',
      );
      // WHEN a Date with year, month and day decodes THEN only the reference's field is there
      expect(codec.decode(Buffer.from([0, 0x0a, 0x05, 0x08, 0xe8, 0x0f, 0x10, 0x02])).value).toEqual({ date: { year: 2024 } });
    });

    test('GIVEN an import that is neither a reference nor built in THEN the schema does not compile, naming the missing type', () => {
      const schema = 'syntax = "proto3";\npackage shop;\nimport "acme/money.proto";\nmessage Price { acme.Money amount = 1; }\n';
      expect(() => compileCodec({ format: 'PROTOBUF', schema }, 'confluent')).toThrow(/acme\.Money/);
    });

    test("GIVEN every built-in file THEN the table holds google/type and confluent files as @confluentinc/schemaregistry ships them (and api, type, source_context as @bufbuild/protobuf does), and a schema importing each of them, and Glue's own, compiles", () => {
      // GIVEN the files Confluent's serializer treats as built in, as its package and @bufbuild/protobuf ship them
      const shipped = builtinProtoFiles();
      const fromProtobufjs = new Set(
        ['any', 'descriptor', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers'].map(
          (n) => `google/protobuf/${n}.proto`,
        ),
      );
      const expected = [...shipped.values()]
        .filter((f) => !fromProtobufjs.has(f.proto.name))
        .map((f) => [
          [...BUILTIN_ALIASES].find(([alias]) => alias === f.proto.name)?.[1] ?? f.proto.name,
          Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)).toString('base64'),
        ])
        .sort(([a], [b]) => (a < b ? -1 : 1));
      // THEN the table is theirs, byte for byte
      expect([...BUILTIN_DESCRIPTORS]).toEqual(expected);
      // AND a file importing each (a field of a message or enum of each file that has one) compiles and decodes
      const all = [...shipped.keys(), ...BUILTIN_PROTO_TEXTS.keys()];
      const fields = all.flatMap((name) => {
        const file = shipped.get(name);
        const type =
          file === undefined
            ? name === 'additionalTypes/decimal.proto'
              ? 'additionalTypes.Decimal'
              : undefined
            : [...file.messages, ...file.enums][0]?.typeName;
        return type === undefined ? [] : [type];
      });
      const schema = [
        'syntax = "proto3";',
        'package all;',
        ...all.map((n) => `import "${n}";`),
        'message All {',
        ...fields.map((t, i) => `  ${t} f${i + 1} = ${i + 1};`),
        '}',
        '',
      ].join('\n');
      const codec = compileCodec({ format: 'PROTOBUF', schema }, 'confluent');
      expect(fields.length).toBeGreaterThan(30);
      expect(Object.keys(codec.decode(Buffer.from([0])).value as object)).toHaveLength(fields.length);
    });
  });

  test("GIVEN a JSON Schema THEN a valid document decodes as is and an invalid one fails with the validator's reason", () => {
    const codec = compileCodec(
      {
        format: 'JSON',
        schema: JSON.stringify({
          title: 'Refund',
          type: 'object',
          properties: { cents: { type: 'integer' } },
          required: ['cents'],
        }),
      },
      'confluent',
    );
    expect(codec.decode(Buffer.from('{"cents":250}'))).toEqual({ value: { cents: 250 }, name: 'Refund' });
    expect(() => codec.decode(Buffer.from('{"cents":"x"}'))).toThrow(/cents/);
    expect(() => parseJson(Buffer.from('{"secret":'))).toThrow('10 bytes that are not JSON text');
  });
});

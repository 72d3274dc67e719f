import { deflateSync } from 'node:zlib';
import * as avsc from 'avsc';
import * as protobuf from 'protobufjs';
import { compileCodec, parseJson } from '../../runtime/schemas/codecs';
import { readConfluentFrame, readConfluentMessageIndexes, readGlueFrame, refOfSchemaId } from '../../runtime/schemas/wire';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const descriptor = require('protobufjs/ext/descriptor');

const UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427';
const glueHeader = (compression: number) => Buffer.concat([Buffer.from([3, compression]), Buffer.from(UUID.replace(/-/g, ''), 'hex')]);
const zigzag = (...ns: number[]) => Buffer.from(ns.map((n) => (n << 1) ^ (n >> 31)));

const PROTO = 'syntax = "proto3";\npackage shop;\nmessage Shipment {\n  string id = 1;\n  int64 total_grams = 2;\n  message Box { int32 size = 1; }\n  Box box = 3;\n  Kind kind = 4;\n}\nenum Kind { PARCEL = 0; PALLET = 1; }\nmessage Audit { string who = 1; }\n';
const protoType = (name: string) => protobuf.parse(PROTO).root.lookupType(name);
const protoBytes = (name: string, value: object) => Buffer.from(protoType(name).encode(protoType(name).fromObject(value)).finish());

describe('wire formats', () => {
  test('GIVEN the Confluent wire format THEN the 4-byte big-endian schema id and the data are read; a short or foreign header is named', () => {
    expect(readConfluentFrame(Buffer.from([0, 0, 1, 0, 2, 9, 9]))).toEqual({ ref: { registry: 'confluent', id: 65538 }, body: Buffer.from([9, 9]) });
    expect(() => readConfluentFrame(Buffer.from([0, 0, 1]))).toThrow('3 bytes, shorter than the Confluent wire format\'s 5-byte header');
    expect(() => readConfluentFrame(glueHeader(0))).toThrow('first byte is 3, not the Confluent wire format\'s magic byte 0 (it looks like the Glue wire format)');
  });

  test('GIVEN the Glue wire format THEN the schema version id is read and zlib data inflated; other compression bytes and broken zlib are named with the schema id', () => {
    expect(readGlueFrame(Buffer.concat([glueHeader(0), Buffer.from('abc')]))).toEqual({ ref: { registry: 'glue', id: UUID }, body: Buffer.from('abc') });
    expect(readGlueFrame(Buffer.concat([glueHeader(5), deflateSync(Buffer.from('abc'))])).body).toEqual(Buffer.from('abc'));
    expect(() => readGlueFrame(Buffer.concat([glueHeader(7), Buffer.from('abc')]))).toThrow(expect.objectContaining({
      message: 'compression byte is 7, not 0 (none) or 5 (zlib)', ref: { registry: 'glue', id: UUID },
    }));
    expect(() => readGlueFrame(Buffer.concat([glueHeader(5), Buffer.from('not zlib')]))).toThrow(/^zlib data does not inflate/);
    expect(() => readGlueFrame(Buffer.from([0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13])))
      .toThrow('first byte is 0, not the Glue wire format\'s header version 3 (it looks like the Confluent wire format)');
    expect(() => readGlueFrame(glueHeader(0).subarray(0, 10))).toThrow('10 bytes, shorter than the Glue wire format\'s 18-byte header');
  });

  test('GIVEN the mapping\'s schema ids THEN a number is a Confluent id, a UUID (any case) a Glue one, anything else none', () => {
    expect(refOfSchemaId('42')).toEqual({ registry: 'confluent', id: 42 });
    expect(refOfSchemaId(UUID.toUpperCase())).toEqual({ registry: 'glue', id: UUID });
    expect(refOfSchemaId('orders-value')).toBeUndefined();
  });

  test('GIVEN Confluent message indexes THEN a single 0 is [0], a count is followed by the path; a bad count or a truncated index fails', () => {
    expect(readConfluentMessageIndexes(Buffer.from([0, 8]))).toEqual({ indexes: [0], rest: Buffer.from([8]) });
    expect(readConfluentMessageIndexes(Buffer.concat([zigzag(2, 1, 0), Buffer.from([8])]))).toEqual({ indexes: [1, 0], rest: Buffer.from([8]) });
    expect(() => readConfluentMessageIndexes(zigzag(-1))).toThrow('Protobuf message index count -1 is not valid');
    expect(() => readConfluentMessageIndexes(Buffer.from([4, 0x80]))).toThrow('Protobuf message index is truncated or too long');
  });
});

describe('codecs', () => {
  test('GIVEN an Avro schema with bytes, a union and a named type from a reference THEN values decode to JSON-ready values, bytes as base64', () => {
    // GIVEN a referenced record type and a schema using it
    const address = JSON.stringify({ type: 'record', name: 'Address', namespace: 'shop', fields: [{ name: 'city', type: 'string' }] });
    const order = JSON.stringify({ type: 'record', name: 'Order', namespace: 'shop', fields: [
      { name: 'to', type: 'shop.Address' }, { name: 'tag', type: ['null', 'string'] }, { name: 'blob', type: 'bytes' },
    ] });
    const codec = compileCodec({ format: 'AVRO', schema: order, references: [{ name: 'shop.Address', schema: { format: 'AVRO', schema: address } }] }, 'confluent');
    const writer = avsc.Type.forSchema(JSON.parse(order), { registry: { 'shop.Address': avsc.Type.forSchema(JSON.parse(address)) } });
    // WHEN a value is decoded THEN
    expect(codec.decode(writer.toBuffer({ to: { city: 'Oslo' }, tag: 'gift', blob: Buffer.from([0, 1]) })))
      .toEqual({ value: { to: { city: 'Oslo' }, tag: 'gift', blob: 'AAE=' }, name: 'shop.Order' });
    // AND bytes that do not match fail
    expect(() => codec.decode(Buffer.from([0xff]))).toThrow();
  });

  test('GIVEN an Avro long beyond 2^53 THEN it decodes as its exact decimal text while safe longs stay numbers', () => {
    // GIVEN a record with two longs, one beyond the safe range (written by hand: avsc refuses to write it)
    const schema = JSON.stringify({ type: 'record', name: 'Ids', fields: [{ name: 'big', type: 'long' }, { name: 'small', type: 'long' }] });
    const codec = compileCodec({ format: 'AVRO', schema }, 'confluent');
    const big = Buffer.from([0x82, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]); // zigzag varint of 2^53 + 1
    // WHEN decoded THEN
    expect(codec.decode(Buffer.concat([big, Buffer.from([0x0a])])).value).toEqual({ big: '9007199254740993', small: 5 });
    expect(codec.decode(Buffer.from([0x0a, 0x0a])).value).toEqual({ big: 5, small: 5 });
  });

  test('GIVEN a Protobuf schema and Confluent message indexes THEN the indexed (nested) message decodes as proto3 JSON; an index beyond the file fails', () => {
    const codec = compileCodec({ format: 'PROTOBUF', schema: PROTO }, 'confluent');
    expect(codec.decode(Buffer.concat([Buffer.from([0]), protoBytes('shop.Shipment', { id: 's1', totalGrams: '9007199254740993', kind: 1 })])))
      .toEqual({ value: { id: 's1', totalGrams: '9007199254740993', box: null, kind: 'PALLET' }, name: 'shop.Shipment' });
    expect(codec.decode(Buffer.concat([zigzag(2, 0, 0), protoBytes('shop.Shipment.Box', { size: 7 })])))
      .toEqual({ value: { size: 7 }, name: 'shop.Shipment.Box' });
    expect(codec.decode(Buffer.concat([zigzag(1, 1), protoBytes('shop.Audit', { who: 'ann' })]))).toEqual({ value: { who: 'ann' }, name: 'shop.Audit' });
    expect(() => codec.decode(Buffer.concat([zigzag(1, 5), Buffer.from([8, 1])]))).toThrow('no message at index path [5] of the schema');
  });

  test('GIVEN a Protobuf schema and Glue\'s message index THEN it indexes every message of the file sorted by full name', () => {
    // shop.Audit, shop.Shipment, shop.Shipment.Box
    const codec = compileCodec({ format: 'PROTOBUF', schema: PROTO }, 'glue');
    expect(codec.decode(Buffer.concat([Buffer.from([2]), protoBytes('shop.Shipment.Box', { size: 3 })]))).toEqual({ value: { size: 3 }, name: 'shop.Shipment.Box' });
    expect(codec.decode(Buffer.concat([Buffer.from([0]), protoBytes('shop.Audit', { who: 'bo' })]))).toEqual({ value: { who: 'bo' }, name: 'shop.Audit' });
    expect(() => codec.decode(Buffer.from([3, 8, 1]))).toThrow('no message at index 3 of the schema\'s 3');
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

  test('GIVEN a Protobuf schema importing another file by reference THEN messages of the import resolve and indexes count the file\'s own messages only', () => {
    const common = 'syntax = "proto3";\npackage common;\nmessage Money { int64 cents = 1; }\n';
    const order = 'syntax = "proto3";\npackage shop;\nimport "common.proto";\nmessage Order { common.Money total = 1; }\n';
    const codec = compileCodec({ format: 'PROTOBUF', schema: order, references: [{ name: 'common.proto', schema: { format: 'PROTOBUF', schema: common } }] }, 'confluent');
    const root = protobuf.parse(common).root;
    protobuf.parse(order, root);
    const type = root.lookupType('shop.Order');
    expect(codec.decode(Buffer.concat([Buffer.from([0]), Buffer.from(type.encode(type.fromObject({ total: { cents: 250 } })).finish())])))
      .toEqual({ value: { total: { cents: '250' } }, name: 'shop.Order' });
  });

  test('GIVEN a JSON Schema THEN a valid document decodes as is and an invalid one fails with the validator\'s reason', () => {
    const codec = compileCodec({ format: 'JSON', schema: JSON.stringify({ title: 'Refund', type: 'object', properties: { cents: { type: 'integer' } }, required: ['cents'] }) }, 'confluent');
    expect(codec.decode(Buffer.from('{"cents":250}'))).toEqual({ value: { cents: 250 }, name: 'Refund' });
    expect(() => codec.decode(Buffer.from('{"cents":"x"}'))).toThrow(/cents/);
    expect(() => parseJson(Buffer.from('{"secret":'))).toThrow('10 bytes that are not JSON text');
  });
});

'use strict';
/**
 * The schema decode benchmark's records: orders of about 500 bytes with an Avro schema and a Protobuf message of
 * the same fields (strings, ints, longs, an optional string, a nested address, an array of lines; Protobuf adds an
 * enum), framed in the Confluent wire format (magic 0, the 4-byte schema id, and for Protobuf the message indexes:
 * one 0 byte for the file's first message).
 */
const avsc = require('avsc');
const protobuf = require('protobufjs');
const { kafkaEvent } = require('./common');

const SCHEMA_ID = 1;
const TOPIC = 'orders';
const FRAMED_BYTES = 500;

const AVRO_SCHEMA = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'bench',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'customer', type: 'string' },
    { name: 'createdAt', type: 'long' },
    { name: 'quantity', type: 'int' },
    { name: 'totalCents', type: 'long' },
    { name: 'coupon', type: ['null', 'string'], default: null },
    {
      name: 'shipping',
      type: {
        type: 'record',
        name: 'Address',
        fields: ['street', 'city', 'postcode', 'country'].map((name) => ({ name, type: 'string' })),
      },
    },
    {
      name: 'lines',
      type: {
        type: 'array',
        items: {
          type: 'record',
          name: 'Line',
          fields: [
            { name: 'sku', type: 'string' },
            { name: 'title', type: 'string' },
            { name: 'qty', type: 'int' },
            { name: 'priceCents', type: 'long' },
          ],
        },
      },
    },
    { name: 'note', type: 'string' },
  ],
});

/** The order's JSON Schema, for the first use of the JSON Schema codec. */
const JSON_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Order',
  type: 'object',
  properties: {
    id: { type: 'string' },
    customer: { type: 'string' },
    createdAt: { type: 'integer' },
    quantity: { type: 'integer' },
    totalCents: { type: 'integer' },
    coupon: { type: ['string', 'null'] },
    shipping: {
      type: 'object',
      properties: {
        street: { type: 'string' },
        city: { type: 'string' },
        postcode: { type: 'string' },
        country: { type: 'string' },
      },
      required: ['street', 'city', 'postcode', 'country'],
    },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          sku: { type: 'string' },
          title: { type: 'string' },
          qty: { type: 'integer' },
          priceCents: { type: 'integer' },
        },
        required: ['sku', 'qty', 'priceCents'],
      },
    },
    note: { type: 'string' },
  },
  required: ['id', 'customer', 'createdAt', 'lines'],
});

const PROTO = `syntax = "proto3";
package bench;
message Order {
  enum Status { PENDING = 0; PAID = 1; SHIPPED = 2; }
  message Address { string street = 1; string city = 2; string postcode = 3; string country = 4; }
  message Line { string sku = 1; string title = 2; int32 qty = 3; int64 price_cents = 4; }
  string id = 1;
  string customer = 2;
  int64 created_at = 3;
  int32 quantity = 4;
  int64 total_cents = 5;
  optional string coupon = 6;
  Address shipping = 7;
  repeated Line lines = 8;
  Status status = 9;
  string note = 10;
}
`;

/** The Order file as a serialized FileDescriptorProto (what Confluent's Protobuf serializer registers), and its FileDescriptorSet. */
function protoDescriptor() {
  const descriptor = require('protobufjs/ext/descriptor');
  const root = protobuf.parse(PROTO, { keepCase: true }).root;
  root.resolveAll();
  const set = root.toDescriptor('proto3');
  set.file[0].name = 'bench/order.proto';
  // protobufjs writes field types as the .proto names them and JSON names only where they differ; protoc's
  // descriptors name types in full and give every field its JSON name.
  const qualify = (messages, scope) =>
    messages.forEach((m) => {
      const type = root.lookupType(`${scope}${m.name}`);
      for (const f of m.field) {
        if (f.typeName) f.typeName = type.fields[f.name].resolvedType.fullName;
        f.jsonName = protobuf.util.camelCase(f.name);
      }
      qualify(m.nestedType, `${scope}${m.name}.`);
    });
  qualify(set.file[0].messageType, 'bench.');
  return {
    file: Buffer.from(descriptor.FileDescriptorProto.encode(set.file[0]).finish()).toString('base64'),
    set: descriptor.FileDescriptorSet.encode(set).finish(),
  };
}

const avroType = avsc.Type.forSchema(JSON.parse(AVRO_SCHEMA));
const protoType = protobuf.parse(PROTO).root.lookupType('bench.Order');

/** Order i's fields (without the note that pads it to size). */
function order(i) {
  const lines = [];
  for (let l = 0; l < 5; l++)
    lines.push({
      sku: `SKU-${(i * 31 + l) % 10007}`,
      title: `Item ${l} of order ${i}`,
      qty: 1 + ((i + l) % 4),
      priceCents: 199 + ((i * 7 + l * 13) % 50000),
    });
  return {
    id: `order-${String(i).padStart(8, '0')}`,
    customer: `customer-${i % 977}`,
    createdAt: 1763900000000 + i,
    quantity: lines.reduce((n, l) => n + l.qty, 0),
    totalCents: lines.reduce((n, l) => n + l.qty * l.priceCents, 0),
    coupon: i % 2 === 0 ? null : 'SPRING10',
    shipping: {
      street: `${1 + (i % 300)} Harbour Road`,
      city: 'Rotterdam',
      postcode: `30${String(i % 100).padStart(2, '0')} AB`,
      country: 'NL',
    },
    lines,
  };
}

/** Header bytes of the Confluent wire format; Protobuf's also has the message indexes. */
const confluentHeader = (messageIndexes = []) =>
  Buffer.from([0, ...[24, 16, 8, 0].map((s) => (SCHEMA_ID >>> s) & 0xff), ...messageIndexes]);

/** The note that makes `encode` of the order exactly `bytes` long (a string's length prefix grows with it). */
function padded(fields, bytes, encode) {
  let note = '';
  for (let i = 0; i < 3; i++) note = 'x'.repeat(Math.max(0, note.length + bytes - encode({ ...fields, note }).length));
  const value = { ...fields, note };
  if (encode(value).length !== bytes) throw new Error(`order ${fields.id} does not pad to ${bytes} bytes`);
  return value;
}

const avroOrder = (i) => padded(order(i), FRAMED_BYTES - 5, (v) => avroType.toBuffer(v));
const protoOrder = (i) =>
  padded({ ...order(i), coupon: order(i).coupon ?? undefined, status: i % 3 }, FRAMED_BYTES - 6, (v) =>
    protoType.encode(protoType.fromObject(v)).finish(),
  );

/** Order i as a value in the Confluent wire format. */
const avroValue = (i) => Buffer.concat([confluentHeader(), avroType.toBuffer(avroOrder(i))]);
const protobufValue = (i) =>
  Buffer.concat([confluentHeader([0]), protoType.encode(protoType.fromObject(protoOrder(i))).finish()]);

/**
 * The SelfManagedKafka event of `records` orders. `framing` 'confluent' carries the wire format as the producer wrote
 * it; 'mapping-source' what the event source mapping's schema registry delivers in its SOURCE record format (the
 * data without magic byte and schema id, Protobuf's message indexes kept, the schema id in valueSchemaMetadata),
 * the only schema registry framing Powertools' kafkaConsumer reads.
 */
function schemaEvent(format, records, { framing = 'confluent' } = {}) {
  const value = format === 'avro' ? avroValue : protobufValue;
  const source = framing === 'mapping-source';
  return kafkaEvent(records, {
    topic: TOPIC,
    value: (i) => (source ? value(i).subarray(5) : value(i)),
    fields: source
      ? { valueSchemaMetadata: { dataFormat: format === 'avro' ? 'AVRO' : 'PROTOBUF', schemaId: String(SCHEMA_ID) } }
      : {},
  });
}

module.exports = {
  SCHEMA_ID,
  TOPIC,
  FRAMED_BYTES,
  AVRO_SCHEMA,
  JSON_SCHEMA,
  PROTO,
  avroType,
  protoType,
  avroOrder,
  avroValue,
  protobufValue,
  protoDescriptor,
  schemaEvent,
};

'use strict';
/**
 * One schema decode measurement in a fresh process: `node schema-worker.js <avro|protobuf> <impl> <records>`.
 * Builds the event of Confluent-framed orders, runs the decoder WARMUP times (a warm Lambda container, its schema
 * compiled), then times ROUNDS passes and prints the median records per second as JSON. Every decoder ends with
 * each record's value as the same JSON-ready value.
 */
const path = require('path');
const { ROOT, median } = require('./common');
const { SCHEMA_ID, TOPIC, AVRO_SCHEMA, PROTO, protoDescriptor, schemaEvent } = require('./schema-fixtures');

const WARMUP = 3;
const ROUNDS = 7;

/** runtime/schemas/codecs.ts's toObject options: what the dispatcher's payload gets for a Protobuf message. */
const PROTO_JSON = { longs: String, enums: String, bytes: String, defaults: true, json: true };

/** Each decoder: (event) => the records' values, JSON-ready, in the event's order. */
const decoders = {
  /** The dispatcher's path: decodeSourceEvent, then RecordDecoder with a registry client answering from memory. */
  async ours(format) {
    const { decodeSourceEvent } = require(path.join(ROOT, 'build', 'runtime', 'dispatcher', 'source.js'));
    const { RecordDecoder } = require(path.join(ROOT, 'build', 'runtime', 'schemas', 'record-decoder.js'));
    const { RegistryError } = require(path.join(ROOT, 'build', 'runtime', 'schemas', 'registry.js'));
    const text = format === 'avro' ? { format: 'AVRO', schema: AVRO_SCHEMA } : { format: 'PROTOBUF', schema: PROTO };
    const confluent = {
      fetch: async (id) => {
        if (id !== SCHEMA_ID) throw new RegistryError(`no schema ${id}`, true);
        return text;
      },
    };
    const decoder = new RecordDecoder({ value: 'confluent', confluent });
    return async (event) => {
      const { records } = decodeSourceEvent(event);
      const errors = await decoder.decode(records);
      if (errors.size > 0) throw errors.values().next().value;
      return records.map((r) => r.decoded.value.value);
    };
  },
  /** kafkaConsumer reads the mapping's SOURCE format (no magic byte and schema id); Protobuf messages made JSON-ready as ours. */
  async powertools(format) {
    const { kafkaConsumer } = require('@aws-lambda-powertools/kafka');
    if (format === 'avro') {
      return kafkaConsumer(async (event) => event.records.map((r) => r.value), { value: { type: 'avro', schema: AVRO_SCHEMA } });
    }
    const type = require('protobufjs').parse(PROTO).root.lookupType('bench.Order');
    return kafkaConsumer(async (event) => event.records.map((r) => type.toObject(r.value, PROTO_JSON)), {
      value: { type: 'protobuf', schema: type },
    });
  },
  /** The least work: the schema compiled once, each value's header skipped and its data decoded. */
  async floor(format) {
    if (format === 'avro') {
      const type = require('avsc').Type.forSchema(JSON.parse(AVRO_SCHEMA));
      return async (event) => {
        const out = [];
        for (const group of Object.values(event.records))
          for (const r of group) out.push(type.fromBuffer(Buffer.from(r.value, 'base64').subarray(5)));
        return out;
      };
    }
    const type = require('protobufjs').parse(PROTO).root.lookupType('bench.Order');
    return async (event) => {
      const out = [];
      for (const group of Object.values(event.records))
        for (const r of group) out.push(type.toObject(type.decode(Buffer.from(r.value, 'base64').subarray(6)), PROTO_JSON));
      return out;
    };
  },
  /** Confluent's deserializers with the package's in-memory MockClient; Protobuf messages made JSON-ready with @bufbuild's toJson. */
  async confluent(format) {
    const sr = require('@confluentinc/schemaregistry');
    const client = new sr.MockClient({ baseURLs: ['mock://bench'] });
    let deserializer;
    let json = (v) => v;
    if (format === 'avro') {
      await registered(client, { schemaType: 'AVRO', schema: AVRO_SCHEMA });
      deserializer = new sr.AvroDeserializer(client, sr.SerdeType.VALUE, {});
    } else {
      const { createFileRegistry, fromBinary, toJson } = require('@bufbuild/protobuf');
      const { FileDescriptorSetSchema } = require('@bufbuild/protobuf/wkt');
      const { file, set } = protoDescriptor();
      await registered(client, { schemaType: 'PROTOBUF', schema: file });
      deserializer = new sr.ProtobufDeserializer(client, sr.SerdeType.VALUE, {});
      const desc = createFileRegistry(fromBinary(FileDescriptorSetSchema, set)).getMessage('bench.Order');
      json = (m) => toJson(desc, m, { alwaysEmitImplicit: true });
    }
    return async (event) => {
      const out = [];
      for (const group of Object.values(event.records)) {
        for (const r of group) out.push(json(await deserializer.deserialize(TOPIC, Buffer.from(r.value, 'base64'))));
      }
      return out;
    };
  },
};

/** Registers the schema under the topic's value subject, checking it got the id the records carry. */
async function registered(client, schema) {
  const id = await client.register(`${TOPIC}-value`, schema);
  if (id !== SCHEMA_ID) throw new Error(`the mock registry gave schema id ${id}, the records carry ${SCHEMA_ID}`);
}

/** The event an implementation reads: Powertools the mapping's SOURCE format, the others the Confluent wire format. */
const eventFor = (format, impl, records) =>
  schemaEvent(format, records, { framing: impl === 'powertools' ? 'mapping-source' : 'confluent' });

module.exports = { decoders, eventFor };

if (require.main === module) {
  (async () => {
    const [format, impl, recordsArg] = process.argv.slice(2);
    const records = Number(recordsArg);
    const decode = await decoders[impl](format);
    const event = eventFor(format, impl, records);
    const rps = [];
    for (let i = 0; i < WARMUP + ROUNDS; i++) {
      const start = process.hrtime.bigint();
      const values = await decode(event, {});
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (values.length !== records || values[records - 1] === null)
        throw new Error(`${impl} decoded ${values.length} of ${records} records`);
      if (i >= WARMUP) rps.push(records / (ms / 1000));
    }
    process.stdout.write(JSON.stringify({ format, impl, rps: median(rps) }) + '\n');
  })().catch((e) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  });
}

/**
 * Records serialized by the AWS Glue Schema Registry's SerDe (Python aws-glue-schema-registry, against moto's Glue
 * API), decoded by the dispatcher bundle under the Lambda emulator: the target gets JSON; records that do not
 * decode take the error topic on the real broker; an unreachable registry retries the partition and invokes nothing.
 */
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import * as protobuf from 'protobufjs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import { BUILTIN_PROTO_TEXTS } from '../../runtime/schemas/builtin-protos';
import { GlueProduced, glueProduce } from '../support/schema-registries';
import { closedPort, invokeFunction, kafkaEvent, readTopic, RecordSpec } from './support';

jest.setTimeout(300_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');

const AVRO = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
    { name: 'tag', type: ['null', 'string'], default: null },
    { name: 'blob', type: 'bytes' },
  ],
});
const JSON_SCHEMA = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Refund',
  type: 'object',
  properties: { id: { type: 'string' }, cents: { type: 'integer' } },
  required: ['id', 'cents'],
});
const PROTO =
  'syntax = "proto3";\npackage shop;\nmessage Shipment {\n  string id = 1;\n  int64 grams = 2;\n  message Box { int32 size = 1; }\n  Box box = 3;\n}\nmessage Audit { string who = 1; }\n';

/** A file importing well-known and common types, which the Glue SerDe registers as its text alone (the imports resolved by its deserializer). */
const WELL_KNOWN = [
  'syntax = "proto3";',
  'package shop;',
  'import "google/protobuf/timestamp.proto";',
  'import "google/protobuf/wrappers.proto";',
  'import "google/protobuf/duration.proto";',
  'import "google/type/date.proto";',
  'import "google/type/money.proto";',
  'message Delivery {',
  '  string id = 1;',
  '  google.protobuf.Timestamp shipped_at = 2;',
  '  google.protobuf.StringValue note = 3;',
  '  google.type.Date due = 4;',
  '  google.type.Money price = 5;',
  '  google.protobuf.Duration window = 6;',
  '  google.protobuf.Int64Value grams = 7;',
  '}',
  '',
].join('\n');

describe('schemas from the Glue Schema Registry', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const fns: te.RunningLambda[] = [];
  afterAll(async () => {
    lambda.destroy();
    await Promise.all(fns.map((f) => f.stop()));
  });
  const start = async (prefix: string, dir: string, handler: string, extraEnv: Record<string, string> = {}) => {
    const fn = await te.startLambda({ name: `${prefix}-${randomUUID().slice(0, 8)}`, dir, handler, env: extraEnv });
    fns.push(fn);
    return fn;
  };
  const config = (target: string, errorTopic?: string): DispatcherConfig => ({
    version: 2,
    target: {
      functionName: target,
      invocationType: 'RequestResponse',
      payloadFormat: 'confluent',
      recordsPerInvocation: 100,
      concurrency: 2,
      maxAttempts: 2,
      baseDelayMs: 20,
      maxDelayMs: 100,
    },
    onError: 'log',
    reportBatchItemFailures: true,
    timeMarginMs: 1_000,
    schemas: { key: 'bytes', value: 'glue', glue: {} },
    relay:
      errorTopic === undefined
        ? undefined
        : { bootstrapServers: [env.kafka.bootstrap.plaintext], auth: 'none', tls: false, errorTopic, clientId: 'schemas-test' },
  });
  const topic = `glue-${randomUUID()}`;
  const produced = (): GlueProduced =>
    glueProduce(env, {
      registry: `reg-${randomUUID().slice(0, 8)}`,
      topic,
      schemas: [
        {
          format: 'AVRO',
          definition: AVRO,
          compress: true,
          base64Fields: ['blob'],
          records: [
            { id: 'o1', qty: 2, tag: 'gift', blob: 'AAE=' },
            { id: 'o2', qty: 5, tag: null, blob: '' },
          ],
        },
        { format: 'JSON', definition: JSON_SCHEMA, records: [{ id: 'r1', cents: 250 }] },
        {
          format: 'PROTOBUF',
          definition: PROTO,
          records: [
            { type: 'shop.Shipment', value: { id: 's1', grams: '9007199254740993', box: { size: 3 } } },
            { type: 'shop.Shipment.Box', value: { size: 7 } },
          ],
        },
      ],
    });

  test('GIVEN Avro (zlib), JSON Schema and Protobuf records in the Glue wire format, one truncated (its zlib data cut short) and one naming an unknown schema version WHEN the dispatcher gets them THEN the target gets each value as JSON and the two bad records are on the error topic with SchemaDecodeError', async () => {
    // GIVEN records the Glue SerDe wrote
    const { encoded, versionIds } = produced();
    const avro = encoded[0].map((b) => Buffer.from(b, 'base64'));
    const truncated = avro[1].subarray(0, avro[1].length - 3);
    const unknown = Buffer.from(encoded[1][0], 'base64');
    Buffer.from(randomUUID().replace(/-/g, ''), 'hex').copy(unknown, 2);
    const values = [
      avro[0],
      Buffer.from(encoded[1][0], 'base64'),
      ...encoded[2].map((b) => Buffer.from(b, 'base64')),
      truncated,
      unknown,
    ];
    const specs: RecordSpec[] = values.map((value, i) => ({ topic, partition: 0, offset: i, key: `k${i}`, value }));
    const errorTopic = `glue-errors-${randomUUID()}`;
    await te.createTopic(errorTopic);
    const target = await start('t-glue', TARGETS, 'index.echo');
    const dispatcher = await start('d-glue', DISPATCHER, 'index.handler', {
      [DISPATCHER_CONFIG_ENV]: JSON.stringify(config(target.name, errorTopic)),
    });

    // WHEN the event reaches the dispatcher
    const out = await invokeFunction(lambda, dispatcher.name, kafkaEvent(specs));

    // THEN the event succeeded and the target got the decoded values
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    const payloads = (await te.listInvocations(target.name)).flatMap((i) => JSON.parse(i.payload).map((e: any) => e.payload));
    expect(payloads.map((p: any) => [p.offset, p.key, p.value])).toEqual([
      [0, 'k0', { id: 'o1', qty: 2, tag: 'gift', blob: 'AAE=' }],
      [1, 'k1', { id: 'r1', cents: 250 }],
      [2, 'k2', { id: 's1', grams: '9007199254740993', box: { size: 3 } }],
      [3, 'k3', { size: 7 }],
    ]);
    // AND the truncated record and the one with an unknown schema are on the error topic, named by coordinates and schema id
    const errors = (await readTopic(te, errorTopic, 2)).map((m) => ({ key: JSON.parse(m.key), value: JSON.parse(m.value) }));
    expect(errors.map((e) => [e.key.startOffset, e.value.functionError])).toEqual([
      [4, 'SchemaDecodeError'],
      [5, 'SchemaDecodeError'],
    ]);
    const messages = errors.map((e) => JSON.parse(e.value.payload).errorMessage);
    expect(messages[0]).toBe(
      `Kafka record ${topic}-0@4: value (schema glue:${versionIds[0]}) does not decode: zlib data does not inflate (unexpected end of file)`,
    );
    expect(messages[1]).toMatch(
      new RegExp(
        `^Kafka record ${topic}-0@5: value \\(schema glue:[0-9a-f-]{36}\\) does not decode: GetSchemaVersion [0-9a-f-]{36}: EntityNotFoundException$`,
      ),
    );
  });

  test('GIVEN Protobuf records whose schema imports google/protobuf and google/type, written by the Glue SerDe (zlib and not) WHEN the dispatcher gets them THEN the target gets them as JSON, the well-known types in proto3 JSON', async () => {
    // GIVEN records the Glue SerDe wrote, its schema registered as text that imports the built-in files
    const delivery = {
      type: 'shop.Delivery',
      value: {
        id: 'd1',
        shippedAt: { seconds: 1_700_000_000, nanos: 250_000_000 },
        note: { value: 'fragile' },
        due: { year: 2025, month: 12, day: 24 },
        price: { currencyCode: 'EUR', units: 19, nanos: 990_000_000 },
        window: { seconds: 90 },
        grams: { value: '9007199254740993' },
      },
    };
    const { encoded } = glueProduce(env, {
      registry: `reg-${randomUUID().slice(0, 8)}`,
      topic: `glue-wkt-${randomUUID()}`,
      schemas: [
        {
          format: 'PROTOBUF',
          definition: WELL_KNOWN,
          compress: true,
          records: [delivery, { type: 'shop.Delivery', value: { id: 'd2' } }],
        },
        { format: 'PROTOBUF', definition: WELL_KNOWN, records: [delivery] },
      ],
    });
    const specs: RecordSpec[] = [...encoded[0], ...encoded[1]].map((b, i) => ({
      topic,
      partition: 0,
      offset: 20 + i,
      key: `k${i}`,
      value: Buffer.from(b, 'base64'),
    }));
    const target = await start('t-glue-wkt', TARGETS, 'index.echo');
    const dispatcher = await start('d-glue-wkt', DISPATCHER, 'index.handler', {
      [DISPATCHER_CONFIG_ENV]: JSON.stringify(config(target.name)),
    });

    // WHEN the event reaches the dispatcher
    const out = await invokeFunction(lambda, dispatcher.name, kafkaEvent(specs));

    // THEN the target got each value as JSON
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    const d1 = {
      id: 'd1',
      shippedAt: '2023-11-14T22:13:20.250Z',
      note: 'fragile',
      due: { year: 2025, month: 12, day: 24 },
      price: { currencyCode: 'EUR', units: '19', nanos: 990_000_000 },
      window: '90s',
      grams: '9007199254740993',
    };
    const payloads = (await te.listInvocations(target.name)).flatMap((i) => JSON.parse(i.payload).map((e: any) => e.payload));
    expect(payloads.map((p: any) => [p.offset, p.value])).toEqual([
      [20, d1],
      [21, { id: 'd2', shippedAt: null, note: null, due: null, price: null, window: null, grams: null }],
      [22, d1],
    ]);
  });

  test("the Glue SerDe's own built-in files (metadata/metadata.proto, additionalTypes/decimal.proto), which only its jar ships, are what the decoder has", () => {
    for (const [name, text] of BUILTIN_PROTO_TEXTS) {
      const shipped = execFileSync(
        'java',
        ['-cp', `${env.moto.glueSerdeLibDir}/*`, path.join(__dirname, '..', '..', 'testenv', 'java', 'JarResource.java'), name],
        { timeout: 120_000 },
      ).toString();
      const definitions = (t: string) => protobuf.parse(t, { keepCase: true }).root.toJSON();
      expect(definitions(text)).toEqual(definitions(shipped));
    }
  });

  test('GIVEN the Glue API unreachable WHEN records in the Glue wire format arrive THEN the partition is retried from its first record, the target is not invoked and nothing goes to the error path', async () => {
    // GIVEN a dispatcher whose Glue endpoint is a closed port
    const { encoded } = produced();
    const specs: RecordSpec[] = encoded[0].map((b, i) => ({
      topic,
      partition: 0,
      offset: 10 + i,
      key: `k${i}`,
      value: Buffer.from(b, 'base64'),
    }));
    const target = await start('t-glue-down', TARGETS, 'index.echo');
    const dispatcher = await start('d-glue-down', DISPATCHER, 'index.handler', {
      [DISPATCHER_CONFIG_ENV]: JSON.stringify(config(target.name)),
      AWS_ENDPOINT_URL_GLUE: `http://127.0.0.1:${await closedPort()}`,
      AWS_MAX_ATTEMPTS: '1',
    });

    // WHEN the event arrives
    const out = await invokeFunction(lambda, dispatcher.name, kafkaEvent(specs));

    // THEN the partition is reported for retry from its first record, and the target ran nothing
    expect(out).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 10 } }] },
    });
    expect(await te.listInvocations(target.name)).toHaveLength(0);
  });
});

/**
 * Records serialized by Confluent's JavaScript serializers (@confluentinc/schemaregistry) against a real
 * Confluent-compatible registry (Apicurio Registry's ccompat API, started by testenv/registry with basic auth),
 * decoded by the dispatcher bundle under the Lambda emulator: the target gets JSON; a record naming an unknown schema
 * takes the error topic on the real broker; a registry refusing the credentials retries the partition; the mapping's
 * JSON and SOURCE record formats reach the target as JSON too.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { create, createMutableRegistry } from '@bufbuild/protobuf';
import {
  AvroSerializer,
  JsonSerializer,
  ProtobufSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig, PayloadFormatName, SchemasConfig } from '../../contract/dispatcher-config';
import {
  ConfluentCompatibleRegistry,
  confluentClient,
  MtlsFront,
  protoFile,
  protoFileRegistry,
  serde,
  startConfluentRegistry,
  startMtlsFront,
} from '../support/schema-registries';
import { invokeFunction, kafkaEvent, readTopic, RecordSpec } from './support';

jest.setTimeout(300_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');
const DISPATCHER = path.join(__dirname, '..', '..', 'assets', 'dispatcher');
const USER = 'dispatcher';
const PASSWORD: string = randomUUID();

const AVRO = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
    { name: 'tag', type: ['null', 'string'], default: null },
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
  'syntax = "proto3";\npackage shop;\nmessage Shipment {\n  string id = 1;\n  int64 total_grams = 2;\n  message Box { int32 size = 1; }\n  Box box = 3;\n}\n';

/** A file importing well-known and common types and setting confluent/meta.proto options: Confluent's serializer registers no reference for those files. */
const WELL_KNOWN = [
  'syntax = "proto3";',
  'package shop;',
  'import "google/protobuf/timestamp.proto";',
  'import "google/protobuf/wrappers.proto";',
  'import "google/protobuf/struct.proto";',
  'import "google/type/date.proto";',
  'import "google/type/money.proto";',
  'import "confluent/meta.proto";',
  'option (confluent.file_meta).doc = "deliveries";',
  'message Delivery {',
  '  option (confluent.message_meta).doc = "one delivery";',
  '  string id = 1 [(confluent.field_meta).doc = "the delivery id", (confluent.field_meta).tags = "PII"];',
  '  google.protobuf.Timestamp shipped_at = 2;',
  '  google.protobuf.StringValue note = 3;',
  '  google.type.Date due = 4;',
  '  google.type.Money price = 5;',
  '  google.protobuf.Struct extra = 6;',
  '  google.protobuf.Int64Value grams = 7;',
  '}',
  '',
].join('\n');

/** The .proto file as @bufbuild descriptors (what Confluent's Protobuf serializer takes). */
const protoRegistry = () => protoFileRegistry(PROTO, 'shop.proto');

describe('schemas from a Confluent-compatible registry', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const fns: te.RunningLambda[] = [];
  const fronts: MtlsFront[] = [];
  let registry: ConfluentCompatibleRegistry;
  let client: SchemaRegistryClient;
  beforeAll(async () => {
    registry = await startConfluentRegistry(`${USER}:${PASSWORD}`);
    client = confluentClient(registry, `${USER}:${PASSWORD}`);
  });
  afterAll(async () => {
    lambda.destroy();
    secrets.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    await Promise.all(fronts.map((f) => f.close()));
    if (registry) process.kill(registry.pid);
  });
  const start = async (prefix: string, dir: string, handler: string, extraEnv: Record<string, string> = {}) => {
    const fn = await te.startLambda({ name: `${prefix}-${randomUUID().slice(0, 8)}`, dir, handler, env: extraEnv });
    fns.push(fn);
    return fn;
  };
  /** A secret holding `value` (a password: the basic auth secret of USER); its ARN. */
  const secret = async (value: string | object) =>
    (
      await secrets.send(
        new CreateSecretCommand({
          Name: `registry-${randomUUID()}`,
          SecretString: JSON.stringify(typeof value === 'string' ? { username: USER, password: value } : value),
        }),
      )
    ).ARN!;
  const config = (
    target: string,
    schemas: SchemasConfig,
    errorTopic?: string,
    payloadFormat: PayloadFormatName = 'nordstrom-json',
  ): DispatcherConfig => ({
    version: 2,
    target: {
      functionName: target,
      invocationType: 'RequestResponse',
      payloadFormat,
      recordsPerInvocation: 100,
      concurrency: 2,
      maxAttempts: 2,
      baseDelayMs: 20,
      maxDelayMs: 100,
    },
    onError: 'log',
    reportBatchItemFailures: true,
    timeMarginMs: 1_000,
    schemas,
    relay:
      errorTopic === undefined
        ? undefined
        : { bootstrapServers: [env.kafka.bootstrap.plaintext], auth: 'none', tls: false, errorTopic, clientId: 'schemas-test' },
  });
  const dispatcherFor = async (
    prefix: string,
    schemas: (secretArn: string) => SchemasConfig,
    errorTopic?: string,
    password = PASSWORD,
  ) => {
    const target = await start(`t-${prefix}`, TARGETS, 'index.echo');
    const secretArn = await secret(password);
    const dispatcher = await start(`d-${prefix}`, DISPATCHER, 'index.handler', {
      [DISPATCHER_CONFIG_ENV]: JSON.stringify(config(target.name, schemas(secretArn), errorTopic)),
    });
    return { target, dispatcher, secretArn };
  };
  const confluent = (secretArn: string): SchemasConfig['confluent'] => ({ url: registry.url, auth: 'basic', secretArn });
  /** What the target got: each record's offset, key and value (nordstrom-json: the value as JSON), with its schema name. */
  const received = async (target: string) =>
    (await te.listInvocations(target))
      .flatMap((i) => JSON.parse(i.payload))
      .map((p: any) => [p.offset, p.key, p.value, p.valueSchemaName]);

  test("GIVEN Avro, JSON Schema and Protobuf values and an Avro key written by Confluent's serializers, and one value naming an unknown schema id WHEN the dispatcher gets them THEN the target gets keys and values as JSON and the unknown one is on the error topic with SchemaDecodeError", async () => {
    // GIVEN records serialized with the registry (schemas registered under the topic's subjects)
    const topic = `confluent-${randomUUID()}`;
    await client.register(`${topic}-key`, {
      schemaType: 'AVRO',
      schema: JSON.stringify({ type: 'record', name: 'OrderKey', namespace: 'shop', fields: [{ name: 'n', type: 'long' }] }),
    });
    await client.register(`${topic}-value`, { schemaType: 'AVRO', schema: AVRO });
    const latest = { autoRegisterSchemas: false, useLatestVersion: true };
    const avro = new AvroSerializer(client, SerdeType.VALUE, serde(latest));
    const avroKey = new AvroSerializer(client, SerdeType.KEY, serde(latest));
    const jsonTopic = `${topic}-refunds`;
    await client.register(`${jsonTopic}-value`, { schemaType: 'JSON', schema: JSON_SCHEMA });
    const json = new JsonSerializer(client, SerdeType.VALUE, serde({ ...latest, validate: true }));
    const files = protoRegistry();
    const proto = new ProtobufSerializer(
      client,
      SerdeType.VALUE,
      serde({ autoRegisterSchemas: true, registry: createMutableRegistry(files.getFile('shop.proto')!) }),
    );
    const values = [
      await avro.serialize(topic, { id: 'o1', qty: 2, tag: 'gift' }),
      await avro.serialize(topic, { id: 'o2', qty: 5, tag: null }),
      await json.serialize(jsonTopic, { id: 'r1', cents: 250 }),
      await proto.serialize(
        `${topic}-shipments`,
        create(files.getMessage('shop.Shipment')!, { id: 's1', totalGrams: BigInt('9007199254740993'), box: { size: 3 } }),
      ),
      await proto.serialize(`${topic}-shipments`, create(files.getMessage('shop.Shipment.Box')!, { size: 7 })),
    ];
    const unknown = Buffer.from(values[0]);
    unknown.writeUInt32BE(987_654, 1);
    const keys = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => avroKey.serialize(topic, { n })));
    const specs: RecordSpec[] = [...values, unknown].map((value, i) => ({ topic, partition: 0, offset: i, key: keys[i], value }));
    const errorTopic = `confluent-errors-${randomUUID()}`;
    await te.createTopic(errorTopic);
    const { target, dispatcher } = await dispatcherFor(
      'cc',
      (arn) => ({ key: 'confluent', value: 'confluent', confluent: confluent(arn) }),
      errorTopic,
    );

    // WHEN the event reaches the dispatcher
    const out = await invokeFunction(lambda, dispatcher.name, kafkaEvent(specs));

    // THEN the event succeeded, the target got the decoded keys and values with their schemas' names
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await received(target.name)).toEqual([
      [0, { n: 1 }, { id: 'o1', qty: 2, tag: 'gift' }, 'shop.Order'],
      [1, { n: 2 }, { id: 'o2', qty: 5, tag: null }, 'shop.Order'],
      [2, { n: 3 }, { id: 'r1', cents: 250 }, 'Refund'],
      [3, { n: 4 }, { id: 's1', totalGrams: '9007199254740993', box: { size: 3 } }, 'shop.Shipment'],
      [4, { n: 5 }, { size: 7 }, 'shop.Shipment.Box'],
    ]);
    // AND the record naming an unknown schema is on the error topic, named by its coordinates and schema id
    const [error] = (await readTopic(te, errorTopic, 1)).map((m) => ({ key: JSON.parse(m.key), value: JSON.parse(m.value) }));
    expect([error.key.startOffset, error.value.functionError]).toEqual([5, 'SchemaDecodeError']);
    expect(JSON.parse(error.value.payload).errorMessage).toMatch(
      new RegExp(`^Kafka record ${topic}-0@5: value \\(schema confluent:987654\\) does not decode: .*404`),
    );
  });

  test("GIVEN Protobuf values whose schema imports google/protobuf, google/type and confluent/meta.proto (registered by Confluent's serializer without references for them) WHEN the dispatcher gets them THEN the target gets them as JSON, the well-known types in proto3 JSON", async () => {
    // GIVEN values written by Confluent's ProtobufSerializer, the schema registered by it (a serialized descriptor)
    const topic = `confluent-wkt-${randomUUID()}`;
    const { registry: files } = protoFile(WELL_KNOWN, 'shop/delivery.proto');
    const proto = new ProtobufSerializer(
      client,
      SerdeType.VALUE,
      serde({ autoRegisterSchemas: true, registry: createMutableRegistry(files.getFile('shop/delivery.proto')!) }),
    );
    const type = files.getMessage('shop.Delivery')!;
    const values = [
      await proto.serialize(
        topic,
        create(type, {
          id: 'd1',
          shippedAt: { seconds: BigInt(1_700_000_000), nanos: 250_000_000 },
          note: 'fragile',
          due: { year: 2025, month: 12, day: 24 },
          price: { currencyCode: 'EUR', units: BigInt(19), nanos: 990_000_000 },
          extra: { gate: 7, tags: ['a', null] },
          grams: BigInt('9007199254740993'),
        }),
      ),
      await proto.serialize(topic, create(type, { id: 'd2' })),
    ];
    // AND the registry holds the schema with no reference for the built-in files it imports
    const [subject] = (await client.getAllSubjects()).filter((s) => s.startsWith(topic));
    const registered = await client.getLatestSchemaMetadata(subject);
    expect(registered.references ?? []).toEqual([]);
    const { target, dispatcher } = await dispatcherFor('cc-wkt', (arn) => ({
      key: 'bytes',
      value: 'confluent',
      confluent: confluent(arn),
    }));

    // WHEN the event reaches the dispatcher
    const out = await invokeFunction(
      lambda,
      dispatcher.name,
      kafkaEvent(values.map((value, i) => ({ topic, partition: 0, offset: i, key: `k${i}`, value }))),
    );

    // THEN the target got both values as JSON
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await received(target.name)).toEqual([
      [
        0,
        'k0',
        {
          id: 'd1',
          shippedAt: '2023-11-14T22:13:20.250Z',
          note: 'fragile',
          due: { year: 2025, month: 12, day: 24 },
          price: { currencyCode: 'EUR', units: '19', nanos: 990_000_000 },
          extra: { gate: 7, tags: ['a', null] },
          grams: '9007199254740993',
        },
        'shop.Delivery',
      ],
      [1, 'k1', { id: 'd2', shippedAt: null, note: null, due: null, price: null, extra: null, grams: null }, 'shop.Delivery'],
    ]);
  });

  test("GIVEN an Avro key and value WHEN dispatchers with the confluent, nordstrom-plain and raw payload formats get them THEN confluent carries both as JSON, nordstrom-plain as JSON text with the schemas' names and ids, and raw the event's bytes", async () => {
    // GIVEN a key and a value serialized with the registry
    const topic = `confluent-formats-${randomUUID()}`;
    const keyId = await client.register(`${topic}-key`, {
      schemaType: 'AVRO',
      schema: JSON.stringify({ type: 'record', name: 'OrderKey', namespace: 'shop', fields: [{ name: 'n', type: 'long' }] }),
    });
    const valueId = await client.register(`${topic}-value`, { schemaType: 'AVRO', schema: AVRO });
    const key = await new AvroSerializer(client, SerdeType.KEY, serde({ useLatestVersion: true })).serialize(topic, { n: 4 });
    const value = await new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true })).serialize(topic, {
      id: 'o4',
      qty: 4,
      tag: null,
    });
    const event = kafkaEvent([{ topic, partition: 0, offset: 4, key, value }]);
    const secretArn = await secret(PASSWORD);
    const payloads: Record<string, unknown> = {};

    // WHEN a dispatcher with each format gets the event
    for (const format of ['confluent', 'nordstrom-plain', 'raw'] as const) {
      const target = await start(`t-${format}`, TARGETS, 'index.echo');
      const schemas: SchemasConfig = { key: 'confluent', value: 'confluent', confluent: confluent(secretArn) };
      const dispatcher = await start(`d-${format}`, DISPATCHER, 'index.handler', {
        [DISPATCHER_CONFIG_ENV]: JSON.stringify(config(target.name, schemas, undefined, format)),
      });
      expect(await invokeFunction(lambda, dispatcher.name, event)).toEqual({
        functionError: undefined,
        body: { batchItemFailures: [] },
      });
      payloads[format] = (await te.listInvocations(target.name)).map((i) => JSON.parse(i.payload));
    }

    // THEN each target got the record in its format
    expect(payloads.confluent).toEqual([
      [
        {
          payload: {
            timestamp: 1_700_000_000_004,
            topic,
            partition: 0,
            offset: 4,
            key: { n: 4 },
            value: { id: 'o4', qty: 4, tag: null },
          },
        },
      ],
    ]);
    expect(payloads['nordstrom-plain']).toEqual([
      [
        expect.objectContaining({
          key: '{"n":4}',
          keySchemaName: 'shop.OrderKey',
          keySchemaId: `confluent:${keyId}`,
          value: '{"id":"o4","qty":4,"tag":null}',
          valueSchemaName: 'shop.Order',
          valueSchemaId: `confluent:${valueId}`,
          offset: 4,
        }),
      ],
    ]);
    const [raw] = payloads.raw as any[];
    expect(raw.records[`${topic}-0`].map((r: any) => [r.offset, r.key, r.value])).toEqual([
      [4, key.toString('base64'), value.toString('base64')],
    ]);
  });

  test("GIVEN the registry refuses the dispatcher's password WHEN records in the Confluent wire format arrive THEN the partition is retried from its first record and the target is not invoked; once the secret holds the right password, the next delivery decodes them in the same execution environment", async () => {
    // GIVEN a value serialized with the registry, and a dispatcher whose secret holds a wrong password
    const topic = `confluent-auth-${randomUUID()}`;
    await client.register(`${topic}-value`, { schemaType: 'AVRO', schema: AVRO });
    const value = await new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true })).serialize(topic, {
      id: 'o1',
      qty: 1,
      tag: null,
    });
    const { target, dispatcher, secretArn } = await dispatcherFor(
      'cc-auth',
      (arn) => ({ key: 'bytes', value: 'confluent', confluent: confluent(arn) }),
      undefined,
      'wrong',
    );
    const event = kafkaEvent([{ topic, partition: 0, offset: 7, key: 'k', value }]);

    // WHEN the event arrives
    const out = await invokeFunction(lambda, dispatcher.name, event);

    // THEN the partition is reported for retry, nothing was invoked
    expect(out).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 7 } }] },
    });
    expect(await te.listInvocations(target.name)).toHaveLength(0);
    // AND the registry's refusal is why (the dispatcher's log, by coordinates)
    expect(fs.readFileSync(dispatcher.logFile, 'utf8')).toMatch(
      new RegExp(
        `"SchemaRegistryUnavailableError","message":"Kafka record ${topic}-0@7: value schema confluent:\\d+ could not be fetched: [^"]*HTTP 401"`,
      ),
    );

    // WHEN the password in the secret is put right (a rotation) and the partition is delivered again
    await secrets.send(
      new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify({ username: USER, password: PASSWORD }) }),
    );
    const again = await invokeFunction(lambda, dispatcher.name, event);

    // THEN the dispatcher read the secret again and the target got the value as JSON, all in one execution environment (the emulator's log)
    expect(again).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await received(target.name)).toEqual([[7, 'k', { id: 'o1', qty: 1, tag: null }, 'shop.Order']]);
    expect(fs.readFileSync(dispatcher.logFile, 'utf8').match(/INIT START/g)).toHaveLength(1);
  });

  test('GIVEN the registry behind mTLS (client certificates under the test CA required) WHEN the dispatcher has the mTLS secret (certificate chain, PBES1-encrypted key) and the CA secret THEN the target gets the value as JSON; with a client certificate of another CA the handshake is refused and the partition retried, until the secret holds a trusted one', async () => {
    // GIVEN an Avro value, the registry behind an mTLS front, and the secrets in the mapping's formats
    const topic = `confluent-mtls-${randomUUID()}`;
    await client.register(`${topic}-value`, { schemaType: 'AVRO', schema: AVRO });
    const value = await new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true })).serialize(topic, {
      id: 'o3',
      qty: 3,
      tag: 'tls',
    });
    const front = await startMtlsFront(registry, `${USER}:${PASSWORD}`);
    fronts.push(front);
    const { pem, passwords } = env.certs;
    const ca = await secret({ certificate: pem.caCert });
    const trusted = await secret({
      certificate: pem.clientChain,
      privateKey: pem.clientKeyPbes1,
      privateKeyPassword: passwords.pbes1,
    });
    const rogue = await secret({ certificate: pem.untrustedClientCert, privateKey: pem.untrustedClientKey });
    const mtlsDispatcher = async (prefix: string, secretArn: string) => {
      const target = await start(`t-${prefix}`, TARGETS, 'index.echo');
      const schemas: SchemasConfig = {
        key: 'bytes',
        value: 'confluent',
        confluent: { url: front.url, auth: 'mtls', secretArn, rootCaSecretArn: ca },
      };
      return {
        target,
        dispatcher: await start(`d-${prefix}`, DISPATCHER, 'index.handler', {
          [DISPATCHER_CONFIG_ENV]: JSON.stringify(config(target.name, schemas)),
        }),
      };
    };
    const good = await mtlsDispatcher('cc-mtls', trusted);
    const bad = await mtlsDispatcher('cc-rogue', rogue);
    const event = kafkaEvent([{ topic, partition: 0, offset: 3, key: 'k', value }]);

    // WHEN the event reaches each
    const [outGood, outBad] = [
      await invokeFunction(lambda, good.dispatcher.name, event),
      await invokeFunction(lambda, bad.dispatcher.name, event),
    ];

    // THEN the trusted one decoded the value through the front
    expect(outGood).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await received(good.target.name)).toEqual([[3, 'k', { id: 'o3', qty: 3, tag: 'tls' }, 'shop.Order']]);
    // AND the front refused the other's handshake, the partition is retried and its target not invoked
    expect(front.refusedHandshakes).toBeGreaterThan(0);
    expect(outBad).toEqual({
      functionError: undefined,
      body: { batchItemFailures: [{ itemIdentifier: { partition: `${topic}-0`, offset: 3 } }] },
    });
    expect(await te.listInvocations(bad.target.name)).toHaveLength(0);
    expect(fs.readFileSync(bad.dispatcher.logFile, 'utf8')).toMatch(
      new RegExp(
        `"SchemaRegistryUnavailableError","message":"Kafka record ${topic}-0@3: value schema confluent:\\d+ could not be fetched: 127\\.0\\.0\\.1:\\d+: `,
      ),
    );

    // WHEN the other's secret gets the trusted certificate (a rotation) and the partition is delivered again
    await secrets.send(
      new PutSecretValueCommand({
        SecretId: rogue,
        SecretString: JSON.stringify({ certificate: pem.clientChain, privateKey: pem.clientKey }),
      }),
    );
    const again = await invokeFunction(lambda, bad.dispatcher.name, event);

    // THEN it read the secret again and decoded the value, in the same execution environment (the emulator's log)
    expect(again).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await received(bad.target.name)).toEqual([[3, 'k', { id: 'o3', qty: 3, tag: 'tls' }, 'shop.Order']]);
    expect(fs.readFileSync(bad.dispatcher.logFile, 'utf8').match(/INIT START/g)).toHaveLength(1);
  });

  test("GIVEN records in the mapping's record formats (the value as JSON, the key in its SOURCE format with its Confluent schema id in keySchemaMetadata) WHEN the dispatcher gets them THEN the target gets both as JSON", async () => {
    // GIVEN an Avro key as the mapping's SOURCE format delivers it: the Avro data, the schema id beside it
    const topic = `mapping-${randomUUID()}`;
    const id = await client.register(`${topic}-key`, { schemaType: 'AVRO', schema: AVRO });
    const avroData = (
      await new AvroSerializer(client, SerdeType.KEY, serde({ useLatestVersion: true })).serialize(topic, {
        id: 'o9',
        qty: 9,
        tag: null,
      })
    ).subarray(5);
    const specs: RecordSpec[] = [
      {
        topic,
        partition: 0,
        offset: 0,
        key: avroData,
        value: Buffer.from(JSON.stringify({ id: 'r9', cents: 1 })),
        extra: {
          keySchemaMetadata: { dataFormat: 'AVRO', schemaId: String(id) },
          valueSchemaMetadata: { dataFormat: 'JSON', schemaId: '42' },
        },
      },
    ];
    const { target, dispatcher } = await dispatcherFor('mapping', (arn) => ({
      key: 'mapping-source',
      value: 'mapping-json',
      confluent: confluent(arn),
    }));

    // WHEN
    const out = await invokeFunction(lambda, dispatcher.name, kafkaEvent(specs));

    // THEN
    expect(out).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await received(target.name)).toEqual([[0, { id: 'o9', qty: 9, tag: null }, { id: 'r9', cents: 1 }, null]]);
  });
});

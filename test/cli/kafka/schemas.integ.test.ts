/**
 * The local event source mapping's schema registry step against real components: records written to the real broker
 * by registry serializers (@confluentinc/schemaregistry against Apicurio Registry's Confluent-compatible API with basic
 * auth from moto's Secrets Manager; the AWS Glue SerDe against moto's Glue API), delivered to functions under the
 * Lambda emulator in the JSON and SOURCE record formats with their schema metadata; records that do not validate
 * reach the on-failure destination (SQS on moto, a Kafka topic) with the documented reason codes; a registry that
 * cannot be reached, or refuses the credentials, holds the records back and is asked again.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { create, createMutableRegistry } from '@bufbuild/protobuf';
import {
  AvroSerializer,
  JsonSerializer,
  ProtobufSerializer,
  SchemaRegistryClient,
  SerdeType,
} from '@confluentinc/schemaregistry';
import { GlueClient } from '@aws-sdk/client-glue';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../../testenv';
import { ConfluentRegistryClient, decodeKafkaEventLenient, GlueRegistryClient, RecordDecoder } from '../../../runtime';
import { parseCli } from '../../../cli/cli';
import { LocalEsmOptions, LocalEventSourceMapping } from '../../../cli/kafka/esm';
import {
  ConfluentCompatibleRegistry,
  confluentClient,
  glueProduce,
  MtlsFront,
  protoFileRegistry,
  serde,
  startConfluentRegistry,
  startMtlsFront,
} from '../../support/schema-registries';
import { closedPort, readTopic } from '../../runtime/support';
import { startLocalMapping, waitFor } from '../support';

jest.setTimeout(300_000);

const ROOT = path.join(__dirname, '..', '..', '..');
const TARGETS = path.join(ROOT, 'test', 'fixtures', 'targets');
const USER = 'esm';
const PASSWORD: string = randomUUID();
/** Carried inside the records that do not validate: no log line may hold it. */
const CANARY = `canary-${randomUUID()}`;

const ORDER_KEY = JSON.stringify({ type: 'record', name: 'OrderKey', namespace: 'shop', fields: [{ name: 'n', type: 'long' }] });
const ORDER = JSON.stringify({
  type: 'record',
  name: 'Order',
  namespace: 'shop',
  fields: [
    { name: 'id', type: 'string' },
    { name: 'qty', type: 'int' },
    { name: 'tag', type: ['null', 'string'], default: null },
  ],
});
const REFUND = JSON.stringify({
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Refund',
  type: 'object',
  properties: { id: { type: 'string' }, cents: { type: 'integer' } },
  required: ['id', 'cents'],
});
const PROTO =
  'syntax = "proto3";\npackage shop;\nmessage Shipment {\n  string id = 1;\n  int64 total_grams = 2;\n  message Box { int32 size = 1; }\n  Box box = 3;\n}\n';

describe('local event source mapping with a schema registry', () => {
  const env = te.loadEnv();
  const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  const admin = kafka.admin();
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const glue = new GlueClient(te.awsClientConfig('glue'));
  const fns: te.RunningLambda[] = [];
  const mappings: LocalEventSourceMapping[] = [];
  const children: ChildProcess[] = [];
  const servers: net.Server[] = [];
  const fronts: MtlsFront[] = [];
  let registry: ConfluentCompatibleRegistry;
  let client: SchemaRegistryClient;
  let secretArn: string;

  beforeAll(async () => {
    registry = await startConfluentRegistry(`${USER}:${PASSWORD}`);
    client = confluentClient(registry, `${USER}:${PASSWORD}`);
    secretArn = await secret(PASSWORD);
    await producer.connect();
    await admin.connect();
  });
  afterAll(async () => {
    await Promise.all(mappings.map((m) => m.stop()));
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    for (const s of servers) s.close();
    await Promise.all(fronts.map((f) => f.close()));
    await producer.disconnect();
    await admin.disconnect();
    sqs.destroy();
    secrets.destroy();
    glue.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    if (registry) process.kill(registry.pid);
  });

  /** A secret holding `value` (a password: the basic auth secret of USER); its ARN. */
  async function secret(value: string | object): Promise<string> {
    const secretString = JSON.stringify(typeof value === 'string' ? { username: USER, password: value } : value);
    return (await secrets.send(new CreateSecretCommand({ Name: `registry-${randomUUID()}`, SecretString: secretString }))).ARN!;
  }
  async function fn(): Promise<string> {
    const name = `esm-sr-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name, dir: TARGETS, handler: 'index.ok' }));
    return name;
  }
  async function topic(): Promise<string> {
    const t = `esm-sr-${randomUUID()}`;
    await te.createTopic(t, 1);
    return t;
  }
  const mapping = (o: Partial<LocalEsmOptions> & { topics: string[] }) => startLocalMapping(mappings, o);
  const committed = async (groupId: string, t: string) =>
    Number((await admin.fetchOffsets({ groupId, topics: [t] }))[0].partitions[0].offset);
  /** The records each invocation of the function got, in order. */
  const delivered = async (name: string, t: string) =>
    (await te.listInvocations(name)).flatMap((i) => JSON.parse(i.payload).records[`${t}-0`] ?? []);
  const events = async (name: string) => (await te.listInvocations(name)).map((i) => JSON.parse(i.payload));
  const b64json = (b64: string) => JSON.parse(Buffer.from(b64, 'base64').toString('utf8'));
  const schemaIdOf = (framed: Buffer) => String(framed.readUInt32BE(1));
  async function queue(): Promise<{ arn: string; url: string }> {
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `esm-sr-${randomUUID()}` }))).QueueUrl!;
    const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    return { arn, url };
  }
  /** Everything on the queue: waits for `n` messages, then a little longer to see that no more come. */
  async function drain(url: string, n: number): Promise<any[]> {
    const out: any[] = [];
    const receive = async () => {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      out.push(...(r.Messages ?? []).map((m) => JSON.parse(m.Body!)));
    };
    if (n > 0)
      await waitFor(`${n} SQS messages`, async () => {
        await receive();
        return out.length >= n;
      });
    await receive();
    return out;
  }
  /** The runtime library's decoder (what a function of the mapping uses) on the events the function got. */
  async function runtimeDecoded(
    name: string,
    formats: { key?: 'mapping-json' | 'mapping-source' | 'bytes'; value?: 'mapping-json' | 'mapping-source' },
  ): Promise<unknown[][]> {
    const decoder = new RecordDecoder({
      ...formats,
      confluent: new ConfluentRegistryClient({ url: registry.url, auth: 'basic', secretArn, secretsClient: secrets }),
      glue: new GlueRegistryClient({ client: glue }),
    });
    const out: unknown[][] = [];
    for (const event of await events(name)) {
      const { records } = decodeKafkaEventLenient(event);
      const errors = await decoder.decode(records);
      expect([...errors.values()].map((e) => e.message)).toEqual([]);
      out.push(...records.map((r) => [Number(r.offset), r.decoded?.key?.value ?? r.key?.toString(), r.decoded?.value?.value]));
    }
    return out;
  }

  test("GIVEN Avro keys and Avro, JSON Schema and Protobuf values written by Confluent's serializers, one naming an unknown schema and one cut short WHEN the mapping validates KEY and VALUE in the JSON format THEN the function gets keys and values as JSON with their schema metadata, and the two bad records reach the SQS destination as SCHEMA_NOT_FOUND and DESERIALIZATION_ERROR", async () => {
    // GIVEN records serialized with the registry on a real topic
    const t = await topic();
    await client.register(`${t}-key`, { schemaType: 'AVRO', schema: ORDER_KEY });
    await client.register(`${t}-value`, { schemaType: 'AVRO', schema: ORDER });
    await client.register(`${t}-refunds-value`, { schemaType: 'JSON', schema: REFUND });
    const latest = { autoRegisterSchemas: false, useLatestVersion: true };
    const avro = new AvroSerializer(client, SerdeType.VALUE, serde(latest));
    const files = protoFileRegistry(PROTO, 'shop.proto');
    const proto = new ProtobufSerializer(
      client,
      SerdeType.VALUE,
      serde({ autoRegisterSchemas: true, registry: createMutableRegistry(files.getFile('shop.proto')!) }),
    );
    const good = await avro.serialize(t, { id: CANARY, qty: 5, tag: null });
    const unknownSchema = Buffer.from(good);
    unknownSchema.writeUInt32BE(987_654, 1);
    const values = [
      await avro.serialize(t, { id: 'o1', qty: 2, tag: 'gift' }),
      unknownSchema,
      await new JsonSerializer(client, SerdeType.VALUE, serde({ ...latest, validate: true })).serialize(`${t}-refunds`, {
        id: 'r1',
        cents: 250,
      }),
      good.subarray(0, good.length - 3),
      await proto.serialize(
        `${t}-shipments`,
        create(files.getMessage('shop.Shipment')!, { id: 's1', totalGrams: BigInt('9007199254740993'), box: { size: 3 } }),
      ),
      await proto.serialize(`${t}-shipments`, create(files.getMessage('shop.Shipment.Box')!, { size: 7 })),
    ];
    const keys = await Promise.all(
      values.map((_, n) => new AvroSerializer(client, SerdeType.KEY, serde(latest)).serialize(t, { n })),
    );
    await producer.send({ topic: t, messages: values.map((value, i) => ({ key: keys[i], value })) });
    const name = await fn();
    const q = await queue();
    const lines: string[] = [];

    // WHEN the mapping consumes them with the registry (basic auth from Secrets Manager), JSON, KEY and VALUE
    const m = mapping({
      topics: [t],
      functionName: name,
      onFailure: q.arn,
      log: (l) => lines.push(l),
      schemaRegistry: {
        uri: registry.url,
        eventRecordFormat: 'JSON',
        attributes: ['KEY', 'VALUE'],
        access: { BASIC_AUTH: secretArn },
      },
    });
    await waitFor('commit', async () => (await committed(m.groupId, t)) === 6, 60_000);

    // THEN the function got the four good records, key and value the base64 of their JSON, with their formats and schema ids
    const got = await delivered(name, t);
    expect(got.map((r: any) => [r.offset, b64json(r.key), b64json(r.value), r.keySchemaMetadata, r.valueSchemaMetadata])).toEqual(
      [
        [
          0,
          { n: 0 },
          { id: 'o1', qty: 2, tag: 'gift' },
          { dataFormat: 'AVRO', schemaId: schemaIdOf(keys[0]) },
          { dataFormat: 'AVRO', schemaId: schemaIdOf(values[0]) },
        ],
        [
          2,
          { n: 2 },
          { id: 'r1', cents: 250 },
          { dataFormat: 'AVRO', schemaId: schemaIdOf(keys[2]) },
          { dataFormat: 'JSON', schemaId: schemaIdOf(values[2]) },
        ],
        [
          4,
          { n: 4 },
          { id: 's1', totalGrams: '9007199254740993', box: { size: 3 } },
          { dataFormat: 'AVRO', schemaId: schemaIdOf(keys[4]) },
          { dataFormat: 'PROTOBUF', schemaId: schemaIdOf(values[4]) },
        ],
        [
          5,
          { n: 5 },
          { size: 7 },
          { dataFormat: 'AVRO', schemaId: schemaIdOf(keys[5]) },
          { dataFormat: 'PROTOBUF', schemaId: schemaIdOf(values[5]) },
        ],
      ],
    );
    // AND the runtime library's mapping-json format reads the same events
    expect(await runtimeDecoded(name, { key: 'mapping-json', value: 'mapping-json' })).toEqual(
      got.map((r: any) => [r.offset, b64json(r.key), b64json(r.value)]),
    );
    // AND the queue (counted outside the mapping) holds exactly the two rejected records, each with its reason code, nothing invoked for them
    const failed = (await drain(q.url, 2)).sort(
      (a, b) =>
        Number(Object.values<any>(a.KafkaBatchInfo.recordsInfo)[0].firstRecordOffset) -
        Number(Object.values<any>(b.KafkaBatchInfo.recordsInfo)[0].firstRecordOffset),
    );
    expect(
      failed.map((f) => [
        f.requestContext.condition,
        f.requestContext.approximateInvokeCount,
        f.responseContext,
        f.KafkaBatchInfo.batchSize,
        f.KafkaBatchInfo.recordsInfo[`${t}-0`].firstRecordOffset,
      ]),
    ).toEqual([
      ['SCHEMA_NOT_FOUND', 0, null, 1, '1'],
      ['DESERIALIZATION_ERROR', 0, null, 1, '3'],
    ]);
    await waitFor('the mapping counts the commit', () => m.stats.recordsCommitted === 6, 10_000);
    expect(m.stats).toMatchObject({ recordsRejectedBySchema: 2, invocations: (await te.listInvocations(name)).length });
    // AND the log names each by coordinates and schema id, never its bytes or the registry password
    expect(lines).toEqual(
      expect.arrayContaining([
        `schema registry: SCHEMA_NOT_FOUND: ${t}-0@1: value (schema confluent:987654) is not in the registry: ${new URL(registry.url).pathname}/schemas/ids/987654: HTTP 404 (error_code 40403)`,
        expect.stringMatching(
          new RegExp(
            `^schema registry: DESERIALIZATION_ERROR: ${t}-0@3: value \\(schema confluent:${schemaIdOf(good)}\\) does not decode: `,
          ),
        ),
      ]),
    );
    for (const l of lines) {
      expect(l).not.toContain(CANARY);
      expect(l).not.toContain(PASSWORD);
    }
  });

  test("GIVEN Avro, JSON Schema and Protobuf values and plain-text keys WHEN the shipped command validates VALUE in the SOURCE format, with filters on the value THEN the function gets each value's data without its 5-byte header (Protobuf's message indexes kept) and its metadata, keys as they were, and the filters matched the decoded values", async () => {
    // GIVEN records serialized with the registry; the command copied alone to a directory of its own (what npm ships)
    const t = await topic();
    await client.register(`${t}-value`, { schemaType: 'AVRO', schema: ORDER });
    await client.register(`${t}-refunds-value`, { schemaType: 'JSON', schema: REFUND });
    const avro = new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true }));
    const files = protoFileRegistry(PROTO, 'shop.proto');
    const proto = new ProtobufSerializer(
      client,
      SerdeType.VALUE,
      serde({ autoRegisterSchemas: true, registry: createMutableRegistry(files.getFile('shop.proto')!) }),
    );
    const values = [
      await avro.serialize(t, { id: 'o1', qty: 2, tag: null }),
      await avro.serialize(t, { id: 'o2', qty: 1, tag: null }),
      await proto.serialize(`${t}-shipments`, create(files.getMessage('shop.Shipment.Box')!, { size: 7 })),
      await new JsonSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true, validate: true })).serialize(
        `${t}-refunds`,
        { id: 'r1', cents: 250 },
      ),
    ];
    await producer.send({ topic: t, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
    const name = await fn();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-sr-'));
    const cli = path.join(dir, 'cdk-kafka-lambda.js');
    fs.copyFileSync(path.join(ROOT, 'build', 'cli', 'cdk-kafka-lambda.js'), cli);
    const groupId = `esm-sr-${randomUUID()}`;

    // WHEN the command runs with the registry flags and filters matching orders other than o2, and boxes
    const child = spawn(
      process.execPath,
      [
        cli,
        'local',
        '--bootstrap-servers',
        env.kafka.bootstrap.plaintext,
        '--topic',
        t,
        '--consumer-group-id',
        groupId,
        '--function-name',
        name,
        '--lambda-endpoint',
        env.lambda.endpoint,
        '--aws-endpoint',
        env.moto.endpoint,
        '--region',
        env.region,
        '--batching-window',
        '0',
        '--schema-registry',
        registry.url,
        '--event-record-format',
        'SOURCE',
        '--schema-validate',
        'VALUE',
        '--schema-registry-access',
        `BASIC_AUTH=${secretArn}`,
        '--filter',
        JSON.stringify({ value: { id: [{ 'anything-but': ['o2'] }] } }),
        '--filter',
        JSON.stringify({ value: { size: [{ exists: true }] } }),
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let output = '';
    child.stdout!.on('data', (d) => {
      output += d;
    });
    child.stderr!.on('data', (d) => {
      output += d;
    });
    try {
      await waitFor('commit', async () => (await committed(groupId, t)) === 4, 60_000);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    }

    // THEN the function got o1, the Protobuf box and the refund in their SOURCE format, with the Confluent schema ids; o2 was filtered out
    expect(output).not.toMatch(/template:|Error/);
    const got = await delivered(name, t);
    expect(
      got.map((r: any) => [
        r.offset,
        Buffer.from(r.key, 'base64').toString(),
        r.value,
        r.valueSchemaMetadata,
        r.keySchemaMetadata,
      ]),
    ).toEqual([
      [0, 'k0', values[0].subarray(5).toString('base64'), { dataFormat: 'AVRO', schemaId: schemaIdOf(values[0]) }, undefined],
      [2, 'k2', values[2].subarray(5).toString('base64'), { dataFormat: 'PROTOBUF', schemaId: schemaIdOf(values[2]) }, undefined],
      [3, 'k3', values[3].subarray(5).toString('base64'), { dataFormat: 'JSON', schemaId: schemaIdOf(values[3]) }, undefined],
    ]);
    // AND the runtime library's mapping-source format decodes them with the registry, by the metadata's schema id
    expect(await runtimeDecoded(name, { key: 'bytes', value: 'mapping-source' })).toEqual([
      [0, 'k0', { id: 'o1', qty: 2, tag: null }],
      [2, 'k2', { size: 7 }],
      [3, 'k3', { id: 'r1', cents: 250 }],
    ]);
  });

  test('GIVEN the registry behind mTLS (client certificates under the test CA required) WHEN the mapping has the CLIENT_CERTIFICATE_TLS_AUTH and SERVER_ROOT_CA_CERTIFICATE secrets THEN the function gets the value as JSON with its schema id', async () => {
    // GIVEN an Avro value on a real topic, the registry behind an mTLS front, the secrets in the mapping's formats
    const t = await topic();
    await client.register(`${t}-value`, { schemaType: 'AVRO', schema: ORDER });
    const value = await new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true })).serialize(t, {
      id: 'o7',
      qty: 7,
      tag: null,
    });
    await producer.send({ topic: t, messages: [{ key: 'k', value }] });
    const front = await startMtlsFront(registry, `${USER}:${PASSWORD}`);
    fronts.push(front);
    const access = {
      CLIENT_CERTIFICATE_TLS_AUTH: await secret({
        certificate: env.certs.pem.clientChain,
        privateKey: env.certs.pem.clientKeyPbes1,
        privateKeyPassword: env.certs.passwords.pbes1,
      }),
      SERVER_ROOT_CA_CERTIFICATE: await secret({ certificate: env.certs.pem.caCert }),
    };
    const name = await fn();

    // WHEN the mapping validates VALUE in the JSON format through the front
    const m = mapping({
      topics: [t],
      functionName: name,
      schemaRegistry: { uri: front.url, eventRecordFormat: 'JSON', attributes: ['VALUE'], access },
    });
    await waitFor('commit', async () => (await committed(m.groupId, t)) === 1, 60_000);

    // THEN the function got the value as the base64 of its JSON, with its format and schema id
    expect((await delivered(name, t)).map((r: any) => [r.offset, b64json(r.value), r.valueSchemaMetadata])).toEqual([
      [0, { id: 'o7', qty: 7, tag: null }, { dataFormat: 'AVRO', schemaId: schemaIdOf(value) }],
    ]);
  });

  test('GIVEN the registry unreachable, then reachable WHEN records arrive THEN they are held back (nothing invoked, committed or sent on failure) and asked again until the registry answers, then delivered', async () => {
    // GIVEN a registry address where nothing listens yet, and two Avro values
    const t = await topic();
    await client.register(`${t}-value`, { schemaType: 'AVRO', schema: ORDER });
    const avro = new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true }));
    await producer.send({
      topic: t,
      messages: [
        { value: await avro.serialize(t, { id: 'o1', qty: 1, tag: null }) },
        { value: await avro.serialize(t, { id: 'o2', qty: 2, tag: null }) },
      ],
    });
    const name = await fn();
    const q = await queue();
    const target = new URL(registry.url);
    const port = await closedPort();
    const lines: string[] = [];
    const m = mapping({
      topics: [t],
      functionName: name,
      onFailure: q.arn,
      log: (l) => lines.push(l),
      schemaRegistry: {
        uri: registry.url.replace(`:${target.port}`, `:${port}`),
        eventRecordFormat: 'JSON',
        attributes: ['VALUE'],
        access: { BASIC_AUTH: secretArn },
      },
    });

    // WHEN the registry cannot be reached THEN the batch is asked again and again, and nothing else happens
    await waitFor('three registry retries', () => m.stats.schemaRegistryRetries >= 3, 60_000);
    expect(await te.listInvocations(name)).toHaveLength(0);
    expect(await committed(m.groupId, t)).toBe(-1);
    expect(await drain(q.url, 0)).toEqual([]);
    expect(lines[0]).toMatch(
      new RegExp(
        `^schema registry: ${t}-0 offsets 0-1 held back: schema confluent:\\d+ could not be fetched from http://127.0.0.1:${port}/apis/ccompat/v7: .*ECONNREFUSED.*; retrying$`,
      ),
    );

    // WHEN the registry becomes reachable at that address (a proxy to it) THEN both records are delivered, decoded
    const proxy = net.createServer((c) => {
      const u = net.connect(Number(target.port), target.hostname);
      c.pipe(u).pipe(c);
      u.on('error', () => c.destroy());
      c.on('error', () => u.destroy());
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.1', resolve));
    await waitFor('commit', async () => (await committed(m.groupId, t)) === 2, 60_000);
    expect((await delivered(name, t)).map((r: any) => b64json(r.value).id)).toEqual(['o1', 'o2']);
    expect(m.stats.recordsRejectedBySchema).toBe(0);
    expect(await drain(q.url, 0)).toEqual([]);
  });

  test("GIVEN the registry refusing the mapping's password WHEN records arrive THEN they are held back and retried, not sent on failure as poison", async () => {
    // GIVEN a secret with a wrong password
    const t = await topic();
    await client.register(`${t}-value`, { schemaType: 'AVRO', schema: ORDER });
    await producer.send({
      topic: t,
      messages: [
        {
          value: await new AvroSerializer(client, SerdeType.VALUE, serde({ useLatestVersion: true })).serialize(t, {
            id: 'o1',
            qty: 1,
            tag: null,
          }),
        },
      ],
    });
    const name = await fn();
    const q = await queue();
    const lines: string[] = [];
    const m = mapping({
      topics: [t],
      functionName: name,
      onFailure: q.arn,
      log: (l) => lines.push(l),
      schemaRegistry: {
        uri: registry.url,
        eventRecordFormat: 'JSON',
        attributes: ['VALUE'],
        access: { BASIC_AUTH: await secret('wrong') },
      },
    });
    // WHEN the registry answers 401 THEN the batch is retried; nothing is invoked, committed or sent on failure
    await waitFor('two registry retries', () => m.stats.schemaRegistryRetries >= 2, 60_000);
    expect(lines[0]).toMatch(
      new RegExp(
        `^schema registry: ${t}-0 offsets 0-0 held back: schema confluent:\\d+ could not be fetched from .*: /apis/ccompat/v7/schemas/ids/\\d+: HTTP 401.*; retrying$`,
      ),
    );
    expect(await te.listInvocations(name)).toHaveLength(0);
    expect(await committed(m.groupId, t)).toBe(-1);
    expect(await drain(q.url, 0)).toEqual([]);
    expect(m.stats.recordsRejectedBySchema).toBe(0);
  });

  test('GIVEN Avro (zlib), JSON Schema and Protobuf values written by the Glue SerDe, one cut short and one naming an unknown schema version, and a template whose mapping names the Glue registry, a filter and a Kafka on-failure topic WHEN the mapping runs from the template THEN the function gets the values as JSON with their schema version ids, the filter saw them decoded, and the two bad records are on the on-failure topic', async () => {
    // GIVEN records the Glue SerDe wrote (moto's Glue API), on a real topic
    const t = await topic();
    const registryName = `reg-${randomUUID().slice(0, 8)}`;
    const { encoded, versionIds } = glueProduce(env, {
      registry: registryName,
      topic: t,
      schemas: [
        {
          format: 'AVRO',
          definition: ORDER,
          compress: true,
          records: [
            { id: 'o1', qty: 2, tag: 'gift' },
            { id: CANARY, qty: 5, tag: null },
          ],
        },
        {
          format: 'JSON',
          definition: REFUND,
          records: [
            { id: 'r1', cents: 250 },
            { id: 'r2', cents: 9 },
          ],
        },
        {
          format: 'PROTOBUF',
          definition: PROTO,
          records: [{ type: 'shop.Shipment', value: { id: 's1', totalGrams: '42', box: { size: 3 } } }],
        },
      ],
    });
    const bytes = encoded.map((s) => s.map((b) => Buffer.from(b, 'base64')));
    const unknownVersion = Buffer.from(bytes[1][1]);
    Buffer.from(randomUUID().replace(/-/g, ''), 'hex').copy(unknownVersion, 2);
    const values = [
      bytes[0][0],
      bytes[0][1].subarray(0, bytes[0][1].length - 3),
      bytes[1][0],
      unknownVersion,
      bytes[2][0],
      bytes[1][1],
    ];
    await producer.send({ topic: t, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
    const dlt = await topic();
    const name = await fn();
    // AND a synthesized-like template: a self-managed mapping on the local broker, the Glue registry, a filter leaving out refund r2
    const file = path.join(os.tmpdir(), `ckl-sr-${randomUUID()}.json`);
    fs.writeFileSync(
      file,
      JSON.stringify({
        Resources: {
          Mapping: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: {
              FunctionName: { Ref: 'Fn' },
              Topics: [t],
              StartingPosition: 'TRIM_HORIZON',
              BatchSize: 10,
              ProvisionedPollerConfig: { MinimumPollers: 1 },
              SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: [env.kafka.bootstrap.plaintext] } },
              SelfManagedKafkaEventSourceConfig: {
                ConsumerGroupId: `esm-sr-${randomUUID()}`,
                SchemaRegistryConfig: {
                  SchemaRegistryURI: `arn:aws:glue:${env.region}:123456789012:registry/${registryName}`,
                  EventRecordFormat: 'JSON',
                  SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
                },
              },
              FilterCriteria: { Filters: [{ Pattern: JSON.stringify({ value: { id: [{ 'anything-but': ['r2'] }] } }) }] },
              DestinationConfig: { OnFailure: { Destination: `kafka://${dlt}` } },
            },
          },
        },
      }),
    );
    const notices: string[] = [];
    const options = parseCli(
      [
        '--template',
        file,
        '--function-name',
        name,
        '--lambda-endpoint',
        env.lambda.endpoint,
        '--aws-endpoint',
        env.moto.endpoint,
      ],
      (l) => notices.push(l),
    );
    fs.rmSync(file);
    expect(notices).toEqual([]);
    const lines: string[] = [];

    // WHEN the mapping runs with the template's settings
    const m = mapping({ ...options, maxBatchingWindowSeconds: 0, log: (l) => lines.push(l) });
    await waitFor('commit', async () => (await committed(m.groupId, t)) === 6, 60_000);

    // THEN the function got the Avro, JSON and Protobuf values as JSON, with the Glue schema version ids; r2 was filtered out
    const got = await delivered(name, t);
    expect(got.map((r: any) => [r.offset, b64json(r.value), r.valueSchemaMetadata])).toEqual([
      [0, { id: 'o1', qty: 2, tag: 'gift' }, { dataFormat: 'AVRO', schemaId: versionIds[0] }],
      [2, { id: 'r1', cents: 250 }, { dataFormat: 'JSON', schemaId: versionIds[1] }],
      [4, { id: 's1', totalGrams: '42', box: { size: 3 } }, { dataFormat: 'PROTOBUF', schemaId: versionIds[2] }],
    ]);
    expect(m.stats).toMatchObject({ recordsFiltered: 1, recordsRejectedBySchema: 2 });
    // AND the on-failure topic (read outside the mapping) holds exactly the two bad records, each with its reason code
    const failed = (await readTopic(te, dlt, 2)).map((msg) => JSON.parse(msg.value));
    expect(
      failed
        .map((f) => [f.requestContext.condition, f.responseContext, f.KafkaBatchInfo.recordsInfo[`${t}-0`].firstRecordOffset])
        .sort((a, b) => Number(a[2]) - Number(b[2])),
    ).toEqual([
      ['DESERIALIZATION_ERROR', null, '1'],
      ['SCHEMA_NOT_FOUND', null, '3'],
    ]);
    expect(lines).toEqual(
      expect.arrayContaining([
        `schema registry: DESERIALIZATION_ERROR: ${t}-0@1: value (schema glue:${versionIds[0]}) is not in the Glue wire format: zlib data does not inflate (unexpected end of file)`,
        expect.stringMatching(
          new RegExp(
            `^schema registry: SCHEMA_NOT_FOUND: ${t}-0@3: value \\(schema glue:[0-9a-f-]{36}\\) is not in the registry: GetSchemaVersion [0-9a-f-]{36}: EntityNotFoundException$`,
          ),
        ),
      ]),
    );
    for (const l of lines) expect(l).not.toContain(CANARY);
  });

  test("GIVEN Avro (zlib), JSON Schema and Protobuf values written by the Glue SerDe WHEN the mapping validates VALUE in the SOURCE format THEN the function gets each value's data without the Glue header (the Avro inflated) with its schema version id, and the runtime library's mapping-source format decodes them through Glue", async () => {
    // GIVEN records the Glue SerDe wrote (moto's Glue API), on a real topic
    const t = await topic();
    const registryName = `reg-${randomUUID().slice(0, 8)}`;
    const { encoded, versionIds } = glueProduce(env, {
      registry: registryName,
      topic: t,
      schemas: [
        { format: 'AVRO', definition: ORDER, compress: true, records: [{ id: 'o1', qty: 2, tag: 'gift' }] },
        { format: 'JSON', definition: REFUND, records: [{ id: 'r1', cents: 250 }] },
        { format: 'PROTOBUF', definition: PROTO, records: [{ type: 'shop.Shipment.Box', value: { size: 3 } }] },
      ],
    });
    const values = encoded.map(([b64]) => Buffer.from(b64, 'base64'));
    await producer.send({ topic: t, messages: values.map((value) => ({ value })) });
    const name = await fn();

    // WHEN the mapping names the Glue registry, the SOURCE format and VALUE
    const m = mapping({
      topics: [t],
      functionName: name,
      schemaRegistry: {
        uri: `arn:aws:glue:${env.region}:123456789012:registry/${registryName}`,
        eventRecordFormat: 'SOURCE',
        attributes: ['VALUE'],
      },
    });
    await waitFor('commit', async () => (await committed(m.groupId, t)) === 3, 60_000);

    // THEN the function got each value without its 18-byte Glue header (the Avro data inflated), with its schema version id
    const got = await delivered(name, t);
    const body = (b: Buffer) => b.subarray(18);
    expect(got.map((r: any) => [r.offset, r.value, r.valueSchemaMetadata])).toEqual([
      [0, zlib.inflateSync(body(values[0])).toString('base64'), { dataFormat: 'AVRO', schemaId: versionIds[0] }],
      [1, body(values[1]).toString('base64'), { dataFormat: 'JSON', schemaId: versionIds[1] }],
      [2, body(values[2]).toString('base64'), { dataFormat: 'PROTOBUF', schemaId: versionIds[2] }],
    ]);
    // AND the runtime library's mapping-source format decodes them, fetching each schema version from Glue by its id
    expect(await runtimeDecoded(name, { value: 'mapping-source' })).toEqual([
      [0, undefined, { id: 'o1', qty: 2, tag: 'gift' }],
      [1, undefined, { id: 'r1', cents: 250 }],
      [2, undefined, { size: 3 }],
    ]);
  });
});

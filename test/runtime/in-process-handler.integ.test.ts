/**
 * The in-process handlers (inProcessRecordHandler, inProcessHandler) as a user deploys them: a function folder with
 * only an index.js that requires 'cdk-kafka-lambda/runtime' from the runtime layer (NODE_PATH, as
 * /opt/nodejs/node_modules on Lambda; the repository's node_modules stand for the AWS SDK the Node.js runtime
 * provides), configured by CKL_DISPATCHER_CONFIG, run by the official Lambda Runtime Interface Emulator and invoked
 * through the Lambda API with SelfManagedKafka and Kinesis events. Idempotency in DynamoDB Local, the relay's SCRAM
 * credentials and CA in moto's Secrets Manager, the response and error topics on the broker's SASL_SSL listener.
 * The user's code appends a line per record it runs to an effects file, which the tests read: the runs are counted
 * outside the code under test.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import * as te from '../../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig } from '../../contract/dispatcher-config';
import {
  bigSequence,
  createIdempotencyTable,
  invokeFunction,
  kafkaEvent,
  kinesisEvent,
  messagesIn,
  readTopic,
  RecordSpec,
  brokerAccepts,
} from './support';

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, '..', '..');
const RUNTIME_LAYER = path.join(ROOT, 'assets', 'runtime-layer', 'nodejs', 'node_modules');
const DISPATCHER = path.join(ROOT, 'assets', 'dispatcher');

/** The user's function: three handlers over the same code, each record's run appended to EFFECTS_FILE. */
const USER_FUNCTION = `'use strict';
const fs = require('node:fs');
const { FieldAs, inProcessHandler, inProcessRecordHandler } = require('cdk-kafka-lambda/runtime');

const note = (line) => fs.appendFileSync(process.env.EFFECTS_FILE, JSON.stringify(line) + '\\n');
note({ kind: 'init', runtime: require.resolve('cdk-kafka-lambda/runtime') });
const ran = (r) => note({ kind: 'run', topic: r.topic, partition: r.partition, offset: r.offset });

// An order a record at a time: the value as JSON (the default), the key as text (the default).
exports.orders = inProcessRecordHandler(async (record) => {
  ran(record);
  const order = record.value;
  return { key: record.key, keyType: typeof record.key, order, total: order.quantity * order.price };
});

// Bytes a batch at a time: key and value as Buffers.
exports.bytes = inProcessHandler(
  async (records) =>
    records.map((record) => {
      ran(record);
      return { keyIsBuffer: Buffer.isBuffer(record.key), valueIsBuffer: Buffer.isBuffer(record.value), hex: record.value.toString('hex') };
    }),
  { key: FieldAs.buffer, value: FieldAs.buffer },
);
`;

interface Run {
  topic: string;
  partition: number | string;
  offset: number | string;
}

/** What the effects file holds: each start of the module, each record the user's code ran. */
function effects(file: string): { inits: { runtime: string }[]; runs: Run[] } {
  const lines = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map((l) => JSON.parse(l))
    : [];
  return { inits: lines.filter((l) => l.kind === 'init'), runs: lines.filter((l) => l.kind === 'run') };
}

describe('inProcessRecordHandler and inProcessHandler in a function under the Lambda emulator', () => {
  const env = te.loadEnv();
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 10 }));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const fns: te.RunningLambda[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-in-process-'));
  let tableName: string;
  let scramSecretArn: string;
  let caSecretArn: string;

  const secret = async (value: object) =>
    (await secrets.send(new CreateSecretCommand({ Name: `in-process-${randomUUID()}`, SecretString: JSON.stringify(value) })))
      .ARN!;

  beforeAll(async () => {
    expect(fs.existsSync(path.join(RUNTIME_LAYER, 'cdk-kafka-lambda', 'runtime', 'index.js'))).toBe(true); // npm run build
    expect(fs.existsSync(path.join(DISPATCHER, 'index.js'))).toBe(true);
    fs.writeFileSync(path.join(dir, 'index.js'), USER_FUNCTION);
    tableName = await createIdempotencyTable(dynamodb);
    scramSecretArn = await secret(env.kafka.scram['SCRAM-SHA-512']);
    caSecretArn = await secret({ certificate: env.certs.pem.caCert });
  });
  afterAll(async () => {
    await Promise.all(fns.map((f) => f.stop()));
    lambda.destroy();
    dynamodb.destroy();
    secrets.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** An in-process configuration, as InProcessDispatcher writes it. */
  const inProcessConfig = (o: {
    responseTopic?: string;
    errorTopic?: string;
    onError?: DispatcherConfig['onError'];
    secretArn?: string;
  }): DispatcherConfig => ({
    version: 2,
    target: {
      inProcess: true,
      invocationType: 'RequestResponse',
      payloadFormat: 'confluent',
      recordsPerInvocation: 100,
      concurrency: 4,
      maxAttempts: 3,
      baseDelayMs: 20,
      maxDelayMs: 200,
    },
    onError: o.onError ?? 'fail',
    reportBatchItemFailures: true,
    timeMarginMs: 1_000,
    idempotency: { tableName, mode: 'batched', ttlSeconds: 3600, maxStoredResultBytes: 65536, kinesisRanges: true },
    relay: {
      bootstrapServers: [env.kafka.bootstrap.saslSsl],
      auth: 'scram-sha-512',
      secretArn: o.secretArn ?? scramSecretArn,
      rootCaSecretArn: caSecretArn,
      tls: true,
      responseTopic: o.responseTopic,
      errorTopic: o.errorTopic,
      clientId: 'in-process-test',
    },
  });

  /** Starts the user's function with one of its handlers; returns its name and its effects file. */
  async function userFunction(handler: 'orders' | 'bytes', config: unknown): Promise<{ name: string; file: string }> {
    const name = `in-process-${handler}-${randomUUID().slice(0, 8)}`;
    const file = path.join(dir, `${name}.effects`);
    fns.push(
      await te.startLambda({
        name,
        dir,
        handler: `index.${handler}`,
        timeoutSeconds: 60,
        env: {
          [DISPATCHER_CONFIG_ENV]: JSON.stringify(config),
          NODE_PATH: `${RUNTIME_LAYER}${path.delimiter}${path.join(ROOT, 'node_modules')}`,
          EFFECTS_FILE: file,
        },
      }),
    );
    return { name, file };
  }

  const newTopic = async (prefix: string) => {
    const t = `${prefix}-${randomUUID().slice(0, 8)}`;
    await te.createTopic(t, 1);
    return t;
  };

  const orders = (topic: string): RecordSpec[] =>
    [0, 1, 2, 3].map((i) => ({
      topic,
      partition: i % 2,
      offset: 20 + i,
      key: `order-${i}`,
      value: { id: `order-${i}`, quantity: i + 1, price: 2.5 },
    }));

  const coordinates = (runs: Run[]) => runs.map((r) => `${r.topic}-${r.partition}@${r.offset}`).sort();

  test('GIVEN JSON orders with text keys WHEN the function gets them twice THEN the code runs each once with typed fields, from the layer, and each result is on the response topic once', async () => {
    // GIVEN the orders handler with a response topic, and four orders on two partitions
    const responseTopic = await newTopic('in-process-out');
    const fn = await userFunction('orders', inProcessConfig({ responseTopic }));
    const source = `in-process-orders-${randomUUID().slice(0, 8)}`;
    const specs = orders(source);
    const event = kafkaEvent(specs);

    // WHEN the mapping delivers the event
    const first = await invokeFunction(lambda, fn.name, event);
    // THEN it is acknowledged, the code ran each order once, with the runtime library from the layer
    expect(first).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    const after = effects(fn.file);
    expect(coordinates(after.runs)).toEqual(specs.map((s) => `${source}-${s.partition}@${s.offset}`).sort());
    expect(after.inits.map((i) => fs.realpathSync(i.runtime))).toEqual([
      fs.realpathSync(path.join(RUNTIME_LAYER, 'cdk-kafka-lambda', 'runtime', 'index.js')),
    ]);
    // AND each result is on the response topic, keyed by its record, computed from a JSON value and a text key
    const responses = await readTopic(te, responseTopic, specs.length);
    expect(responses.map((m) => JSON.parse(m.key)).sort((a, b) => a.offset - b.offset)).toEqual(
      specs.map((s) => ({ topic: source, partition: s.partition, offset: s.offset })),
    );
    expect(responses.map((m) => JSON.parse(m.value)).sort((a, b) => a.key.localeCompare(b.key))).toEqual(
      specs.map((s, i) => ({ key: `order-${i}`, keyType: 'string', order: s.value, total: (i + 1) * 2.5 })),
    );

    // WHEN the mapping delivers the same event again (a retry after success)
    const second = await invokeFunction(lambda, fn.name, event);
    // THEN it is acknowledged without running the code again, and nothing more is on the response topic
    expect(second).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(effects(fn.file).runs).toHaveLength(specs.length);
    expect(await messagesIn(te, responseTopic)).toBe(specs.length);
  });

  test('GIVEN keys and values read as Buffers WHEN a value is not UTF-8 THEN the code gets its bytes', async () => {
    // GIVEN the bytes handler and two records, one of bytes that are not text
    const responseTopic = await newTopic('in-process-bytes');
    const fn = await userFunction('bytes', inProcessConfig({ responseTopic }));
    const source = `in-process-bytes-${randomUUID().slice(0, 8)}`;
    const values = [Buffer.from([0xff, 0x00, 0xfe]), Buffer.from('{"n":1}')];
    const event = kafkaEvent(values.map((value, i) => ({ topic: source, partition: 0, offset: i, key: `k${i}`, value })));

    // WHEN the mapping delivers them
    const answer = await invokeFunction(lambda, fn.name, event);

    // THEN both ran once, each got its key and value as Buffers holding the bytes sent
    expect(answer).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(coordinates(effects(fn.file).runs)).toEqual([`${source}-0@0`, `${source}-0@1`]);
    const responses = await readTopic(te, responseTopic, 2);
    expect(responses.map((m) => JSON.parse(m.value)).sort((a, b) => a.hex.localeCompare(b.hex))).toEqual(
      values
        .map((v) => ({ keyIsBuffer: true, valueIsBuffer: true, hex: v.toString('hex') }))
        .sort((a, b) => a.hex.localeCompare(b.hex)),
    );
  });

  test('GIVEN a relay the broker refuses WHEN the mapping retries after the broker takes its credentials THEN the stored results are relayed and the code does not run again', async () => {
    // GIVEN a relay user the broker does not know yet
    const username = `in-process-${randomUUID().slice(0, 8)}`;
    const password = `pw-${randomUUID()}`;
    const responseTopic = await newTopic('in-process-relay');
    const fn = await userFunction('orders', inProcessConfig({ responseTopic, secretArn: await secret({ username, password }) }));
    const source = `in-process-relay-${randomUUID().slice(0, 8)}`;
    const specs = orders(source);
    const event = kafkaEvent(specs);

    // WHEN the mapping delivers the event
    const first = await invokeFunction(lambda, fn.name, event);
    // THEN the failure hit work in flight: the code ran every order, nothing reached the response topic, and both
    // partitions are named for retry
    expect(effects(fn.file).runs).toHaveLength(specs.length);
    expect(await messagesIn(te, responseTopic)).toBe(0);
    expect(first.functionError).toBeUndefined();
    expect(first.body.batchItemFailures).toHaveLength(2);

    // WHEN the broker takes the relay's credentials and the mapping delivers the same event again
    await te.setScramPassword({ username, password, mechanism: 'SCRAM-SHA-512' });
    await brokerAccepts(te, username, password);
    const second = await invokeFunction(lambda, fn.name, event);

    // THEN it is acknowledged, every result is on the response topic once, and the code did not run again
    expect(second).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(await messagesIn(te, responseTopic)).toBe(specs.length);
    const responses = await readTopic(te, responseTopic, specs.length);
    expect(responses.map((m) => JSON.parse(m.value).total).sort((a, b) => a - b)).toEqual([2.5, 5, 7.5, 10]);
    expect(effects(fn.file).runs).toHaveLength(specs.length);
  });

  test('GIVEN onError LOG WHEN a value is not JSON THEN that record goes to the error topic with its coordinates and bytes, never to the code, and the others succeed', async () => {
    // GIVEN the orders handler with response and error topics, and three records of which the middle is not JSON
    const responseTopic = await newTopic('in-process-ok');
    const errorTopic = await newTopic('in-process-err');
    const fn = await userFunction('orders', inProcessConfig({ responseTopic, errorTopic, onError: 'log' }));
    const source = `in-process-poison-${randomUUID().slice(0, 8)}`;
    const specs: RecordSpec[] = [
      { topic: source, partition: 3, offset: 40, key: 'a', value: { quantity: 1, price: 1 } },
      { topic: source, partition: 3, offset: 41, key: 'b', value: 'not json {' },
      { topic: source, partition: 3, offset: 42, key: 'c', value: { quantity: 2, price: 1 } },
    ];
    const event = kafkaEvent(specs);

    // WHEN the mapping delivers them
    const answer = await invokeFunction(lambda, fn.name, event);

    // THEN the event is acknowledged and the code ran the two JSON records only
    expect(answer).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(coordinates(effects(fn.file).runs)).toEqual([`${source}-3@40`, `${source}-3@42`]);
    expect((await readTopic(te, responseTopic, 2)).map((m) => JSON.parse(m.key).offset).sort()).toEqual([40, 42]);
    // AND the error topic holds one error record: the record's coordinates, the decode error, its bytes as delivered
    expect(await messagesIn(te, errorTopic)).toBe(1);
    const [error] = await readTopic(te, errorTopic, 1);
    expect(JSON.parse(error.key)).toEqual({ topic: source, partition: 3, startOffset: 41, endOffset: 42 });
    const value = JSON.parse(error.value);
    expect(value.payload).toMatch(/SchemaDecodeError/);
    expect(value.payload).toMatch(/not JSON/);
    expect(value.records).toEqual([event.records[`${source}-3`][1]]);
  });

  test('GIVEN a Kinesis event WHEN the function gets it twice THEN the code runs each record once and its results are on the response topic once', async () => {
    // GIVEN the orders handler and three Kinesis records of one shard, partition keys as the keys
    const responseTopic = await newTopic('in-process-kinesis');
    const fn = await userFunction('orders', inProcessConfig({ responseTopic }));
    const stream = `in-process-stream-${randomUUID().slice(0, 8)}`;
    const specs = [0, 1, 2].map((i) => ({
      stream,
      shardId: 'shardId-000000000000',
      sequenceNumber: bigSequence(i),
      partitionKey: `pk-${i}`,
      value: { quantity: i + 1, price: 4 },
    }));
    const event = kinesisEvent(specs);

    // WHEN the mapping delivers the event twice
    const first = await invokeFunction(lambda, fn.name, event);
    const second = await invokeFunction(lambda, fn.name, event);

    // THEN both are acknowledged; the code ran each record once, by its sequence number
    expect(first).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(second).toEqual({ functionError: undefined, body: { batchItemFailures: [] } });
    expect(coordinates(effects(fn.file).runs)).toEqual(specs.map((s) => `${stream}-${s.shardId}@${s.sequenceNumber}`).sort());
    // AND each result is on the response topic once, keyed by stream, shard and sequence number
    expect(await messagesIn(te, responseTopic)).toBe(specs.length);
    const responses = await readTopic(te, responseTopic, specs.length);
    expect(responses.map((m) => JSON.parse(m.key)).sort((a, b) => a.offset.localeCompare(b.offset))).toEqual(
      specs.map((s) => ({ topic: stream, partition: s.shardId, offset: s.sequenceNumber })),
    );
    expect(responses.map((m) => JSON.parse(m.value).key).sort()).toEqual(['pk-0', 'pk-1', 'pk-2']);
  });

  test("fails with DispatcherConfigError when the user's function gets a KafkaDispatcher's configuration, before running any code", async () => {
    // GIVEN the orders handler configured with a target function
    const config = inProcessConfig({});
    const fn = await userFunction('orders', {
      ...config,
      target: { ...config.target, inProcess: undefined, functionName: 'orders-target' },
    });
    // WHEN the mapping delivers an event
    const answer = await invokeFunction(lambda, fn.name, kafkaEvent(orders('in-process-refused')));
    // THEN the invocation fails naming the configuration's kind and what to attach, and the code never ran
    expect(answer.functionError).toBe('Unhandled');
    expect(answer.body.errorType).toBe('DispatcherConfigError');
    expect(answer.body.errorMessage).toMatch(/KafkaDispatcher's \(its target is "orders-target"\)/);
    expect(answer.body.errorMessage).toMatch(/attach InProcessDispatcher/);
    expect(effects(fn.file).runs).toEqual([]);
  });

  test('fails with DispatcherConfigError when the dispatcher bundle gets an in-process configuration', async () => {
    // GIVEN the dispatcher function (assets/dispatcher) configured for a function's own code
    const name = `in-process-dispatcher-${randomUUID().slice(0, 8)}`;
    fns.push(
      await te.startLambda({
        name,
        dir: DISPATCHER,
        timeoutSeconds: 30,
        env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(inProcessConfig({})) },
      }),
    );
    // WHEN the mapping delivers an event
    const answer = await invokeFunction(lambda, name, kafkaEvent(orders('in-process-dispatcher')));
    // THEN the invocation fails naming the configuration's kind and the construct to deploy
    expect(answer.functionError).toBe('Unhandled');
    expect(answer.body.errorType).toBe('DispatcherConfigError');
    expect(answer.body.errorMessage).toMatch(
      /config\.target\.inProcess: this configuration is for a function that runs its own code/,
    );
    expect(answer.body.errorMessage).toMatch(/deploy the dispatcher with KafkaDispatcher/);
  });
});

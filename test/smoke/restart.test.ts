/**
 * Smoke tests for the fault-test controls: stopping and starting a service keeps its ports and data.
 * Runs against a PRIVATE second environment (Kafka + DynamoDB Local only), so restarting services
 * here never disturbs suites running in parallel against the shared one, and so two environments
 * on one machine are proven not to collide.
 */
import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../testenv';

jest.setTimeout(240_000);

describe('service restart in a private environment', () => {
  let env: te.TestEnv;

  beforeAll(async () => {
    env = await te.start({ services: ['kafka', 'dynamodb'], ownerPid: process.pid });
  });
  afterAll(async () => {
    if (env) await te.stop(env);
  });

  test('GIVEN a second environment WHEN compared with the shared one THEN no port and no run dir is shared', () => {
    const shared = te.loadEnv();
    const ports = (e: te.TestEnv) => [...Object.values(e.kafka.ports), e.dynamodb.port];
    expect(env.runDir).not.toBe(shared.runDir);
    expect(ports(env).filter((p) => ports(shared).includes(p))).toEqual([]);
  });

  test('GIVEN a record and an item WHEN Kafka and DynamoDB Local are stopped and started THEN both are still there on the same ports', async () => {
    const topic = `restart-${randomUUID()}`;
    const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext', {}, env), logLevel: logLevel.NOTHING });
    await te.createTopic(topic, 1, env);
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ value: 'before-restart' }] });
    await producer.disconnect();

    const ddbCfg = () => te.awsClientConfig('dynamodb', env, { maxAttempts: 1 });
    const table = `restart-${randomUUID()}`;
    const ddb = new DynamoDBClient(ddbCfg());
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'survivor' } } }));
    ddb.destroy();

    await Promise.all([te.stopService('kafka', env), te.stopService('dynamodb', env)]);
    const down = new DynamoDBClient(ddbCfg());
    await expect(down.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'survivor' } } }))).rejects.toThrow();
    down.destroy();
    await Promise.all([te.startService('kafka', env), te.startService('dynamodb', env)]);

    const after = te.loadEnv(env.file);
    expect(after.kafka.bootstrap).toEqual(env.kafka.bootstrap);
    expect(after.dynamodb.endpoint).toBe(env.dynamodb.endpoint);

    const up = new DynamoDBClient(ddbCfg());
    const got = await up.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'survivor' } }, ConsistentRead: true }));
    up.destroy();
    expect(got.Item?.pk?.S).toBe('survivor');

    const consumer = kafka.consumer({ groupId: `g-${randomUUID()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const value = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('record not consumed after restart')), 60_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            clearTimeout(timer);
            resolve(String(message.value));
          },
        });
      });
      expect(value).toBe('before-restart');
    } finally {
      await consumer.disconnect();
    }
  });
});

/**
 * The README's own-handler example (examples/own-handler/handler.ts, shown verbatim in the README) run as a Lambda
 * would run it: configured from the environment, DynamoDB Local for the idempotency table, moto's Secrets Manager for
 * the relay's SCRAM credentials and CA, the broker's SASL_SSL listener for the response topic. The relay fails
 * because the broker refuses its credentials (set on the broker, outside the code under test), then the mapping's
 * retry of the same event must put every result on the response topic exactly once without running the user's code
 * again.
 */
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../testenv';
import { brokerAccepts, createIdempotencyTable, kafkaEvent, lambdaContext, readTopic, RecordSpec } from './support';

jest.setTimeout(180_000);

const EXAMPLE = path.join(__dirname, '..', '..', 'examples', 'own-handler');

type Handler = (event: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>;

/** The broker's end offset of a one-partition topic: how many records were ever written to it. */
async function endOffset(topic: string): Promise<number> {
  const admin = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [p] = await admin.fetchTopicOffsets(topic);
    return Number(p.high);
  } finally {
    await admin.disconnect();
  }
}

/** What the event source mapping takes as success: any answer but one naming partitions to retry. */
function acknowledged(answer: unknown): boolean {
  return ((answer as { batchItemFailures?: unknown[] } | undefined)?.batchItemFailures ?? []).length === 0;
}

describe("the README's own handler (examples/own-handler/handler.ts)", () => {
  const env = te.loadEnv();
  const dynamodb = new DynamoDBClient(te.awsClientConfig('dynamodb'));
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const savedEnv = { ...process.env };
  let close: (() => Promise<void>) | undefined;
  afterAll(async () => {
    await close?.();
    dynamodb.destroy();
    secrets.destroy();
    process.env = savedEnv;
  });

  const secret = async (value: object) =>
    (await secrets.send(new CreateSecretCommand({ Name: `own-handler-${randomUUID()}`, SecretString: JSON.stringify(value) })))
      .ARN!;

  /** Loads the example as the Lambda runtime would, counting each call of the user's code per order. */
  function loadExample(runs: Map<string, number>): { handler: Handler; close: () => Promise<void> } {
    let loaded: { handler: Handler; close: () => Promise<void> } | undefined;
    jest.isolateModules(() => {
      // The package's own name resolves to this source tree, as it does for a user who installed it.
      jest.doMock('cdk-kafka-lambda/runtime', () => jest.requireActual('../../runtime'), { virtual: true });
      // The user's code as it is, its calls counted.
      jest.doMock(path.join(EXAMPLE, 'orders'), () => {
        const real = jest.requireActual(path.join(EXAMPLE, 'orders'));
        return {
          ...real,
          handleOrder: (order: { orderId: string }) => {
            runs.set(order.orderId, (runs.get(order.orderId) ?? 0) + 1);
            return real.handleOrder(order);
          },
        };
      });
      loaded = jest.requireActual<{ handler: Handler; close: () => Promise<void> }>(path.join(EXAMPLE, 'handler'));
    });
    return loaded!;
  }

  test("a relay failure, then the mapping's retry: every result on the response topic exactly once, the user's code run once per record", async () => {
    // GIVEN the example configured as its Lambda function would be, with a relay user the broker does not know yet
    const id = randomUUID().slice(0, 8);
    const username = `own-handler-${id}`;
    const password = `pw-${randomUUID()}`;
    const responseTopic = `own-handler-out-${id}`;
    await te.createTopic(responseTopic, 1);
    Object.assign(process.env, {
      TABLE: await createIdempotencyTable(dynamodb),
      BOOTSTRAP_SERVERS: env.kafka.bootstrap.saslSsl,
      KAFKA_SECRET_ARN: await secret({ username, password }),
      KAFKA_ROOT_CA_SECRET_ARN: await secret({ certificate: env.certs.pem.caCert }),
      RESPONSE_TOPIC: responseTopic,
      AWS_REGION: env.region,
      AWS_ACCESS_KEY_ID: env.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: env.credentials.sessionToken,
      AWS_ENDPOINT_URL_DYNAMODB: env.dynamodb.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: env.moto.endpoint,
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    });
    const runs = new Map<string, number>();
    const example = loadExample(runs);
    close = example.close;
    // Five orders on two partitions of the source topic.
    const source = `own-handler-orders-${id}`;
    const specs: RecordSpec[] = [0, 1, 2, 3, 4].map((i) => ({
      topic: source,
      partition: i % 2,
      offset: 10 + i,
      key: `order-${i}`,
      value: { orderId: `order-${i}`, lines: [{ sku: 'sku-1', quantity: i + 1, price: 2.5 }] },
    }));
    const event = kafkaEvent(specs);

    // WHEN the mapping delivers the event while the broker refuses the relay
    const first = await example.handler(event, lambdaContext()).then(
      (answer) => ({ answer, error: undefined }),
      (error: Error) => ({ answer: undefined, error }),
    );
    // THEN the failure hit work in flight: the user's code ran each order, nothing reached the response topic, and
    // the invocation failed (it threw, or answered with the partitions to retry)
    expect([...runs.values()]).toEqual([1, 1, 1, 1, 1]);
    expect(await endOffset(responseTopic)).toBe(0);
    expect(first.error !== undefined || !acknowledged(first.answer)).toBe(true);

    // WHEN the broker takes the relay's credentials and the mapping delivers the same event again
    await te.setScramPassword({ username, password, mechanism: 'SCRAM-SHA-512' });
    await brokerAccepts(te, username, password);
    const second = await example.handler(event, lambdaContext());
    // THEN the event is acknowledged, every order's result is on the response topic exactly once, keyed by its record
    expect(acknowledged(second)).toBe(true);
    expect(await endOffset(responseTopic)).toBe(specs.length);
    const responses = await readTopic(te, responseTopic, specs.length);
    expect(responses.map((m) => JSON.parse(m.key)).sort((a, b) => a.offset - b.offset)).toEqual(
      specs.map((s) => ({ topic: source, partition: s.partition, offset: s.offset })),
    );
    expect(responses.map((m) => JSON.parse(m.value)).sort((a, b) => a.orderId.localeCompare(b.orderId))).toEqual(
      [0, 1, 2, 3, 4].map((i) => ({ orderId: `order-${i}`, total: (i + 1) * 2.5 })),
    );
    // AND the user's code did not run again
    expect(Object.fromEntries(runs)).toEqual(Object.fromEntries(specs.map((s) => [`order-${s.offset - 10}`, 1])));
  });
});

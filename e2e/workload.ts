/**
 * What both fault ledgers (Kafka, Kinesis) produce and run: the records' marks, the functions under the Lambda emulator,
 * the idempotency table and the on-failure queue.
 */
import * as path from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as te from '../testenv';
import { DISPATCHER_CONFIG_ENV, DispatcherConfig, IDEMPOTENCY_PARTITION_KEY } from '../contract/dispatcher-config';

const ROOT = path.join(__dirname, '..');
/** The target functions (test/fixtures/targets/index.js). */
export const TARGETS = path.join(ROOT, 'test', 'fixtures', 'targets');
/** The dispatcher bundle, built by npm run build. */
export const DISPATCHER = path.join(ROOT, 'assets', 'dispatcher');
export const TARGET_BATCH = 25;
/** Every POISON_EVERY-th record (and record 1) asks the target to fail (or, in decode-poison-log, is spoiled). */
export const POISON_EVERY = 250;
/** Every record's value carries this; no log line of the dispatcher may. */
export const CANARY = 'CANARY-5b1f0c7e-record-bytes';
export const isPoison = (i: number) => i === 1 || i % POISON_EVERY === 0;

/** The dispatcher's idempotency table, keyed as the dispatcher's store expects. */
export async function createIdempotencyTable(dynamodb: DynamoDBClient, tableName: string): Promise<void> {
  await dynamodb.send(
    new CreateTableCommand({
      TableName: tableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: IDEMPOTENCY_PARTITION_KEY, AttributeType: 'S' }],
    }),
  );
}

/** The mapping's on-failure destination: a queue's URL (to drain it) and ARN (for the mapping). */
export async function createOnFailureQueue(sqs: SQSClient, queueName: string): Promise<{ url: string; arn: string }> {
  const url = (await sqs.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl!;
  const arn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
    .QueueArn!;
  return { url, arn };
}

/**
 * The dispatcher bundle (or another function running the pipeline, in `dir`) under the Lambda emulator with its
 * configuration (and any endpoint overrides in `env`).
 */
export function startDispatcher(
  o: { name: string; config: DispatcherConfig; timeoutSeconds: number; env?: Record<string, string>; dir?: string },
  testEnv: te.TestEnv,
): Promise<te.RunningLambda> {
  return te.startLambda(
    {
      name: o.name,
      dir: o.dir ?? DISPATCHER,
      timeoutSeconds: o.timeoutSeconds,
      memoryMb: 512,
      env: { [DISPATCHER_CONFIG_ENV]: JSON.stringify(o.config), POWERTOOLS_SERVICE_NAME: 'e2e', ...o.env },
    },
    testEnv,
  );
}

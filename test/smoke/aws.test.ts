/**
 * Smoke tests: DynamoDB Local and moto are real AWS API implementations reached with the AWS SDK v3.
 */
import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateSecretCommand, GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import * as te from '../../testenv';

jest.setTimeout(120_000);

describe('DynamoDB Local stand-in', () => {
  const ddb = new DynamoDBClient(te.awsClientConfig('dynamodb'));
  const table = `smoke-${randomUUID()}`;

  beforeAll(async () => {
    await ddb.send(new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
    }));
  });
  afterAll(() => ddb.destroy());

  test('GIVEN an existing item WHEN a put requires attribute_not_exists(pk) THEN ConditionalCheckFailedException is raised', async () => {
    const put = () => ddb.send(new PutItemCommand({
      TableName: table,
      Item: { pk: { S: 'record-1' }, n: { N: '1' } },
      ConditionExpression: 'attribute_not_exists(pk)',
    }));
    await expect(put()).resolves.toBeDefined();
    await expect(put()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  test('GIVEN an item WHEN DynamoDB Local is stopped and started again THEN the item is still there and the port unchanged', async () => {
    await ddb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'survivor' } } }));
    const before = te.loadEnv().dynamodb.endpoint;
    await te.stopService('dynamodb');
    const down = new DynamoDBClient(te.awsClientConfig('dynamodb', undefined, { maxAttempts: 1 }));
    await expect(down.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'survivor' } } }))).rejects.toThrow();
    down.destroy();
    await te.startService('dynamodb');
    expect(te.loadEnv().dynamodb.endpoint).toBe(before);
    const after = new DynamoDBClient(te.awsClientConfig('dynamodb'));
    const got = await after.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'survivor' } }, ConsistentRead: true }));
    after.destroy();
    expect(got.Item?.pk?.S).toBe('survivor');
  });
});

describe('moto stand-in', () => {
  test('GIVEN a secret WHEN a new version is written THEN reading it back returns the new value', async () => {
    const sm = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
    const name = `smoke/${randomUUID()}`;
    await sm.send(new CreateSecretCommand({ Name: name, SecretString: JSON.stringify({ username: 'u', password: 'p1' }) }));
    await sm.send(new PutSecretValueCommand({ SecretId: name, SecretString: JSON.stringify({ username: 'u', password: 'p2' }) }));
    const got = await sm.send(new GetSecretValueCommand({ SecretId: name }));
    expect(JSON.parse(got.SecretString!)).toEqual({ username: 'u', password: 'p2' });
    await expect(sm.send(new GetSecretValueCommand({ SecretId: `${name}-missing` }))).rejects.toThrow(/ResourceNotFound|can't find/i);
    sm.destroy();
  });

  test('GIVEN an SQS queue WHEN a message is sent THEN it is received with the same body', async () => {
    const sqs = new SQSClient(te.awsClientConfig('sqs'));
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `smoke-${randomUUID()}` }));
    const body = JSON.stringify({ id: randomUUID() });
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 2 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual([body]);
    sqs.destroy();
  });
});

/**
 * Smoke tests: DynamoDB Local and moto are real AWS API implementations reached with the AWS SDK v3.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import * as te from '../../testenv';

jest.setTimeout(120_000);

describe('DynamoDB Local stand-in', () => {
  const ddb = new DynamoDBClient(te.awsClientConfig('dynamodb'));
  const table = `smoke-${randomUUID()}`;

  beforeAll(async () => {
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
  });
  afterAll(() => ddb.destroy());

  test('GIVEN an existing item WHEN a put requires attribute_not_exists(pk) THEN ConditionalCheckFailedException is raised', async () => {
    const put = () =>
      ddb.send(
        new PutItemCommand({
          TableName: table,
          Item: { pk: { S: 'record-1' }, n: { N: '1' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await expect(put()).resolves.toBeDefined();
    await expect(put()).rejects.toBeInstanceOf(ConditionalCheckFailedException);
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
    await expect(sm.send(new GetSecretValueCommand({ SecretId: `${name}-missing` }))).rejects.toThrow(
      /ResourceNotFound|can't find/i,
    );
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

  test('GIVEN S3, SNS, STS and KMS clients WHEN each is used once THEN moto answers like AWS', async () => {
    const s3 = new S3Client(te.awsClientConfig('s3'));
    const Bucket = `smoke-${randomUUID()}`;
    await s3.send(new CreateBucketCommand({ Bucket }));
    await s3.send(new PutObjectCommand({ Bucket, Key: 'k.txt', Body: 'object-body' }));
    const obj = await s3.send(new GetObjectCommand({ Bucket, Key: 'k.txt' }));
    expect(await obj.Body!.transformToString()).toBe('object-body');
    s3.destroy();

    const sns = new SNSClient(te.awsClientConfig('sns'));
    const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: `smoke-${randomUUID()}` }));
    expect((await sns.send(new PublishCommand({ TopicArn, Message: 'm' }))).MessageId).toBeTruthy();
    sns.destroy();

    const sts = new STSClient(te.awsClientConfig('sts'));
    expect((await sts.send(new GetCallerIdentityCommand({}))).Account).toMatch(/^\d{12}$/);
    sts.destroy();

    const kms = new KMSClient(te.awsClientConfig('kms'));
    const { KeyMetadata } = await kms.send(new CreateKeyCommand({}));
    const enc = await kms.send(new EncryptCommand({ KeyId: KeyMetadata!.KeyId, Plaintext: Buffer.from('secret') }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext!).toString()).toBe('secret');
    kms.destroy();
  });
});

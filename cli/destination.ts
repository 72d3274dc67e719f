/** On-failure destinations: SQS queue, SNS topic, S3 bucket (arn:aws:sqs|sns|s3:…) or a Kafka topic (kafka://topic). */
import type { Producer } from 'kafkajs';
import { localAwsSettings } from './aws';

export interface OnFailureDestination {
  /** The destination's ARN or kafka://topic. */
  readonly target: string;
  /** Whether the record carries the whole event (`payload`), as for S3. */
  readonly withPayload: boolean;
  send(record: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export class OnFailureDestinationError extends Error {
  public override readonly name = 'OnFailureDestinationError';
}

type AwsClientSettings = ReturnType<typeof localAwsSettings>;

/** Parses the destination and connects its client lazily. */
export function onFailureDestination(
  target: string,
  aws: { endpoint?: string; region?: string },
  kafkaProducer: () => Promise<Producer>,
): OnFailureDestination {
  if (target.startsWith('kafka://')) return kafkaTopic(target, kafkaProducer);
  const arn = /^arn:[^:]+:(sqs|sns|s3):([^:]*):([^:]*):(.+)$/.exec(target);
  if (!arn)
    throw new OnFailureDestinationError(`onFailure destination "${target}" is neither an SQS, SNS or S3 ARN nor kafka://<topic>`);
  const [, service, region, account, resource] = arn;
  const regional = localAwsSettings(aws.endpoint, aws.region ?? (region || undefined));
  if (service === 'sqs') return sqsQueue(target, regional, resource, account);
  if (service === 'sns') return snsTopic(target, regional);
  return s3Bucket(target, regional, resource.split('/')[0]);
}

function kafkaTopic(target: string, kafkaProducer: () => Promise<Producer>): OnFailureDestination {
  const topic = target.slice('kafka://'.length);
  return {
    target,
    withPayload: false,
    async send(record) {
      const p = await kafkaProducer();
      const info = (record.KafkaBatchInfo ?? {}) as { recordsInfo?: Record<string, unknown> };
      await p.send({
        topic,
        messages: [{ key: Object.keys(info.recordsInfo ?? {}).join(','), value: JSON.stringify(record) }],
      });
    },
    async close() {
      /* the producer belongs to the mapping */
    },
  };
}

function sqsQueue(target: string, regional: AwsClientSettings, queueName: string, account: string): OnFailureDestination {
  const { SQSClient, SendMessageCommand, GetQueueUrlCommand } =
    require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  const client = new SQSClient(regional);
  let url: string | undefined;
  return {
    target,
    withPayload: false,
    async send(record) {
      url ??= (await client.send(new GetQueueUrlCommand({ QueueName: queueName, QueueOwnerAWSAccountId: account || undefined })))
        .QueueUrl!;
      await client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify(record) }));
    },
    async close() {
      client.destroy();
    },
  };
}

function snsTopic(target: string, regional: AwsClientSettings): OnFailureDestination {
  const { SNSClient, PublishCommand } = require('@aws-sdk/client-sns') as typeof import('@aws-sdk/client-sns');
  const client = new SNSClient(regional);
  return {
    target,
    withPayload: false,
    async send(record) {
      await client.send(new PublishCommand({ TopicArn: target, Message: JSON.stringify(record) }));
    },
    async close() {
      client.destroy();
    },
  };
}

function s3Bucket(target: string, regional: AwsClientSettings, bucket: string): OnFailureDestination {
  const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const client = new S3Client({ ...regional, forcePathStyle: true });
  return {
    target,
    withPayload: true,
    async send(record) {
      // Object key like Lambda's: the date path, then a unique name per failed invocation.
      const now = new Date((record.timestamp as string) ?? Date.now());
      const day = now.toISOString().slice(0, 10).replace(/-/g, '/');
      const id = ((record.requestContext as { requestId?: string }) ?? {}).requestId ?? String(Date.now());
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `aws/lambda/local-esm/${day}/${now.toISOString()}-${id}`,
          Body: JSON.stringify(record),
          ContentType: 'application/json',
        }),
      );
    },
    async close() {
      client.destroy();
    },
  };
}

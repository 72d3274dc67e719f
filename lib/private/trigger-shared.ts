import { Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { OnFailureDestination, OnFailureDestinationKind } from '../kafka-destination';
import { EndpointNeed } from './vpc-endpoints';

/** An SQS, SNS or S3 on-failure destination, created when not given, granted in the event source's policy. */
export interface OnFailureSetup {
  /** The mapping's DestinationConfig.OnFailure.Destination. */
  readonly destination: string;
  readonly queue?: sqs.IQueue;
  readonly bucket?: s3.IBucket;
  /** The endpoint the event source sends through from a VPC, admitting the role for the send on the resource. */
  readonly endpoint: EndpointNeed;
}

/**
 * The AWS-service destinations both triggers share: a created queue is SQS-encrypted, TLS-only, 14 days; a created
 * bucket versioned, encrypted, public access blocked, TLS-only. Grants only the send (and its key's actions).
 * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
 */
export function configureOnFailure(scope: Construct, d: OnFailureDestination, policy: iam.Policy, role: iam.IRole): OnFailureSetup {
  const grantKey = (key: kms.IKey, actions: string[]) => policy.addStatements(new iam.PolicyStatement({ actions, resources: [key.keyArn] }));
  const endpoint = (key: EndpointNeed['key'], label: string, action: string, resource: string): EndpointNeed =>
    ({ key, label, statements: [new iam.PolicyStatement({ actions: [action], principals: [role], resources: [resource] })] });
  switch (d.kind) {
    case OnFailureDestinationKind.SQS: {
      const queue = d.queue ?? new sqs.Queue(scope, 'OnFailureQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      policy.addStatements(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
      if (queue.encryptionMasterKey) grantKey(queue.encryptionMasterKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
      return { destination: queue.queueArn, queue, endpoint: endpoint('sqs', 'SQS', 'sqs:SendMessage', queue.queueArn) };
    }
    case OnFailureDestinationKind.SNS: {
      const topic = d.topic!;
      policy.addStatements(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }));
      if (topic.masterKey) grantKey(topic.masterKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
      return { destination: topic.topicArn, endpoint: endpoint('sns', 'SNS', 'sns:Publish', topic.topicArn) };
    }
    default: {
      const bucket = d.bucket ?? new s3.Bucket(scope, 'OnFailureBucket', {
        versioned: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
      });
      policy.addStatements(
        new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects('*')] }),
        // The Lambda guide lists s3:ListBucket for S3 destinations besides s3:PutObject.
        new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
      );
      if (bucket.encryptionKey) grantKey(bucket.encryptionKey, ['kms:GenerateDataKey']);
      return { destination: bucket.bucketArn, bucket, endpoint: endpoint('s3', 'S3', 's3:PutObject', bucket.arnForObjects('*')) };
    }
  }
}

/** A consumer-lag metric of the function (OffsetLag, IteratorAge): its maximum per minute. */
export function consumerLagMetric(target: lambda.IFunction, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/Lambda',
    metricName,
    dimensionsMap: { FunctionName: target.functionName },
    statistic: cloudwatch.Stats.MAXIMUM,
    period: Duration.minutes(1),
    ...props,
  });
}

/** An alarm on any error of the function, and one on any message in the on-failure queue. */
export function errorAlarms(scope: Construct, target: lambda.IFunction, queue: sqs.IQueue | undefined, queueDescription: string): cloudwatch.Alarm[] {
  const anyOf = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) => new cloudwatch.Alarm(scope, id, {
    alarmDescription,
    metric,
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  const alarms = [anyOf('ErrorsAlarm', `The function of ${scope.node.path} returned errors`,
    target.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }))];
  if (queue) {
    alarms.push(anyOf('OnFailureQueueDepthAlarm', queueDescription,
      queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM })));
  }
  return alarms;
}

/** Acknowledges the findings on the destination resources a trigger created itself. */
export function acknowledgeOnFailureFindings(owner: Construct, queue: sqs.IQueue | undefined, bucket: s3.IBucket | undefined, source: string): void {
  if (bucket instanceof s3.Bucket && bucket.node.scope === owner) {
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason: 'The bucket only receives failed-batch records from Lambda; access logs would need a second bucket the user did not ask for.',
    });
  }
  if (queue instanceof sqs.Queue && queue.node.scope === owner) {
    Validations.of(queue).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason: `This queue is itself the dead-letter destination of the ${source} event source.` });
  }
}

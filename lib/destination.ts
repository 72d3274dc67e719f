import { Annotations, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { KafkaAuthMethod } from './kafka-auth';
import { mskResourceArn } from './private/msk';

/** Kind of on-failure destination. */
export enum OnFailureDestinationKind {
  /** An SQS queue: receives the invocation record (metadata). */
  SQS = 'SQS',
  /** An SNS topic: receives the invocation record (metadata). */
  SNS = 'SNS',
  /** An S3 bucket: receives the invocation record and the whole failed batch. */
  S3 = 'S3',
  /** A topic of the same Kafka cluster (`kafka://<topic>`): receives the failed records. */
  KAFKA = 'KAFKA',
}

/** What a trigger gives a destination to bind to its event source. */
export interface OnFailureBindOptions {
  /** The event source's policy, which receives the destination's grants. */
  readonly policy: iam.Policy;
  /** The role the event source sends with (the function's execution role). */
  readonly role: iam.IRole;
  /**
   * The MSK cluster, for a Kafka-topic destination with IAM auth.
   * @default - not MSK
   */
  readonly mskClusterArn?: string;
  /**
   * How the event source authenticates, for a Kafka-topic destination.
   * @default - not Kafka
   */
  readonly authMethod?: KafkaAuthMethod;
}

/** A destination bound to an event source. */
export interface OnFailureDestinationConfig {
  /** The mapping's `DestinationConfig.OnFailure.Destination`. */
  readonly destination: string;
  /**
   * The queue, created or given.
   * @default - not SQS
   */
  readonly queue?: sqs.IQueue;
  /**
   * The bucket, created or given.
   * @default - not S3
   */
  readonly bucket?: s3.IBucket;
  /**
   * The VPC endpoint (`sqs`, `sns`, `s3`) the event source sends through from a VPC.
   * @default - none (a Kafka topic is reached through the brokers)
   */
  readonly endpointService?: string;
  /**
   * That endpoint's policy statement: the role, the send action, the resource.
   * @default - none
   */
  readonly endpointStatement?: iam.PolicyStatement;
}

/**
 * Where the event source mapping sends a batch that failed all retries. Each kind binds itself to the event
 * source: creates what is not given and grants only the send (and its key's actions).
 *
 * @example
 * OnFailureDestination.sqs();                  // creates an encrypted queue
 * OnFailureDestination.s3(bucket);
 * OnFailureDestination.kafkaTopic('orders-dlt');
 * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
 */
export abstract class OnFailureDestination {
  /**
   * An SQS queue. Without one, a queue is created: SQS-managed encryption, TLS enforced, 14 days retention.
   * Granted: sqs:SendMessage (and kms:Decrypt/GenerateDataKey on its CMK).
   */
  public static sqs(queue?: sqs.IQueue): OnFailureDestination {
    return new SqsDestination(queue);
  }

  /** An SNS topic. Granted: sns:Publish (and kms:Decrypt/GenerateDataKey on its CMK). */
  public static sns(topic: sns.ITopic): OnFailureDestination {
    return new SnsDestination(topic);
  }

  /**
   * An S3 bucket. Without one, a bucket is created: versioned, encrypted, public access blocked, TLS enforced.
   * Granted: s3:PutObject on its objects and s3:ListBucket on it (and kms:GenerateDataKey on its CMK).
   */
  public static s3(bucket?: s3.IBucket): OnFailureDestination {
    return new S3Destination(bucket);
  }

  /**
   * A topic of the source cluster, never a source topic. Requires provisioned pollers.
   * With MSK IAM auth the role is granted kafka-cluster:WriteData and DescribeTopic on it.
   */
  public static kafkaTopic(topicName: string): OnFailureDestination {
    return new KafkaTopicDestination(topicName);
  }

  /** The kind of destination. */
  public readonly kind: OnFailureDestinationKind;
  /** The queue, when given. */
  public readonly queue?: sqs.IQueue;
  /** The topic, for SNS. */
  public readonly topic?: sns.ITopic;
  /** The bucket, when given. */
  public readonly bucket?: s3.IBucket;
  /** The Kafka topic name. */
  public readonly topicName?: string;

  protected constructor(
    kind: OnFailureDestinationKind,
    queue?: sqs.IQueue,
    topic?: sns.ITopic,
    bucket?: s3.IBucket,
    topicName?: string,
  ) {
    this.kind = kind;
    this.queue = queue;
    this.topic = topic;
    this.bucket = bucket;
    this.topicName = topicName;
  }

  /** Creates what is not given in `scope` and grants the event source the send. */
  public abstract bind(scope: Construct, options: OnFailureBindOptions): OnFailureDestinationConfig;
}

function grantKey(policy: iam.Policy, key: kms.IKey, actions: string[]): void {
  policy.addStatements(new iam.PolicyStatement({ actions, resources: [key.keyArn] }));
}

function send(
  policy: iam.Policy,
  role: iam.IRole,
  service: string,
  action: string,
  resource: string,
): Pick<OnFailureDestinationConfig, 'endpointService' | 'endpointStatement'> {
  policy.addStatements(new iam.PolicyStatement({ actions: [action], resources: [resource] }));
  return {
    endpointService: service,
    endpointStatement: new iam.PolicyStatement({ actions: [action], principals: [role], resources: [resource] }),
  };
}

class SqsDestination extends OnFailureDestination {
  constructor(queue?: sqs.IQueue) {
    super(OnFailureDestinationKind.SQS, queue);
  }

  public bind(scope: Construct, { policy, role }: OnFailureBindOptions): OnFailureDestinationConfig {
    const queue =
      this.queue ??
      new sqs.Queue(scope, 'OnFailureQueue', {
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
    if (queue.encryptionMasterKey) grantKey(policy, queue.encryptionMasterKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
    return { destination: queue.queueArn, queue, ...send(policy, role, 'sqs', 'sqs:SendMessage', queue.queueArn) };
  }
}

class SnsDestination extends OnFailureDestination {
  constructor(topic: sns.ITopic) {
    super(OnFailureDestinationKind.SNS, undefined, topic);
  }

  public bind(_scope: Construct, { policy, role }: OnFailureBindOptions): OnFailureDestinationConfig {
    const topic = this.topic!;
    if (topic.masterKey) grantKey(policy, topic.masterKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
    return { destination: topic.topicArn, ...send(policy, role, 'sns', 'sns:Publish', topic.topicArn) };
  }
}

class S3Destination extends OnFailureDestination {
  constructor(bucket?: s3.IBucket) {
    super(OnFailureDestinationKind.S3, undefined, undefined, bucket);
  }

  public bind(scope: Construct, { policy, role }: OnFailureBindOptions): OnFailureDestinationConfig {
    const bucket =
      this.bucket ??
      new s3.Bucket(scope, 'OnFailureBucket', {
        versioned: true,
        encryption: s3.BucketEncryption.S3_MANAGED,
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        enforceSSL: true,
      });
    // The Lambda guide lists s3:ListBucket for S3 destinations besides s3:PutObject.
    policy.addStatements(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }));
    if (bucket.encryptionKey) grantKey(policy, bucket.encryptionKey, ['kms:GenerateDataKey']);
    return { destination: bucket.bucketArn, bucket, ...send(policy, role, 's3', 's3:PutObject', bucket.arnForObjects('*')) };
  }
}

class KafkaTopicDestination extends OnFailureDestination {
  constructor(topicName: string) {
    super(OnFailureDestinationKind.KAFKA, undefined, undefined, undefined, topicName);
  }

  public bind(scope: Construct, { policy, mskClusterArn, authMethod }: OnFailureBindOptions): OnFailureDestinationConfig {
    const topic = this.topicName!;
    if (authMethod === KafkaAuthMethod.IAM && mskClusterArn !== undefined) {
      policy.addStatements(
        new iam.PolicyStatement({
          actions: ['kafka-cluster:WriteData', 'kafka-cluster:DescribeTopic'],
          resources: [mskResourceArn(mskClusterArn, 'topic', topic)],
        }),
      );
    } else {
      Annotations.of(scope).addWarningV2(
        'cdk-kafka-lambda:kafkaDestinationAcl',
        `Lambda writes failed records to topic ${topic} as the ${authMethod} user; grant that user Write and Describe on it in the cluster's ACLs.`,
      );
    }
    return { destination: `kafka://${topic}` };
  }
}

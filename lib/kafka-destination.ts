import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';

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

/**
 * Where the event source mapping sends a batch that failed all retries.
 *
 * @example
 * OnFailureDestination.sqs();                  // creates an encrypted queue
 * OnFailureDestination.s3(bucket);
 * OnFailureDestination.kafkaTopic('orders-dlt');
 * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
 */
export class OnFailureDestination {
  /**
   * An SQS queue. Without one, a queue is created: SQS-managed encryption, TLS enforced, 14 days retention.
   * Granted: sqs:SendMessage (and kms:Decrypt/GenerateDataKey on its CMK).
   */
  public static sqs(queue?: sqs.IQueue): OnFailureDestination {
    return new OnFailureDestination(OnFailureDestinationKind.SQS, { queue });
  }

  /** An SNS topic. Granted: sns:Publish (and kms:Decrypt/GenerateDataKey on its CMK). */
  public static sns(topic: sns.ITopic): OnFailureDestination {
    return new OnFailureDestination(OnFailureDestinationKind.SNS, { topic });
  }

  /**
   * An S3 bucket. Without one, a bucket is created: versioned, encrypted, public access blocked, TLS enforced.
   * Granted: s3:PutObject on its objects and s3:ListBucket on it (and kms:GenerateDataKey on its CMK).
   */
  public static s3(bucket?: s3.IBucket): OnFailureDestination {
    return new OnFailureDestination(OnFailureDestinationKind.S3, { bucket });
  }

  /**
   * A topic of the source cluster, never a source topic. Requires provisioned pollers.
   * With MSK IAM auth the role is granted kafka-cluster:WriteData and DescribeTopic on it.
   */
  public static kafkaTopic(topicName: string): OnFailureDestination {
    return new OnFailureDestination(OnFailureDestinationKind.KAFKA, { topicName });
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

  private constructor(kind: OnFailureDestinationKind, target: { queue?: sqs.IQueue; topic?: sns.ITopic; bucket?: s3.IBucket; topicName?: string }) {
    this.kind = kind;
    this.queue = target.queue;
    this.topic = target.topic;
    this.bucket = target.bucket;
    this.topicName = target.topicName;
  }
}

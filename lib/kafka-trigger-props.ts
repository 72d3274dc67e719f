import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaAuth } from './kafka-auth';
import { KafkaCluster } from './kafka-cluster';
import { OnFailureDestination } from './destination';
import { EventSourceTriggerProps } from './trigger-props';
import { KafkaVpcEndpoints } from './vpc-endpoints';

/** Options of the per-mapping metrics. */
export interface KafkaTriggerMetricOptions extends cloudwatch.MetricOptions {
  /**
   * The topic whose mapping the metric is of.
   * @default - the first topic
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
   */
  readonly topic?: string;
}

/** How Lambda consumes a self-managed Kafka topic. */
export enum KafkaConsumptionMode {
  /** A consumer group: per-partition order (the default). */
  STREAM = 'Stream',
  /** A share group (Kafka 4.2+ brokers): unordered, several pollers per partition, like an SQS queue. */
  QUEUE = 'Queue',
}

/** Properties of a KafkaTrigger. */
export interface KafkaTriggerProps extends EventSourceTriggerProps {
  /** The cluster to read from. */
  readonly cluster: KafkaCluster;

  /**
   * The topics to read. Lambda takes one topic per event source mapping, so one mapping is created per topic.
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-Topics
   */
  readonly topics: string[];

  /**
   * How Lambda authenticates to the brokers.
   * @default - MSK: IAM; self-managed: SASL/SCRAM-SHA-512 with a created secret
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly auth?: KafkaAuth;

  /**
   * The consumer group to join: 1–200 characters of `[a-zA-Z0-9-/*:_+=.@-]`, unique among your Kafka
   * event sources. Only with a single topic (with several, use `consumerGroupIds`).
   *
   * A group that already has committed offsets is resumed from them and `startingPosition` is ignored; a new group
   * starts at `startingPosition`. Lambda does not change the group of a mapping once created.
   * @default - a name derived from the stack name and the construct path (plus the topic), so ACLs and IAM can name
   * it. It follows the path: renaming or moving the construct (or its stack) gives a new group, and the replaced
   * mapping starts over at its `startingPosition`.
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-process.html#services-smaa-topic-add
   */
  readonly consumerGroupId?: string;

  /**
   * The consumer group of each topic's mapping, by topic: pins the groups, so that renaming or moving the construct
   * keeps them (and their committed offsets). Each key is one of `topics`; each value has 1–200 characters of
   * `[a-zA-Z0-9-/*:_+=.@-]` and is unique among your Kafka event sources (and so within the trigger). Topics left out
   * get a generated group. Lambda does not change the group of a mapping once created: to pin the topic of a
   * deployed mapping, give the group it has now (`KafkaTrigger.consumerGroupIds`, or the template's `ConsumerGroupId`).
   *
   * A group that already has committed offsets (e.g. a Kafka Connect connector's offsets copied into it) is resumed
   * from them and `startingPosition` is ignored; a new group starts at `startingPosition`.
   * @default - `consumerGroupId` for a single topic; else a name derived from the stack name, the construct path and
   * the topic, which changes when the construct (or its stack) is renamed or moved: the replaced mapping then starts
   * over at its `startingPosition`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-process.html#services-smaa-topic-add
   */
  readonly consumerGroupIds?: { [topic: string]: string };

  /**
   * Consumer group (Stream) or share group (Queue) consumption; self-managed clusters only. In Queue mode
   * the starting position and batching window do not apply.
   * @default KafkaConsumptionMode.STREAM
   * @see https://docs.aws.amazon.com/lambda/latest/dg/polling-kafka-queue.html
   */
  readonly consumptionMode?: KafkaConsumptionMode;

  /**
   * Provisioned mode: minimum 1–200, maximum 1–10000 pollers, an optional poller group.
   * Schema registry, error handling controls, ESM logging and Kafka destinations need it.
   * @default - on-demand mode
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html
   */
  readonly provisionedPollers?: lambda.ProvisionedPollerConfig;

  /**
   * A Confluent or Glue schema registry (`ConfluentSchemaRegistry` / `GlueSchemaRegistry` of
   * aws-cdk-lib/aws-lambda-event-sources). Provisioned mode only.
   * @default - records are delivered as they are
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html
   */
  readonly schemaRegistry?: lambda.ISchemaRegistry;

  /**
   * ESM system log level. Provisioned mode only.
   * @default - no ESM system logs
   * @see https://docs.aws.amazon.com/lambda/latest/dg/esm-logging.html
   */
  readonly systemLogLevel?: lambda.EventSourceMappingLogLevel;

  /**
   * Retries of a failed batch, 0–10000, or -1 for infinite. Provisioned mode only.
   * @default - infinite (10 with an on-failure destination, as Lambda applies)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   */
  readonly retryAttempts?: number;

  /**
   * Split a failed batch in two and retry each half. Provisioned mode only.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   */
  readonly bisectBatchOnError?: boolean;

  /**
   * Discard records older than this, 60 s – 7 days. Provisioned mode only.
   * @default - infinite
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   */
  readonly maxRecordAge?: Duration;

  /**
   * Where batches that failed all retries go.
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
   */
  readonly onFailure?: OnFailureDestination;

  /**
   * VPC interface endpoints, when the cluster is in a VPC.
   * @default KafkaVpcEndpoints.create() when the cluster has a VPC
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly vpcEndpoints?: KafkaVpcEndpoints;

  /**
   * OffsetLag (maximum over a minute) that, for 5 minutes in a row, raises the lag alarm.
   * @default 1000
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
   */
  readonly offsetLagAlarmThreshold?: number;

  /**
   * Invoke the target with InvocationType DryRun at deploy time, before the mappings are created,
   * so a function that cannot be invoked fails the deployment instead of the first batch.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#lambda-Invoke-request-InvocationType
   */
  readonly dryRunCheck?: boolean;
}

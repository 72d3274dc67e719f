import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The options KafkaTrigger and KinesisTrigger share, as Lambda defines them for every stream event source. The
 * error-handling options (retries, bisect, record age, on-failure destination) are each trigger's own: their
 * defaults and constraints differ between Kafka and Kinesis.
 */
export interface EventSourceTriggerProps {
  /**
   * The function the mapping invokes: the dispatcher or your own (Kafka: a timeout of 14 minutes or less).
   */
  readonly target: lambda.IFunction;

  /**
   * Largest number of records per batch, 1–10000.
   * @default 100
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
   */
  readonly batchSize?: number;

  /**
   * How long to gather records before invoking, at most 300 seconds.
   * @default - Kafka: 500 ms; Kinesis: no batching window
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * Where a new mapping starts reading. TRIM_HORIZON by default because LATEST skips records written while the
   * mapping is being created.
   * @default lambda.StartingPosition.TRIM_HORIZON
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-starting-positions.html
   */
  readonly startingPosition?: lambda.StartingPosition;

  /**
   * With AT_TIMESTAMP: the time to start from, in Unix seconds.
   * @default - required with AT_TIMESTAMP only
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-StartingPositionTimestamp
   */
  readonly startingPositionTimestamp?: number;

  /**
   * Event filter patterns (`lambda.FilterCriteria.filter({...})`).
   * @default - no filtering
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
   */
  readonly filters?: Array<{ [key: string]: any }>;

  /**
   * Customer managed key that encrypts the filter criteria. Lambda is granted kms:Decrypt on it.
   * @default - AWS owned key
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html#filter-criteria-encryption
   */
  readonly filterEncryption?: kms.IKey;

  /**
   * Whether the mapping polls.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-Enabled
   */
  readonly enabled?: boolean;

  /**
   * ESM metrics to emit (EventCount, ErrorCount; Kafka also KafkaMetrics).
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
   */
  readonly metrics?: lambda.MetricType[];

  /**
   * Let the function report failed records (ReportBatchItemFailures). Kafka: provisioned mode only.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
   */
  readonly reportBatchItemFailures?: boolean;

  /**
   * Create CloudWatch alarms: consumer lag (Kafka OffsetLag, Kinesis IteratorAge), function errors, on-failure queue depth.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
   */
  readonly alarms?: boolean;

  /**
   * Watch the mappings' health: a small function (128 MB, arm64, not in a VPC), run every 5 minutes by an EventBridge
   * schedule, reads each mapping with GetEventSourceMapping and writes the metric `MappingHealthy` (namespace
   * `CdkKafkaLambda`, 1 healthy, 0 not) per mapping through its log, and, with `alarms`, an alarm fires when a mapping
   * is unhealthy on 2 of 3 checks. Healthy: State Creating, Enabling, Enabled or Updating, and a LastProcessingResult
   * that does not start with "PROBLEM"; Disabling and Disabled are healthy only with `enabled: false`. Cost: about
   * 8,640 invocations a month (12 an hour) of well under a second each, a few log lines each, and one alarm.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_GetEventSourceMapping.html
   */
  readonly mappingHealth?: boolean;
}

/** Options of a trigger's CloudWatch dashboard. */
export interface TriggerDashboardOptions {
  /**
   * The dashboard's name.
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;

  /**
   * The period of the graphs' metrics.
   * @default Duration.minutes(5)
   */
  readonly period?: Duration;
}

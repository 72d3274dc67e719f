import { Annotations, Duration, Names, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ESM_LIMITS } from '../contract/esm-limits';
import { OnFailureDestination, OnFailureDestinationKind } from './destination';
import { DispatcherSourceKind, DispatcherTarget } from './dispatcher-target';
import { noteUnboundTrigger } from './private/dispatcher-target';
import { ValidationError } from './private/errors';
import { acknowledgeWildcards } from './private/nag';
import { EventSourceTriggerProps, TriggerDashboardOptions } from './trigger-props';
import { DASHBOARD_MAPPING_METRICS, createTriggerDashboard } from './private/dashboard';
import { MappingHealthCheck, mappingHealthyMetric, watchMappings } from './private/mapping-health';
import {
  acknowledgeOnFailureFindings,
  bindOnFailure,
  consumerLagMetric,
  errorAlarms,
  lambdaMetric,
  recordAgeRange,
} from './private/trigger-shared';
import { unreadPartialBatchResponses } from './private/partial-batch';

/** Properties of a KinesisTrigger. */
export interface KinesisTriggerProps extends EventSourceTriggerProps {
  /**
   * The stream to read.
   * @default - a stream is created: on-demand capacity, encrypted with the AWS managed key (aws/kinesis), 24 hours retention
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
   */
  readonly stream?: kinesis.IStream;

  /**
   * Read through a dedicated enhanced fan-out consumer (AWS::Kinesis::StreamConsumer), pushed over HTTP/2
   * with its own 2 MB/s per shard.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis-configure.html#services-kinesis-stream-consumers
   */
  readonly enhancedFanOut?: boolean;

  /**
   * Name of the enhanced fan-out consumer: 1–128 characters of `[a-zA-Z0-9_.-]`. Only with `enhancedFanOut`.
   * @default - a name derived from the construct path
   * @see https://docs.aws.amazon.com/kinesis/latest/APIReference/API_RegisterStreamConsumer.html
   */
  readonly consumerName?: string;

  /**
   * Batches processed at once per shard, 1–10. Order holds per partition key.
   * @default 1
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html
   */
  readonly parallelizationFactor?: number;

  /**
   * Split a failed batch in two and retry each half (does not count against `retryAttempts`).
   * @default true - so one bad record is isolated instead of holding its whole batch
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
   */
  readonly bisectBatchOnError?: boolean;

  /**
   * Retries of a batch the function failed, 0–10000, or -1 for infinite.
   * @default 10 - never the service default of infinite, which can stall a shard until its records expire
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
   */
  readonly retryAttempts?: number;

  /**
   * Discard (to the on-failure destination) records older than this, 60 s – 7 days.
   * @default Duration.days(1) - the default retention of a stream; Lambda's own default of 7 days can stall a shard for a week
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
   */
  readonly maxRecordAge?: Duration;

  /**
   * Never discard records for their age (MaximumRecordAgeInSeconds -1): they are retried until the stream
   * expires them. Excludes `maxRecordAge`.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-MaximumRecordAgeInSeconds
   */
  readonly unlimitedRecordAge?: boolean;

  /**
   * Tumbling window for stateful aggregation, 0–900 seconds.
   * @default - no tumbling window
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-windows.html
   */
  readonly tumblingWindow?: Duration;

  /**
   * Where the details of discarded batches go: SQS, SNS or S3 (not a Kafka topic).
   * @default OnFailureDestination.sqs() - an encrypted queue is created, so no discarded batch goes unrecorded
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
   */
  readonly onFailure?: OnFailureDestination;

  /**
   * Discard failed batches without any record of them (no on-failure destination). Excludes `onFailure`.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html
   */
  readonly discardFailedBatches?: boolean;

  /**
   * IteratorAge (maximum over a minute) that, for 5 minutes in a row, raises the iterator age alarm.
   * @default Duration.minutes(5)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
   */
  readonly iteratorAgeAlarmThreshold?: Duration;
}

const CONSUMER_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
// Read access for standard iterators, as in AWSLambdaKinesisExecutionRole without the account-wide ListStreams.
const STREAM_READ_ACTIONS = [
  'kinesis:DescribeStream',
  'kinesis:DescribeStreamSummary',
  'kinesis:GetRecords',
  'kinesis:GetShardIterator',
  'kinesis:ListShards',
];

/**
 * Wires a Kinesis data stream (given or created) to a Lambda function: the event source mapping, an
 * optional enhanced fan-out consumer, an on-failure destination, least-privilege grants and alarms, with
 * defaults that bound retries and record age so a bad record cannot stall its shard for a week.
 *
 * @example
 * declare const fn: lambda.IFunction;
 * declare const stream: kinesis.IStream;
 * new KinesisTrigger(this, 'Clicks', {
 *   stream,
 *   target: fn,
 *   enhancedFanOut: true,
 *   reportBatchItemFailures: true,
 * });
 */
export class KinesisTrigger extends Construct {
  /** The stream (created or given). */
  public readonly stream: kinesis.IStream;
  /** The enhanced fan-out consumer, with `enhancedFanOut`. */
  public readonly consumer?: kinesis.CfnStreamConsumer;
  /** The event source mapping. */
  public readonly eventSourceMapping: lambda.CfnEventSourceMapping;
  /** The mapping's id (UUID). */
  public readonly eventSourceMappingId: string;
  /** The mapping's ARN. */
  public readonly eventSourceMappingArn: string;
  /** The on-failure queue (created or given), for an SQS destination. */
  public readonly onFailureQueue?: sqs.IQueue;
  /** The on-failure bucket (created or given), for an S3 destination. */
  public readonly onFailureBucket?: s3.IBucket;
  /** The policy holding every grant of the event source, attached to the target's role. */
  public readonly policy: iam.Policy;
  /** The alarms (empty when `alarms` is false), the mapping health alarm among them. */
  public readonly alarms: cloudwatch.Alarm[];
  /** The alarm on `MappingHealthy`: the mapping stopped or Lambda reports a problem (unless `mappingHealth` or `alarms` is false). */
  public readonly mappingHealthAlarm?: cloudwatch.Alarm;
  /** The scheduled function that reads the mapping's state and writes `MappingHealthy` (unless `mappingHealth` is false). */
  public readonly mappingHealthFunction?: lambda.Function;

  private readonly target: lambda.IFunction;
  private readonly mappingMetricTypes: string[];
  private readonly healthCheck?: MappingHealthCheck;
  /** The `service` dimension of the dispatcher's metrics, when the target is a dispatcher. */
  private dispatcherService?: string;
  private createdDashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: KinesisTriggerProps) {
    super(scope, id);
    this.target = props.target;
    const role = props.target.role;
    if (!role) {
      this.fail(
        'target.role',
        undefined,
        "the event source uses the function's execution role; import the function with lambda.Function.fromFunctionAttributes({ functionArn, role })",
      );
    }
    this.validate(props);

    this.stream =
      props.stream ??
      new kinesis.Stream(this, 'Stream', {
        streamMode: kinesis.StreamMode.ON_DEMAND,
        encryption: kinesis.StreamEncryption.MANAGED,
      });

    this.policy = new iam.Policy(this, 'SourceAccessPolicy');
    this.policy.attachToRole(role);
    this.policy.addStatements(new iam.PolicyStatement({ actions: STREAM_READ_ACTIONS, resources: [this.stream.streamArn] }));
    if (this.stream.encryptionKey)
      this.policy.addStatements(
        new iam.PolicyStatement({ actions: ['kms:Decrypt'], resources: [this.stream.encryptionKey.keyArn] }),
      );

    if (props.enhancedFanOut) {
      this.consumer = new kinesis.CfnStreamConsumer(this, 'Consumer', {
        streamArn: this.stream.streamArn,
        consumerName: props.consumerName ?? Names.uniqueResourceName(this, { maxLength: 128, separator: '-' }),
      });
      this.policy.addStatements(
        new iam.PolicyStatement({
          actions: ['kinesis:SubscribeToShard', 'kinesis:DescribeStreamConsumer'],
          resources: [this.consumer.attrConsumerArn],
        }),
      );
    }

    const dest = this.configureDestination(props);
    this.onFailureQueue = dest.queue;
    this.onFailureBucket = dest.bucket;
    if (props.filterEncryption) props.filterEncryption.grantDecrypt(new iam.ServicePrincipal('lambda.amazonaws.com'));

    this.eventSourceMapping = new lambda.CfnEventSourceMapping(this, 'EventSourceMapping', {
      functionName: this.target.functionArn,
      eventSourceArn: this.consumer?.attrConsumerArn ?? this.stream.streamArn,
      batchSize: props.batchSize,
      maximumBatchingWindowInSeconds: props.maxBatchingWindow?.toSeconds(),
      startingPosition: props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      startingPositionTimestamp: props.startingPositionTimestamp,
      parallelizationFactor: props.parallelizationFactor,
      bisectBatchOnFunctionError: props.bisectBatchOnError ?? true,
      maximumRetryAttempts: props.retryAttempts ?? 10,
      maximumRecordAgeInSeconds: props.unlimitedRecordAge ? -1 : (props.maxRecordAge ?? Duration.days(1)).toSeconds(),
      tumblingWindowInSeconds: props.tumblingWindow?.toSeconds(),
      functionResponseTypes: props.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
      filterCriteria: props.filters?.length ? { filters: props.filters } : undefined,
      kmsKeyArn: props.filterEncryption?.keyArn,
      enabled: props.enabled,
      metricsConfig: props.metrics?.length ? { metrics: props.metrics } : undefined,
      destinationConfig: dest.destination ? { onFailure: { destination: dest.destination } } : undefined,
    });
    // Lambda checks the role's permissions when the mapping is created.
    this.eventSourceMapping.node.addDependency(this.policy);
    this.eventSourceMappingId = this.eventSourceMapping.eventSourceMappingRef.eventSourceMappingId;
    this.eventSourceMappingArn = this.eventSourceMapping.eventSourceMappingRef.eventSourceMappingArn;

    this.mappingMetricTypes = props.metrics ?? [];
    this.healthCheck = watchMappings(this, props, [this.eventSourceMapping], [this.eventSourceMappingArn], 'Kinesis');
    this.mappingHealthFunction = this.healthCheck?.function;
    this.mappingHealthAlarm = this.healthCheck?.alarm;
    this.alarms =
      (props.alarms ?? true) ? [...this.createAlarms(props), ...(this.mappingHealthAlarm ? [this.mappingHealthAlarm] : [])] : [];
    this.acknowledgeNagFindings();
  }

  /**
   * `MappingHealthy` (namespace CdkKafkaLambda), written every 5 minutes by the mapping health function: 1 when the
   * mapping is Creating, Enabling, Enabled or Updating and its LastProcessingResult names no PROBLEM, else 0.
   * @default - minimum over 5 minutes
   */
  public metricMappingHealthy(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return mappingHealthyMetric(this, this.eventSourceMappingId, props);
  }

  /**
   * A CloudWatch dashboard of the trigger (created on the first call; later calls return it): IteratorAge, the
   * mapping's own metrics (those `metrics` turns on), the dispatcher's records (when the target is a dispatcher), the
   * target's errors and throttles, the on-failure queue's depth (an SQS destination) and the mapping's health.
   */
  public dashboard(options?: TriggerDashboardOptions): cloudwatch.Dashboard {
    this.createdDashboard ??= createTriggerDashboard(
      this,
      'Dashboard',
      {
        lag: this.metricIteratorAge(),
        mappingMetrics: this.mappingMetricTypes.flatMap((type) =>
          (DASHBOARD_MAPPING_METRICS[type] ?? []).map((name) => this.metric(name)),
        ),
        dispatcherService: this.dispatcherService,
        target: this.target,
        onFailureQueue: this.onFailureQueue,
        health: this.healthCheck ? [this.metricMappingHealthy()] : [],
        healthAlarm: this.mappingHealthAlarm,
      },
      options,
    );
    return this.createdDashboard;
  }

  /** IteratorAge of the target function (milliseconds): how old the last record of a batch was when it finished. */
  public metricIteratorAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return consumerLagMetric(this.target, 'IteratorAge', props);
  }

  /**
   * An ESM metric (with `metrics` enabled) of the mapping, e.g. PolledEventCount, FilteredOutEventCount,
   * FailedInvokeEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount.
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return lambdaMetric(metricName, { EventSourceMappingUUID: this.eventSourceMappingId }, cloudwatch.Stats.SUM, props);
  }

  /** Records the mapping polled (EventCount metrics). */
  public metricPolledEventCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('PolledEventCount', props);
  }

  /** Records whose invoke failed (ErrorCount metrics). */
  public metricFailedInvokeEventCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('FailedInvokeEventCount', props);
  }

  /** Records sent to the on-failure destination (ErrorCount metrics). */
  public metricOnFailureDestinationDeliveredEventCount(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('OnFailureDestinationDeliveredEventCount', props);
  }

  private fail(prop: string, value: unknown, fix: string): never {
    throw new ValidationError(this, prop, value, fix);
  }

  private validate(props: KinesisTriggerProps): void {
    this.validateDispatcher(props);
    this.validateLimits(props);
    this.validatePosition(props);
    this.validateOptions(props);
  }

  private validateDispatcher(props: KinesisTriggerProps): void {
    // A dispatcher target learns the factor (it keeps what is done per range of a shard only when the shard's batches
    // come one at a time) and tells whether it answers with partial batch responses.
    const target = DispatcherTarget.of(props.target);
    if (target === undefined) noteUnboundTrigger(props.target, this);
    const dispatcher = target?.bindTrigger(this, {
      sourceKind: DispatcherSourceKind.KINESIS,
      parallelizationFactor: props.parallelizationFactor,
    });
    this.dispatcherService = dispatcher?.metricsServiceName;
    const unread = unreadPartialBatchResponses(dispatcher, props.reportBatchItemFailures, '');
    if (unread) this.fail('reportBatchItemFailures', props.reportBatchItemFailures, unread);
  }

  /** The event source mapping's bounds (ESM_LIMITS). */
  private validateLimits(props: KinesisTriggerProps): void {
    const n = (prop: string, v: number | undefined, min: number, max: number, extra = '') => {
      if (v !== undefined && !Token.isUnresolved(v) && (!Number.isInteger(v) || v < min || v > max)) {
        this.fail(prop, v, `use an integer from ${min} to ${max}${extra}`);
      }
    };
    const seconds = (prop: string, d: Duration | undefined, min: number, max: number, fix: string) => {
      const s = d?.toSeconds();
      if (s !== undefined && !Token.isUnresolved(s) && (s < min || s > max)) this.fail(prop, `${s} seconds`, fix);
    };
    n('batchSize', props.batchSize, ...ESM_LIMITS.batchSize);
    seconds(
      'maxBatchingWindow',
      props.maxBatchingWindow,
      ...ESM_LIMITS.maxBatchingWindowSeconds,
      `use at most Duration.seconds(${ESM_LIMITS.maxBatchingWindowSeconds[1]})`,
    );
    n('parallelizationFactor', props.parallelizationFactor, ...ESM_LIMITS.parallelizationFactor);
    if (props.retryAttempts !== -1) n('retryAttempts', props.retryAttempts, ...ESM_LIMITS.retryAttempts, ', or -1 for infinite');
    seconds(
      'maxRecordAge',
      props.maxRecordAge,
      ...ESM_LIMITS.maxRecordAgeSeconds,
      `use ${recordAgeRange()}, or unlimitedRecordAge: true`,
    );
    seconds(
      'tumblingWindow',
      props.tumblingWindow,
      ...ESM_LIMITS.tumblingWindowSeconds,
      `use at most Duration.seconds(${ESM_LIMITS.tumblingWindowSeconds[1]})`,
    );
  }

  private validatePosition(props: KinesisTriggerProps): void {
    const position = props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
    if (position === lambda.StartingPosition.AT_TIMESTAMP && props.startingPositionTimestamp === undefined) {
      this.fail('startingPositionTimestamp', undefined, 'AT_TIMESTAMP needs the time to start from, in Unix seconds');
    }
    if (position !== lambda.StartingPosition.AT_TIMESTAMP && props.startingPositionTimestamp !== undefined) {
      this.fail(
        'startingPositionTimestamp',
        props.startingPositionTimestamp,
        `it applies to AT_TIMESTAMP only; set startingPosition to AT_TIMESTAMP or remove it (startingPosition is ${position})`,
      );
    }
  }

  /** Options that exclude or need one another, and the warnings of the riskier ones. */
  private validateOptions(props: KinesisTriggerProps): void {
    if (props.consumerName !== undefined) {
      if (!props.enhancedFanOut)
        this.fail(
          'consumerName',
          props.consumerName,
          'it names the enhanced fan-out consumer; set enhancedFanOut: true or remove it',
        );
      if (!Token.isUnresolved(props.consumerName) && !CONSUMER_NAME.test(props.consumerName))
        this.fail('consumerName', props.consumerName, 'use 1–128 characters of [a-zA-Z0-9_.-]');
    }
    if (props.unlimitedRecordAge && props.maxRecordAge)
      this.fail('maxRecordAge', props.maxRecordAge.toHumanString(), 'unlimitedRecordAge is set too; remove one of them');
    if (props.discardFailedBatches && props.onFailure)
      this.fail('onFailure', props.onFailure.kind, 'discardFailedBatches is set too; remove one of them');
    if (props.onFailure?.kind === OnFailureDestinationKind.KAFKA) {
      this.fail(
        'onFailure',
        `kafka://${props.onFailure.topicName}`,
        'a Kinesis event source sends failed batches to SQS, SNS or S3 only; use OnFailureDestination.sqs(), .sns(topic) or .s3()',
      );
    }
    if (props.filterEncryption && !props.filters?.length)
      this.fail('filterEncryption', props.filterEncryption.keyArn, 'it encrypts filters; add filters or remove it');
    if (props.retryAttempts === -1 && props.unlimitedRecordAge) {
      Annotations.of(this).addWarningV2(
        'cdk-kafka-lambda:kinesisUnboundedRetries',
        'retryAttempts -1 with unlimitedRecordAge retries a failing batch until the stream expires its records: one bad record stalls its shard for the whole retention period.',
      );
    }
    if (props.discardFailedBatches) {
      Annotations.of(this).addWarningV2(
        'cdk-kafka-lambda:kinesisDiscardFailedBatches',
        'discardFailedBatches: batches that fail all retries or exceed maxRecordAge are dropped with no record of which sequence numbers were lost.',
      );
    }
  }

  private configureDestination(props: KinesisTriggerProps): { destination?: string; queue?: sqs.IQueue; bucket?: s3.IBucket } {
    if (props.discardFailedBatches) return {};
    return bindOnFailure(this, props.onFailure ?? OnFailureDestination.sqs(), { policy: this.policy, role: this.target.role! });
  }

  private createAlarms(props: KinesisTriggerProps): cloudwatch.Alarm[] {
    return [
      new cloudwatch.Alarm(this, 'IteratorAgeAlarm', {
        alarmDescription: `Kinesis consumer of ${this.node.path} falls behind: IteratorAge above the threshold for 5 minutes`,
        metric: this.metricIteratorAge(),
        threshold: (props.iteratorAgeAlarmThreshold ?? Duration.minutes(5)).toMilliseconds(),
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      ...errorAlarms(
        this,
        this.target,
        this.onFailureQueue,
        `Discarded Kinesis batches of ${this.node.path} wait in the on-failure queue`,
      ),
    ];
  }

  /** Acknowledges, with reasons, the cdk-nag AwsSolutions findings this construct causes on purpose. */
  private acknowledgeNagFindings(): void {
    acknowledgeWildcards(this.policy, () => 'S3 on-failure objects get keys Lambda chooses.');
    acknowledgeOnFailureFindings(this, this.onFailureQueue, this.onFailureBucket, 'Kinesis');
  }
}

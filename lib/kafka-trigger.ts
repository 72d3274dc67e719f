import { Annotations, Duration, Fn, Lazy, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { KafkaAuth, KafkaAuthMethod } from './kafka-auth';
import { KafkaCluster, KafkaClusterKind } from './kafka-cluster';
import { OnFailureDestination, OnFailureDestinationKind } from './kafka-destination';
import { KafkaDispatcher } from './dispatcher';
import { ValidationError } from './private/errors';
import { KafkaAuthSetup, secretArnPattern } from './private/kafka-auth-setup';
import { IAM4_BASIC_EXECUTION, acknowledgeCreatedSecrets, acknowledgeWildcards } from './private/nag';
import { unreadPartialBatchResponses } from './private/partial-batch';
import { EndpointNeed, EVENT_SOURCE_GROUPS_METADATA, NAT_EGRESS_METADATA, provideEndpoints } from './private/vpc-endpoints';
import { KafkaVpcEndpoints, KafkaVpcEndpointsMode } from './vpc-endpoints';

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
export interface KafkaTriggerProps {
  /** The cluster to read from. */
  readonly cluster: KafkaCluster;

  /**
   * The topics to read. Lambda takes one topic per event source mapping, so one mapping is created per topic.
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html#lambda-CreateEventSourceMapping-request-Topics
   */
  readonly topics: string[];

  /**
   * The function the mapping invokes: the dispatcher or your own. Its timeout must be 14 minutes or less.
   */
  readonly target: lambda.IFunction;

  /**
   * How Lambda authenticates to the brokers.
   * @default - MSK: IAM; self-managed: SASL/SCRAM-SHA-512 with a created secret
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly auth?: KafkaAuth;

  /**
   * Largest number of records per batch, 1–10000.
   * @default 100
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
   */
  readonly batchSize?: number;

  /**
   * How long to gather records before invoking, at most 300 seconds.
   * @default - 500 ms (the Kafka default)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching
   */
  readonly maxBatchingWindow?: Duration;

  /**
   * Where to start reading a topic the consumer group has no offsets for.
   * TRIM_HORIZON by default because LATEST can skip records produced while the mapping is created.
   * @default lambda.StartingPosition.TRIM_HORIZON
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-starting-positions.html
   */
  readonly startingPosition?: lambda.StartingPosition;

  /**
   * With AT_TIMESTAMP: the time to start from, in Unix seconds.
   * @default - required with AT_TIMESTAMP only
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-starting-positions.html
   */
  readonly startingPositionTimestamp?: number;

  /**
   * The consumer group to join: 1–200 characters of `[a-zA-Z0-9-/*:_+=.@-]`, unique among your Kafka
   * event sources. Only with a single topic.
   * @default - a name derived from the construct path (plus the topic), so ACLs and IAM can name it
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-process.html#services-smaa-topic-add
   */
  readonly consumerGroupId?: string;

  /**
   * Consumer group (Stream) or share group (Queue) consumption; self-managed clusters only. In Queue mode
   * the starting position and batching window do not apply.
   * @default KafkaConsumptionMode.STREAM
   * @see https://docs.aws.amazon.com/lambda/latest/dg/polling-kafka-queue.html
   */
  readonly consumptionMode?: KafkaConsumptionMode;

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
   * ESM metrics to emit (EventCount, ErrorCount, KafkaMetrics).
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
   */
  readonly metrics?: lambda.MetricType[];

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
   * Let the function report failed records (ReportBatchItemFailures). Provisioned mode only.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   */
  readonly reportBatchItemFailures?: boolean;

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
   * Create CloudWatch alarms: OffsetLag, function errors, destination queue depth.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
   */
  readonly alarms?: boolean;

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

/** Construct id of the AwsCustomResource singleton provider (aws-cdk-lib/custom-resources). */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';
const CONSUMER_GROUP_ID = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;
const TOPIC_NAME = /^[^.]([a-zA-Z0-9\-_.]+)$/;

/**
 * Wires Kafka topics of a self-managed cluster or Amazon MSK to a Lambda function: one event source
 * mapping per topic, the auth secrets, security group rules and VPC endpoints, on-failure destination,
 * least-privilege grants, alarms and a deploy-time dry-run invoke.
 *
 * @example
 * declare const fn: lambda.IFunction;
 * declare const vpc: ec2.IVpc;
 * new KafkaTrigger(this, 'Orders', {
 *   cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'], vpc }),
 *   topics: ['orders'],
 *   target: fn,
 *   onFailure: OnFailureDestination.sqs(),
 * });
 */
export class KafkaTrigger extends Construct implements ec2.IConnectable {
  /** One event source mapping per topic, in the order of `topics`. */
  public readonly eventSourceMappings: lambda.CfnEventSourceMapping[];
  /** The mappings' ids (UUIDs), in the order of `topics`. */
  public readonly eventSourceMappingIds: string[];
  /** The mappings' ARNs, in the order of `topics`. */
  public readonly eventSourceMappingArns: string[];
  /** The consumer group of each mapping, in the order of `topics`. */
  public readonly consumerGroupIds: string[];
  /** The auth secret (created or given), if the auth method uses one. */
  public readonly authSecret?: secretsmanager.ISecret;
  /** The root CA secret (created or given), if any. */
  public readonly rootCaSecret?: secretsmanager.ISecret;
  /** The customer managed key of the secrets this construct created. */
  public readonly secretsKey?: kms.Key;
  /** The security group created for the event source, if one was. */
  public readonly securityGroup?: ec2.SecurityGroup;
  /** The security group of the created VPC endpoints (shared by the triggers of a stack in the same VPC). */
  public readonly endpointSecurityGroup?: ec2.SecurityGroup;
  /** The created VPC endpoints this trigger uses, by service (`lambda`, `sts`, `secretsManager`, `sqs`, `sns`, `s3`); shared per VPC and stack. */
  public readonly vpcEndpoints: { [service: string]: ec2.InterfaceVpcEndpoint };
  /** The on-failure queue (created or given), for an SQS destination. */
  public readonly onFailureQueue?: sqs.IQueue;
  /** The on-failure bucket (created or given), for an S3 destination. */
  public readonly onFailureBucket?: s3.IBucket;
  /** The policy holding every grant of the event source, attached to the target's role. */
  public readonly policy: iam.Policy;
  /** The alarms (empty when `alarms` is false). */
  public readonly alarms: cloudwatch.Alarm[];
  /** The deploy-time dry-run invoke, unless turned off. */
  public readonly dryRunCheck?: cr.AwsCustomResource;
  /** The event source's security groups (self-managed VPC, or the MSK cluster's when given). */
  public readonly connections: ec2.Connections;
  /** The broker ports the event source connects to (empty when the bootstrap servers are only known at deploy time). */
  public readonly brokerPorts: number[];

  private readonly target: lambda.IFunction;
  private readonly auth: KafkaAuth;
  private readonly cluster: KafkaCluster;
  private readonly clusterArn?: string;
  private readonly schemaRegistryConfig?: lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty;
  /** Metadata on each mapping: how the event source reaches AWS APIs, for reviewers and the reachability test. */
  private readonly eventSourceMetadata: { [key: string]: unknown } = {};

  constructor(scope: Construct, id: string, props: KafkaTriggerProps) {
    super(scope, id);
    this.cluster = props.cluster;
    this.target = props.target;
    const msk = props.cluster.kind === KafkaClusterKind.MSK;
    this.auth = props.auth ?? (msk ? KafkaAuth.iam() : KafkaAuth.scram512());
    const role = props.target.role;
    if (!role) {
      throw new ValidationError(this, 'target.role', undefined,
        'the event source uses the function\'s execution role; import the function with lambda.Function.fromFunctionAttributes({ functionArn, role })');
    }

    this.validateEsmOptions(props);
    const authSetup = new KafkaAuthSetup(this, this.auth, this.cluster, (prop, value, fix) => this.fail(prop, value, fix));
    this.clusterArn = msk ? authSetup.mskClusterArn() : undefined;
    authSetup.validate();
    this.brokerPorts = authSetup.brokerPorts();
    this.consumerGroupIds = this.resolveConsumerGroupIds(props);

    this.policy = new iam.Policy(this, 'SourceAccessPolicy');
    this.policy.attachToRole(role);

    // Secrets
    const created = authSetup.createSecrets();
    this.secretsKey = created.key;
    this.authSecret = created.authSecret;
    this.rootCaSecret = created.rootCaSecret;
    for (const secret of [this.authSecret, this.rootCaSecret]) if (secret) this.grantSecretRead(secret);

    // Network
    const net = this.configureNetwork();
    this.securityGroup = net.createdSecurityGroup;
    this.connections = new ec2.Connections({ securityGroups: net.securityGroups, defaultPort: this.brokerPorts.length ? ec2.Port.tcp(this.brokerPorts[0]) : undefined });

    // Cluster access grants
    this.grantClusterAccess(props.topics);

    // Destination
    const dest = this.configureDestination(props);
    this.onFailureQueue = dest.queue;
    this.onFailureBucket = dest.bucket;

    // Schema registry: bound once; the mappings share its configuration.
    this.schemaRegistryConfig = props.schemaRegistry ? this.bindSchemaRegistry(props.schemaRegistry) : undefined;

    // VPC endpoints
    const endpoints = this.configureEndpoints(props, net, dest.endpoint);
    this.vpcEndpoints = endpoints.created;
    this.endpointSecurityGroup = endpoints.securityGroup;

    if (props.filterEncryption) props.filterEncryption.grantDecrypt(new iam.ServicePrincipal('lambda.amazonaws.com'));

    // Deploy-time check
    if (props.dryRunCheck ?? true) this.dryRunCheck = this.createDryRunCheck();

    // Mappings
    this.eventSourceMappings = props.topics.map((topic, i) => this.createMapping(props, topic, this.consumerGroupIds[i], net, dest.destination));
    this.eventSourceMappingIds = this.eventSourceMappings.map((m) => m.eventSourceMappingRef.eventSourceMappingId);
    this.eventSourceMappingArns = this.eventSourceMappings.map((m) => m.eventSourceMappingRef.eventSourceMappingArn);

    this.alarms = (props.alarms ?? true) ? this.createAlarms(props) : [];
    this.acknowledgeNagFindings();
  }

  /** OffsetLag of the target function: records behind the latest offset, across its Kafka mappings. */
  public metricOffsetLag(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName: 'OffsetLag',
      dimensionsMap: { FunctionName: this.target.functionName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: Duration.minutes(1),
      ...props,
    });
  }

  /**
   * An ESM metric (with `metrics` enabled) of the mapping of one topic, e.g. PolledEventCount,
   * FilteredOutEventCount, FailedInvokeEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount.
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
   */
  public metric(metricName: string, props: KafkaTriggerMetricOptions = {}): cloudwatch.Metric {
    const { topic, ...options } = props;
    const i = topic === undefined ? 0 : this.topicIndex(topic);
    return new cloudwatch.Metric({
      namespace: 'AWS/Lambda',
      metricName,
      dimensionsMap: { EventSourceMappingUUID: this.eventSourceMappingIds[i] },
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(1),
      ...options,
    });
  }

  /** Records the mapping polled (EventCount metrics). */
  public metricPolledEventCount(props?: KafkaTriggerMetricOptions): cloudwatch.Metric {
    return this.metric('PolledEventCount', props);
  }

  /** Records whose invoke failed (ErrorCount metrics). */
  public metricFailedInvokeEventCount(props?: KafkaTriggerMetricOptions): cloudwatch.Metric {
    return this.metric('FailedInvokeEventCount', props);
  }

  /** Records sent to the on-failure destination (ErrorCount metrics). */
  public metricOnFailureDestinationDeliveredEventCount(props?: KafkaTriggerMetricOptions): cloudwatch.Metric {
    return this.metric('OnFailureDestinationDeliveredEventCount', props);
  }

  private topicIndex(topic: string): number {
    const i = this.eventSourceMappings.findIndex((m) => m.topics?.[0] === topic);
    if (i < 0) throw new ValidationError(this, 'topic', topic, `use one of the trigger's topics (${this.eventSourceMappings.map((m) => m.topics?.[0]).join(', ')})`);
    return i;
  }

  // ---------------------------------------------------------------------------------------------
  // Validation

  private fail(prop: string, value: unknown, fix: string): never {
    throw new ValidationError(this, prop, value, fix);
  }

  private validateEsmOptions(props: KafkaTriggerProps): void {
    if (props.topics.length === 0) this.fail('topics', props.topics, 'give at least one topic');
    if (new Set(props.topics).size !== props.topics.length) this.fail('topics', props.topics, 'list each topic once');
    for (const topic of props.topics) {
      if (!Token.isUnresolved(topic) && (topic.length > 249 || !TOPIC_NAME.test(topic))) {
        this.fail('topics', topic, 'a Kafka topic name has 2–249 characters of [a-zA-Z0-9._-] and does not start with "."');
      }
    }
    const n = (prop: string, v: number | undefined, min: number, max: number, extra = '') => {
      if (v !== undefined && !Token.isUnresolved(v) && (!Number.isInteger(v) || v < min || v > max)) {
        this.fail(prop, v, `use an integer from ${min} to ${max}${extra}`);
      }
    };
    n('batchSize', props.batchSize, 1, 10000);
    const window = props.maxBatchingWindow?.toSeconds();
    if (window !== undefined && !Token.isUnresolved(window) && window > 300) this.fail('maxBatchingWindow', `${window} seconds`, 'use at most Duration.seconds(300)');

    const position = props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
    if (position === lambda.StartingPosition.AT_TIMESTAMP && props.startingPositionTimestamp === undefined) {
      this.fail('startingPositionTimestamp', undefined, 'AT_TIMESTAMP needs the time to start from, in Unix seconds');
    }
    if (position !== lambda.StartingPosition.AT_TIMESTAMP && props.startingPositionTimestamp !== undefined) {
      this.fail('startingPositionTimestamp', props.startingPositionTimestamp, `it applies to AT_TIMESTAMP only; set startingPosition to AT_TIMESTAMP or remove it (startingPosition is ${position})`);
    }
    if (props.consumptionMode === KafkaConsumptionMode.QUEUE) {
      if (props.cluster.kind === KafkaClusterKind.MSK) this.fail('consumptionMode', props.consumptionMode, 'Queue mode exists for self-managed Kafka only; remove it for Amazon MSK');
      const notApplicable: Array<[string, unknown]> = [['startingPosition', props.startingPosition], ['startingPositionTimestamp', props.startingPositionTimestamp],
        ['maxBatchingWindow', props.maxBatchingWindow?.toHumanString()]];
      for (const [prop, value] of notApplicable) {
        if (value !== undefined) this.fail(prop, value, 'it does not apply in Queue consumption mode (share groups have no offsets to start from); remove it or use Stream');
      }
    }
    if (props.consumerGroupId !== undefined) {
      if (!Token.isUnresolved(props.consumerGroupId) && !CONSUMER_GROUP_ID.test(props.consumerGroupId)) {
        this.fail('consumerGroupId', props.consumerGroupId, 'use 1–200 characters of [a-zA-Z0-9-/*:_+=.@]');
      }
      if (props.topics.length > 1) {
        this.fail('consumerGroupId', props.consumerGroupId, `a consumer group id must be unique per event source mapping and ${props.topics.length} topics make ${props.topics.length} mappings; create one trigger per topic or leave it unset`);
      }
    }
    if (props.filterEncryption && !props.filters?.length) this.fail('filterEncryption', props.filterEncryption.keyArn, 'it encrypts filters; add filters or remove it');

    const pp = props.provisionedPollers;
    if (pp) {
      n('provisionedPollers.minimumPollers', pp.minimumPollers, 1, 200);
      n('provisionedPollers.maximumPollers', pp.maximumPollers, 1, 10000);
      if (pp.minimumPollers !== undefined && pp.maximumPollers !== undefined && !Token.isUnresolved(pp.minimumPollers)
        && !Token.isUnresolved(pp.maximumPollers) && pp.minimumPollers > pp.maximumPollers) {
        this.fail('provisionedPollers', pp, 'minimumPollers must not exceed maximumPollers');
      }
      if (pp.pollerGroupName !== undefined && !Token.isUnresolved(pp.pollerGroupName) && !/^[a-zA-Z0-9_-]{1,128}$/.test(pp.pollerGroupName)) {
        this.fail('provisionedPollers.pollerGroupName', pp.pollerGroupName, 'use 1–128 characters of [a-zA-Z0-9_-]');
      }
    } else {
      const provisionedOnly: Array<[string, unknown]> = [
        ['schemaRegistry', props.schemaRegistry], ['systemLogLevel', props.systemLogLevel], ['retryAttempts', props.retryAttempts],
        ['bisectBatchOnError', props.bisectBatchOnError], ['maxRecordAge', props.maxRecordAge?.toHumanString()],
        ['reportBatchItemFailures', props.reportBatchItemFailures],
        ['onFailure', props.onFailure?.kind === OnFailureDestinationKind.KAFKA ? `kafka://${props.onFailure.topicName}` : undefined],
      ];
      for (const [prop, value] of provisionedOnly) {
        if (value !== undefined) this.fail(prop, value === props.schemaRegistry ? 'a schema registry' : value, 'Lambda supports it for Kafka in provisioned mode only; set provisionedPollers (e.g. { minimumPollers: 1, maximumPollers: 10 }) or remove it');
      }
    }
    this.failOnRelayLoop(props);
    const unread = unreadPartialBatchResponses(props.target, props.reportBatchItemFailures, ' (with provisionedPollers)');
    if (unread) this.fail('reportBatchItemFailures', props.reportBatchItemFailures, unread);
    if (props.retryAttempts !== undefined && props.retryAttempts !== -1) n('retryAttempts', props.retryAttempts, 0, 10000, ', or -1 for infinite');
    const age = props.maxRecordAge?.toSeconds();
    if (age !== undefined && !Token.isUnresolved(age) && (age < 60 || age > 604800)) {
      this.fail('maxRecordAge', `${age} seconds`, 'use 60 seconds to 7 days (604800 seconds)');
    }
    if (props.onFailure?.kind === OnFailureDestinationKind.KAFKA) {
      const t = props.onFailure.topicName!;
      if (props.topics.includes(t)) this.fail('onFailure', `kafka://${t}`, 'the destination topic must differ from every source topic, or records would loop');
      if (!Token.isUnresolved(t) && !TOPIC_NAME.test(t)) this.fail('onFailure', `kafka://${t}`, 'a Kafka topic name has 2–249 characters of [a-zA-Z0-9._-]');
      // The CloudFormation schema sizes Destination for ARNs: at least 12 characters.
      if (!Token.isUnresolved(t) && t.length < 4) this.fail('onFailure', `kafka://${t}`, 'CloudFormation requires a destination of at least 12 characters; use a topic name of 4 or more characters');
    }
    const timeout = (props.target as lambda.Function).timeout?.toSeconds();
    if (timeout !== undefined && !Token.isUnresolved(timeout) && timeout > 840) {
      this.fail('target.timeout', `${timeout} seconds`, 'Kafka event source mappings support functions with a timeout of at most 14 minutes; lower it');
    }
  }

  /** A dispatcher target that relays to one of this trigger's topics would feed its own results back in. */
  private failOnRelayLoop(props: KafkaTriggerProps): void {
    const dispatcher = props.target.node.scope;
    const relay = dispatcher instanceof KafkaDispatcher ? dispatcher.relay : undefined;
    if (!relay || !sameCluster(relay.cluster, props.cluster)) return;
    for (const [prop, topic] of [['responseTopic', relay.responseTopic], ['errorTopic', relay.errorTopic]] as const) {
      if (topic !== undefined && props.topics.includes(topic)) {
        this.fail('topics', topic, `the target, KafkaDispatcher ${dispatcher!.node.path}, relays to ${topic} (relay.${prop}) on this cluster: `
          + 'every relayed record would be read and dispatched again, a loop. Relay to another topic or read other topics');
      }
    }
  }

  private resolveConsumerGroupIds(props: KafkaTriggerProps): string[] {
    if (props.consumerGroupId !== undefined) return [props.consumerGroupId];
    const base = Names.uniqueResourceName(this, { maxLength: 120, separator: '-' });
    return props.topics.map((t) => props.topics.length === 1 ? base : `${base}-${t}`.slice(0, 200));
  }

  // ---------------------------------------------------------------------------------------------
  // Secrets

  private grantSecretRead(secret: secretsmanager.ISecret): void {
    this.policy.addStatements(new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resources: [secretArnPattern(secret)],
    }));
    if (secret.encryptionKey) {
      this.policy.addStatements(new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [secret.encryptionKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
      }));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  private configureNetwork(): { securityGroups: ec2.ISecurityGroup[]; subnets: ec2.ISubnet[]; createdSecurityGroup?: ec2.SecurityGroup } {
    const vpc = this.cluster.vpc;
    const sm = this.cluster.selfManagedProps;
    const mp = this.cluster.mskProps;
    if (!vpc) {
      if (sm?.subnets || sm?.securityGroups) this.fail('cluster.vpc', undefined, 'subnets and securityGroups place the event source in a VPC; give the vpc too');
      return { securityGroups: mp?.securityGroups ?? [], subnets: [] };
    }
    let subnets: ec2.ISubnet[] = [];
    try {
      subnets = vpc.selectSubnets((sm ?? mp)!.subnets ?? {}).subnets;
    } catch {
      // selectSubnets throws for a subnet type the VPC lacks; report it like an empty selection.
    }
    if (subnets.length === 0) {
      this.fail('cluster.subnets', (sm ?? mp)!.subnets ?? 'the private subnets of the VPC', 'the selection matches no subnet of the VPC; select subnets that exist (e.g. { subnetType: ec2.SubnetType.PRIVATE_ISOLATED })');
    }
    let created: ec2.SecurityGroup | undefined;
    let groups = (sm ?? mp)!.securityGroups ?? [];
    if (sm && groups.length === 0) {
      created = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc,
        description: `Kafka event source of ${this.node.path}`,
        allowAllOutbound: false,
      });
      groups = [created];
    }
    // The rules Lambda documents, on created and given groups alike: broker port in from the event source's groups
    // and out to them, 443 out to all.
    if (this.brokerPorts.length === 0) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:brokerPortsUnknown',
        'The bootstrap servers are only known at deploy time, so are the broker ports: no broker port rules are added. '
        + 'The event source\'s security groups must allow the broker port in from and out to themselves.');
    }
    for (const group of groups) {
      for (const port of this.brokerPorts) {
        group.addIngressRule(group, ec2.Port.tcp(port), `Kafka broker port ${port} from the event source`);
        group.addEgressRule(group, ec2.Port.tcp(port), `Kafka broker port ${port} to the event source`);
      }
      group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Lambda, STS, Secrets Manager and the destination');
    }
    if (this.cluster.kind === KafkaClusterKind.SELF_MANAGED) this.grantEniAccess();
    // An MSK event source uses the cluster's groups, which the mapping does not name.
    if (mp && groups.length) this.eventSourceMetadata[EVENT_SOURCE_GROUPS_METADATA] = groups.map((g) => g.securityGroupId);
    return { securityGroups: groups, subnets, createdSecurityGroup: created };
  }

  private grantEniAccess(): void {
    // Lambda creates the event source's network interfaces with the execution role; their ids are unknown
    // before creation and the Describe* actions have no resource-level permissions.
    this.policy.addStatements(new iam.PolicyStatement({
      actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DeleteNetworkInterface',
        'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
      resources: ['*'],
    }));
  }

  // ---------------------------------------------------------------------------------------------
  // Cluster access (MSK)

  /** ARN of an MSK topic or group: the cluster ARN with the resource type swapped. */
  private mskResourceArn(type: 'topic' | 'group', name: string): string {
    const arn = this.clusterArn!;
    if (!Token.isUnresolved(arn)) return `${arn.replace(':cluster/', `:${type}/`)}/${name}`;
    const parts = Fn.split(':cluster/', arn);
    return Fn.join('', [Fn.select(0, parts), `:${type}/`, Fn.select(1, parts), `/${name}`]);
  }

  private grantClusterAccess(topics: string[]): void {
    if (this.cluster.kind !== KafkaClusterKind.MSK) return;
    const arn = this.clusterArn!;
    // What AWSLambdaMSKExecutionRole grants, scoped to the cluster.
    this.policy.addStatements(new iam.PolicyStatement({
      actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
      resources: [arn],
    }));
    this.grantEniAccess();
    if (this.auth.method !== KafkaAuthMethod.IAM) return;
    this.policy.addStatements(
      new iam.PolicyStatement({ actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'], resources: [arn] }),
      new iam.PolicyStatement({ actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], resources: topics.map((t) => this.mskResourceArn('topic', t)) }),
      new iam.PolicyStatement({ actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], resources: this.consumerGroupIds.map((g) => this.mskResourceArn('group', g)) }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Destination

  private configureDestination(props: KafkaTriggerProps): { destination?: string; queue?: sqs.IQueue; bucket?: s3.IBucket; endpoint?: EndpointNeed } {
    const d = props.onFailure;
    if (!d) return {};
    const role = this.target.role!;
    switch (d.kind) {
      case OnFailureDestinationKind.SQS: {
        const queue = d.queue ?? new sqs.Queue(this, 'OnFailureQueue', {
          encryption: sqs.QueueEncryption.SQS_MANAGED,
          enforceSSL: true,
          retentionPeriod: Duration.days(14),
        });
        this.policy.addStatements(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [queue.queueArn] }));
        if (queue.encryptionMasterKey) this.grantKey(queue.encryptionMasterKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
        return {
          destination: queue.queueArn, queue,
          endpoint: { key: 'sqs', label: 'SQS', statements: [new iam.PolicyStatement({ actions: ['sqs:SendMessage'], principals: [role], resources: [queue.queueArn] })] },
        };
      }
      case OnFailureDestinationKind.SNS: {
        const topic = d.topic!;
        this.policy.addStatements(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [topic.topicArn] }));
        if (topic.masterKey) this.grantKey(topic.masterKey, ['kms:Decrypt', 'kms:GenerateDataKey']);
        return {
          destination: topic.topicArn,
          endpoint: { key: 'sns', label: 'SNS', statements: [new iam.PolicyStatement({ actions: ['sns:Publish'], principals: [role], resources: [topic.topicArn] })] },
        };
      }
      case OnFailureDestinationKind.S3: {
        const bucket = d.bucket ?? new s3.Bucket(this, 'OnFailureBucket', {
          versioned: true,
          encryption: s3.BucketEncryption.S3_MANAGED,
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          enforceSSL: true,
        });
        this.policy.addStatements(
          new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: [bucket.arnForObjects('*')] }),
          // The current Lambda guide lists s3:ListBucket for S3 destinations besides s3:PutObject.
          new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [bucket.bucketArn] }),
        );
        if (bucket.encryptionKey) this.grantKey(bucket.encryptionKey, ['kms:GenerateDataKey']);
        return {
          destination: bucket.bucketArn, bucket,
          endpoint: { key: 's3', label: 'S3', statements: [new iam.PolicyStatement({ actions: ['s3:PutObject'], principals: [role], resources: [bucket.arnForObjects('*')] })] },
        };
      }
      case OnFailureDestinationKind.KAFKA: {
        const topic = d.topicName!;
        if (this.auth.method === KafkaAuthMethod.IAM) {
          this.policy.addStatements(new iam.PolicyStatement({
            actions: ['kafka-cluster:WriteData', 'kafka-cluster:DescribeTopic'],
            resources: [this.mskResourceArn('topic', topic)],
          }));
        }
        if (this.auth.method !== KafkaAuthMethod.IAM) {
          Annotations.of(this).addWarningV2('cdk-kafka-lambda:kafkaDestinationAcl',
            `Lambda writes failed records to topic ${topic} as the ${this.auth.method} user; grant that user Write and Describe on it in the cluster's ACLs.`);
        }
        return { destination: `kafka://${topic}` };
      }
    }
  }

  private grantKey(key: kms.IKey, actions: string[]): void {
    this.policy.addStatements(new iam.PolicyStatement({ actions, resources: [key.keyArn] }));
  }

  // ---------------------------------------------------------------------------------------------
  // VPC endpoints

  private configureEndpoints(
    props: KafkaTriggerProps,
    net: { securityGroups: ec2.ISecurityGroup[]; subnets: ec2.ISubnet[] },
    destinationNeed?: EndpointNeed,
  ): { created: { [service: string]: ec2.InterfaceVpcEndpoint }; securityGroup?: ec2.SecurityGroup } {
    const vpc = this.cluster.vpc;
    if (!vpc) return { created: {} };
    const mode = props.vpcEndpoints ?? KafkaVpcEndpoints.create();
    const role = this.target.role!;
    const lambdaPrincipal = new iam.ServicePrincipal('lambda.amazonaws.com');
    // Lambda invokes the function and assumes its role as the service; it reads secrets and writes to the
    // destination with the function's role.
    const needs: EndpointNeed[] = [
      { key: 'lambda', label: 'Lambda', statements: [new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], principals: [lambdaPrincipal], resources: [this.target.functionArn, `${this.target.functionArn}:*`] })] },
      { key: 'sts', label: 'STS', statements: [new iam.PolicyStatement({ actions: ['sts:AssumeRole'], principals: [lambdaPrincipal], resources: ['*'] })] },
    ];
    const secretArns = [this.authSecret, this.rootCaSecret].filter((s): s is secretsmanager.ISecret => !!s).map(secretArnPattern);
    // A Confluent schema registry's credentials are read through the same endpoint.
    for (const access of this.schemaRegistryConfig?.accessConfigs as lambda.CfnEventSourceMapping.SchemaRegistryAccessConfigProperty[] ?? []) {
      if (access.uri) secretArns.push(access.uri);
    }
    if (secretArns.length) {
      needs.push({ key: 'secretsManager', label: 'Secrets Manager', statements: [new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], principals: [role], resources: secretArns })] });
    }
    if (destinationNeed) needs.push(destinationNeed);
    const provided = provideEndpoints(this, {
      vpc, mode: mode.mode, existing: { ...mode.endpoints }, subnets: net.subnets, callerGroups: net.securityGroups,
      caller: `the Kafka event source of ${this.node.path}`, needs,
    });
    if (mode.mode === KafkaVpcEndpointsMode.NONE) this.eventSourceMetadata[NAT_EGRESS_METADATA] = 'nat';
    return {
      created: mode.mode === KafkaVpcEndpointsMode.CREATE ? provided.endpoints as { [service: string]: ec2.InterfaceVpcEndpoint } : {},
      securityGroup: provided.securityGroup,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Mapping, check, alarms

  private createMapping(props: KafkaTriggerProps, topic: string, consumerGroupId: string,
    net: { securityGroups: ec2.ISecurityGroup[]; subnets: ec2.ISubnet[] }, destination?: string): lambda.CfnEventSourceMapping {
    const id = props.topics.length === 1 ? 'EventSourceMapping' : `EventSourceMapping-${topic}`;
    const access: lambda.CfnEventSourceMapping.SourceAccessConfigurationProperty[] = [];
    if (this.authSecret) access.push({ type: this.auth.method, uri: this.authSecret.secretArn });
    if (this.rootCaSecret) access.push({ type: 'SERVER_ROOT_CA_CERTIFICATE', uri: this.rootCaSecret.secretArn });
    if (this.cluster.kind === KafkaClusterKind.SELF_MANAGED && this.cluster.vpc) {
      for (const s of net.subnets) access.push({ type: 'VPC_SUBNET', uri: `subnet:${s.subnetId}` });
      for (const g of net.securityGroups) access.push({ type: 'VPC_SECURITY_GROUP', uri: `security_group:${g.securityGroupId}` });
    }
    const kafkaConfig: { consumerGroupId: string; consumptionMode?: string; schemaRegistryConfig?: lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty } = {
      consumerGroupId, schemaRegistryConfig: this.schemaRegistryConfig,
    };
    if (props.consumptionMode) kafkaConfig.consumptionMode = props.consumptionMode;
    const queue = props.consumptionMode === KafkaConsumptionMode.QUEUE;
    const mapping = new lambda.CfnEventSourceMapping(this, id, {
      functionName: this.target.functionArn,
      topics: [topic],
      eventSourceArn: this.clusterArn,
      selfManagedEventSource: this.cluster.kind === KafkaClusterKind.SELF_MANAGED
        ? { endpoints: { kafkaBootstrapServers: this.cluster.selfManagedProps!.bootstrapServers } } : undefined,
      amazonManagedKafkaEventSourceConfig: this.cluster.kind === KafkaClusterKind.MSK ? kafkaConfig : undefined,
      selfManagedKafkaEventSourceConfig: this.cluster.kind === KafkaClusterKind.SELF_MANAGED ? kafkaConfig : undefined,
      sourceAccessConfigurations: access.length ? access : undefined,
      batchSize: props.batchSize,
      maximumBatchingWindowInSeconds: props.maxBatchingWindow?.toSeconds(),
      startingPosition: queue ? undefined : props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON,
      startingPositionTimestamp: props.startingPositionTimestamp,
      enabled: props.enabled,
      // lambda.FilterCriteria.filter() already returns { pattern: '<json>' }.
      filterCriteria: props.filters?.length ? { filters: props.filters } : undefined,
      kmsKeyArn: props.filterEncryption?.keyArn,
      provisionedPollerConfig: props.provisionedPollers,
      metricsConfig: props.metrics?.length ? { metrics: props.metrics } : undefined,
      loggingConfig: props.systemLogLevel ? { systemLogLevel: props.systemLogLevel } : undefined,
      maximumRetryAttempts: props.retryAttempts,
      bisectBatchOnFunctionError: props.bisectBatchOnError,
      maximumRecordAgeInSeconds: props.maxRecordAge?.toSeconds(),
      functionResponseTypes: props.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
      destinationConfig: destination ? { onFailure: { destination } } : undefined,
    });
    for (const [key, value] of Object.entries(this.eventSourceMetadata)) mapping.addMetadata(key, value);
    // Lambda checks the role's permissions (and the dry run the function) when the mapping is created.
    mapping.node.addDependency(this.policy);
    if (this.dryRunCheck) mapping.node.addDependency(this.dryRunCheck);
    return mapping;
  }

  private bindSchemaRegistry(registry: lambda.ISchemaRegistry): lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty {
    // aws-cdk-lib's registries only read the function from bind() (to grant it access), not the mapping.
    const mapping = lambda.EventSourceMapping.fromEventSourceMappingId(this, 'SchemaRegistryMapping', Lazy.string({ produce: () => this.eventSourceMappingIds[0] }));
    // Their grants go to the one source access policy, not to the function's default policy.
    const policy = this.policy;
    const principal: iam.IPrincipal = {
      grantPrincipal: undefined as unknown as iam.IPrincipal,
      assumeRoleAction: this.target.role!.assumeRoleAction,
      policyFragment: this.target.role!.policyFragment,
      principalAccount: this.target.role!.principalAccount,
      addToPrincipalPolicy: (statement) => {
        policy.addStatements(statement);
        return { statementAdded: true, policyDependable: policy };
      },
    };
    (principal as { grantPrincipal: iam.IPrincipal }).grantPrincipal = principal;
    const handler = new Proxy(this.target, {
      get: (target, name, receiver) => name === 'grantPrincipal' ? principal
        : name === 'addToRolePolicy' ? (statement: iam.PolicyStatement) => policy.addStatements(statement)
          : Reflect.get(target, name, receiver),
    });
    const config = registry.bind(mapping, handler);
    return {
      schemaRegistryUri: config.schemaRegistryUri,
      eventRecordFormat: config.eventRecordFormat.value,
      accessConfigs: config.accessConfigs?.map((a) => ({ type: a.type.type, uri: a.uri })),
      schemaValidationConfigs: config.schemaValidationConfigs.map((v) => ({ attribute: v.attribute.value })),
    };
  }

  private createDryRunCheck(): cr.AwsCustomResource {
    const call: cr.AwsSdkCall = {
      service: 'Lambda',
      action: 'invoke',
      parameters: { FunctionName: this.target.functionArn, InvocationType: 'DryRun' },
      physicalResourceId: cr.PhysicalResourceId.of(`dry-run-${this.node.addr}`),
      outputPaths: ['StatusCode'],
    };
    return new cr.AwsCustomResource(this, 'DryRunCheck', {
      onCreate: call,
      onUpdate: call,
      installLatestAwsSdk: false,
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.target.functionArn] }),
      ]),
    });
  }

  private createAlarms(props: KafkaTriggerProps): cloudwatch.Alarm[] {
    const alarms = [
      new cloudwatch.Alarm(this, 'OffsetLagAlarm', {
        alarmDescription: `Kafka consumer of ${this.node.path} falls behind: OffsetLag above the threshold for 5 minutes`,
        metric: this.metricOffsetLag(),
        threshold: props.offsetLagAlarmThreshold ?? 1000,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'ErrorsAlarm', {
        alarmDescription: `The function of ${this.node.path} returned errors`,
        metric: this.target.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    if (this.onFailureQueue) {
      alarms.push(new cloudwatch.Alarm(this, 'OnFailureQueueDepthAlarm', {
        alarmDescription: `Failed Kafka batches of ${this.node.path} wait in the on-failure queue`,
        metric: this.onFailureQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }));
    }
    return alarms;
  }

  /**
   * Acknowledges the cdk-nag AwsSolutions findings this construct causes on purpose, each with its reason,
   * through aws-cdk-lib's Validations (what cdk-nag 3 reads), so the library needs no cdk-nag dependency.
   */
  private acknowledgeNagFindings(): void {
    const ack = (construct: Construct | undefined, id: string, reason: string) => {
      if (construct) Validations.of(construct).acknowledge({ id: id.startsWith('AwsSolutions::') ? id : `AwsSolutions::AwsSolutions-${id}`, reason });
    };
    acknowledgeWildcards(this.policy, () => 'Lambda creates the event source network interfaces with this role: their ids are unknown before creation and '
      + 'ec2:Describe* has no resource-level permissions; S3 on-failure objects get Lambda-chosen keys; an imported secret is matched by its ARN suffix.');
    acknowledgeCreatedSecrets(this, [this.authSecret, this.rootCaSecret]);
    if (this.onFailureBucket instanceof s3.Bucket && this.onFailureBucket.node.scope === this) {
      ack(this.onFailureBucket, 'S1', 'The bucket only receives failed-batch records from Lambda; access logs would need a second bucket the user did not ask for.');
    }
    if (this.onFailureQueue instanceof sqs.Queue && this.onFailureQueue.node.scope === this) {
      ack(this.onFailureQueue, 'SQS3', 'This queue is itself the dead-letter destination of the Kafka event source.');
    }
    // The AwsCustomResource provider is a stack-level singleton with the basic execution managed policy.
    ack(Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID), IAM4_BASIC_EXECUTION,
      'The AwsCustomResource provider of aws-cdk-lib writes its logs with AWSLambdaBasicExecutionRole; its only other permission is the scoped dry-run invoke.');
  }
}

/** Whether two cluster descriptions name the same cluster: the same object, brokers or MSK cluster. */
function sameCluster(a: KafkaCluster, b: KafkaCluster): boolean {
  if (a === b) return true;
  const arn = (c: KafkaCluster) => c.mskProps?.cluster?.attrArn ?? c.mskProps?.clusterArn;
  if (arn(a) !== undefined && arn(a) === arn(b)) return true;
  const servers = (c: KafkaCluster) => Token.isUnresolved(c.bootstrapServers) ? [] : c.bootstrapServers ?? [];
  return servers(a).some((s) => servers(b).includes(s));
}

import { Annotations, Aspects, Names, Stack, Token } from 'aws-cdk-lib';
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
import { DispatcherSourceKind, DispatcherTarget } from './dispatcher-target';
import { KafkaAuth, KafkaAuthMethod } from './kafka-auth';
import { KafkaCluster, KafkaClusterKind } from './kafka-cluster';
import { KafkaConsumptionMode, KafkaTriggerMetricOptions, KafkaTriggerProps } from './kafka-trigger-props';
import { TriggerDashboardOptions } from './trigger-props';
import { DASHBOARD_MAPPING_METRICS, createTriggerDashboard } from './private/dashboard';
import { MappingHealthCheck, mappingHealthyMetric, watchMappings } from './private/mapping-health';
import { ValidationError } from './private/errors';
import { KafkaAuthSetup, secretArnPattern } from './private/kafka-auth-setup';
import { IAM4_BASIC_EXECUTION, acknowledgeCreatedSecrets, acknowledgeFinding, acknowledgeWildcards } from './private/nag';
import { noteUnboundTrigger } from './private/dispatcher-target';
import {
  claimConsumerGroups,
  pinnedGroup,
  validateDispatcherAnswers,
  validateKafkaTriggerProps,
} from './private/kafka-trigger-validation';
import { bindSchemaRegistry, createDryRunCheck, eventSourceNetwork } from './private/kafka-trigger-parts';
import { mskResourceArn } from './private/msk';
import { ownerClusterPolicy } from './private/cross-account';
import {
  acknowledgeOnFailureFindings,
  bindOnFailure,
  consumerLagMetric,
  errorAlarms,
  lambdaMetric,
} from './private/trigger-shared';
import {
  EndpointNeed,
  EVENT_SOURCE_GROUPS_METADATA,
  NAT_EGRESS_METADATA,
  eniStatement,
  provideEndpoints,
} from './private/vpc-endpoints';
import { KafkaVpcEndpoints, KafkaVpcEndpointsMode } from './vpc-endpoints';

/** Construct id of the AwsCustomResource singleton provider (aws-cdk-lib/custom-resources). */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

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
  /** The alarms (empty when `alarms` is false), the mapping health alarm among them. */
  public readonly alarms: cloudwatch.Alarm[];
  /** The alarm on `MappingHealthy`: a mapping stopped or Lambda reports a problem (unless `mappingHealth` or `alarms` is false). */
  public readonly mappingHealthAlarm?: cloudwatch.Alarm;
  /** The scheduled function that reads the mappings' state and writes `MappingHealthy` (unless `mappingHealth` is false). */
  public readonly mappingHealthFunction?: lambda.Function;
  /** The deploy-time dry-run invoke, unless turned off. */
  public readonly dryRunCheck?: cr.AwsCustomResource;
  /** The event source's security groups (self-managed VPC, or the MSK cluster's when given). */
  public readonly connections: ec2.Connections;
  /** The broker ports the event source connects to (empty when the bootstrap servers are only known at deploy time). */
  public readonly brokerPorts: number[];
  /**
   * For an MSK cluster in another account (`vpcConnectionArn`): the cluster policy its owner attaches, also the stack
   * output `OwnerClusterPolicy`.
   */
  public readonly ownerClusterPolicy?: iam.PolicyDocument;

  private readonly target: lambda.IFunction;
  private readonly auth: KafkaAuth;
  private readonly cluster: KafkaCluster;
  private readonly clusterArn?: string;
  /** What the mappings read from: the cluster, or the managed VPC connection to a cluster in another account. */
  private readonly eventSourceArn?: string;
  private readonly schemaRegistryConfig?: lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty;
  /** Metadata on each mapping: how the event source reaches AWS APIs, for reviewers and the reachability test. */
  private readonly eventSourceMetadata: { [key: string]: unknown } = {};
  private readonly mappingMetricTypes: string[];
  private readonly healthCheck?: MappingHealthCheck;
  /** The `service` dimension of the dispatcher's metrics, when the target is a dispatcher. */
  private dispatcherService?: string;
  private createdDashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: KafkaTriggerProps) {
    super(scope, id);
    this.cluster = props.cluster;
    this.target = props.target;
    const msk = props.cluster.kind === KafkaClusterKind.MSK;
    this.auth = props.auth ?? (msk ? KafkaAuth.iam() : KafkaAuth.scram512());
    const role = props.target.role;
    if (!role) {
      throw new ValidationError(
        this,
        'target.role',
        undefined,
        "the event source uses the function's execution role; import the function with lambda.Function.fromFunctionAttributes({ functionArn, role })",
      );
    }

    validateKafkaTriggerProps(props, (prop, value, fix) => this.fail(prop, value, fix));
    const authSetup = new KafkaAuthSetup(this, this.auth, this.cluster, (prop, value, fix) => this.fail(prop, value, fix));
    this.clusterArn = msk ? authSetup.mskClusterArn() : undefined;
    authSetup.validate();
    const vpcConnectionArn = msk ? authSetup.mskVpcConnectionArn() : undefined;
    this.eventSourceArn = vpcConnectionArn ?? this.clusterArn;
    this.brokerPorts = authSetup.brokerPorts();
    this.consumerGroupIds = this.resolveConsumerGroupIds(props);
    claimConsumerGroups(this, props, this.consumerGroupIds, (prop, value, fix) => this.fail(prop, value, fix));

    this.policy = new iam.Policy(this, 'SourceAccessPolicy');
    attachWhenUsed(this, this.policy, role, () => this.eventSourceMappings);

    // Secrets
    const created = authSetup.createSecrets();
    this.secretsKey = created.key;
    this.authSecret = created.authSecret;
    this.rootCaSecret = created.rootCaSecret;
    for (const secret of [this.authSecret, this.rootCaSecret]) if (secret) this.grantSecretRead(secret);

    // Network
    const net = this.configureNetwork();
    this.securityGroup = net.createdSecurityGroup;
    this.connections = new ec2.Connections({
      securityGroups: net.securityGroups,
      defaultPort: this.brokerPorts.length ? ec2.Port.tcp(this.brokerPorts[0]) : undefined,
    });

    // Cluster access grants
    this.grantClusterAccess(props.topics);
    if (vpcConnectionArn !== undefined) {
      this.policy.addStatements(
        new iam.PolicyStatement({ actions: ['kafka:DescribeVpcConnection'], resources: [vpcConnectionArn] }),
      );
      this.ownerClusterPolicy = ownerClusterPolicy(
        this,
        this.clusterArn!,
        props.topics,
        this.consumerGroupIds,
        this.auth.method === KafkaAuthMethod.IAM,
      );
    }

    // Destination
    const dest = this.configureDestination(props);
    this.onFailureQueue = dest.queue;
    this.onFailureBucket = dest.bucket;

    // Schema registry: bound once; the mappings share its configuration.
    this.schemaRegistryConfig = props.schemaRegistry
      ? bindSchemaRegistry(this, props.schemaRegistry, this.target, this.policy, () => this.eventSourceMappingIds[0])
      : undefined;
    this.bindDispatcher(props);

    // VPC endpoints
    const endpoints = this.configureEndpoints(props, net, dest.endpoint);
    this.vpcEndpoints = endpoints.created;
    this.endpointSecurityGroup = endpoints.securityGroup;

    if (props.filterEncryption) props.filterEncryption.grantDecrypt(new iam.ServicePrincipal('lambda.amazonaws.com'));

    // Deploy-time check
    if (props.dryRunCheck ?? true) this.dryRunCheck = createDryRunCheck(this, this.target);

    // Mappings
    this.eventSourceMappings = props.topics.map((topic, i) =>
      this.createMapping(props, topic, this.consumerGroupIds[i], net, dest.destination),
    );
    this.eventSourceMappingIds = this.eventSourceMappings.map((m) => m.eventSourceMappingRef.eventSourceMappingId);
    this.eventSourceMappingArns = this.eventSourceMappings.map((m) => m.eventSourceMappingRef.eventSourceMappingArn);

    this.mappingMetricTypes = props.metrics ?? [];
    this.healthCheck = watchMappings(this, props, this.eventSourceMappings, this.eventSourceMappingArns, 'Kafka');
    this.mappingHealthFunction = this.healthCheck?.function;
    this.mappingHealthAlarm = this.healthCheck?.alarm;
    this.alarms =
      (props.alarms ?? true) ? [...this.createAlarms(props), ...(this.mappingHealthAlarm ? [this.mappingHealthAlarm] : [])] : [];
    this.acknowledgeNagFindings();
  }

  /**
   * `MappingHealthy` (namespace CdkKafkaLambda), written every 5 minutes by the mapping health function: 1 when the
   * mapping is Creating, Enabling, Enabled or Updating and its LastProcessingResult names no PROBLEM, else 0. Without
   * `topic`, over all the trigger's mappings (dimension `Trigger`); with it, of that topic's mapping.
   * @default - minimum over 5 minutes
   */
  public metricMappingHealthy(props: KafkaTriggerMetricOptions = {}): cloudwatch.Metric {
    const { topic, ...options } = props;
    return mappingHealthyMetric(
      this,
      topic === undefined ? undefined : this.eventSourceMappingIds[this.topicIndex(topic)],
      options,
    );
  }

  /**
   * A CloudWatch dashboard of the trigger (created on the first call; later calls return it): OffsetLag, the mappings'
   * own metrics (those `metrics` turns on), the dispatcher's records (when the target is a dispatcher), the target's
   * errors and throttles, the on-failure queue's depth (an SQS destination) and the mappings' health.
   */
  public dashboard(options?: TriggerDashboardOptions): cloudwatch.Dashboard {
    this.createdDashboard ??= createTriggerDashboard(
      this,
      'Dashboard',
      {
        lag: this.metricOffsetLag(),
        mappingMetrics: this.eventSourceMappings.flatMap((m) =>
          this.mappingMetricTypes.flatMap((type) =>
            (DASHBOARD_MAPPING_METRICS[type] ?? []).map((name) =>
              this.metric(name, { topic: m.topics![0], label: `${name} ${m.topics![0]}` }),
            ),
          ),
        ),
        dispatcherService: this.dispatcherService,
        target: this.target,
        onFailureQueue: this.onFailureQueue,
        health: this.healthCheck
          ? this.eventSourceMappings.map((m) => this.metricMappingHealthy({ topic: m.topics![0], label: m.topics![0] }))
          : [],
        healthAlarm: this.mappingHealthAlarm,
      },
      options,
    );
    return this.createdDashboard;
  }

  /** OffsetLag of the target function: records behind the latest offset, across its Kafka mappings. */
  public metricOffsetLag(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return consumerLagMetric(this.target, 'OffsetLag', props);
  }

  /**
   * An ESM metric (with `metrics` enabled) of the mapping of one topic, e.g. PolledEventCount,
   * FilteredOutEventCount, FailedInvokeEventCount, DroppedEventCount, OnFailureDestinationDeliveredEventCount.
   * @see https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
   */
  public metric(metricName: string, props: KafkaTriggerMetricOptions = {}): cloudwatch.Metric {
    const { topic, ...options } = props;
    const i = topic === undefined ? 0 : this.topicIndex(topic);
    return lambdaMetric(metricName, { EventSourceMappingUUID: this.eventSourceMappingIds[i] }, cloudwatch.Stats.SUM, options);
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
    if (i < 0)
      throw new ValidationError(
        this,
        'topic',
        topic,
        `use one of the trigger's topics (${this.eventSourceMappings.map((m) => m.topics?.[0]).join(', ')})`,
      );
    return i;
  }

  // ---------------------------------------------------------------------------------------------
  // Validation

  private fail(prop: string, value: unknown, fix: string): never {
    throw new ValidationError(this, prop, value, fix);
  }

  /**
   * When the target is a dispatcher's function (IDispatcherTarget): binds to the dispatcher, which reads the fields the
   * mapping validates in the mapping's record format, and checks what it answers (partial batch responses, its relay).
   */
  private bindDispatcher(props: KafkaTriggerProps): void {
    const target = DispatcherTarget.of(props.target);
    if (target === undefined) return noteUnboundTrigger(props.target, this);
    const dispatcher = target.bindTrigger(this, {
      sourceKind: DispatcherSourceKind.KAFKA,
      schemaRegistry: props.schemaRegistry,
      schemaRegistryConfig: this.schemaRegistryConfig,
    });
    this.dispatcherService = dispatcher.metricsServiceName;
    validateDispatcherAnswers(props, dispatcher, (prop, value, fix) => this.fail(prop, value, fix));
  }

  /**
   * Each topic's group: pinned (`consumerGroupIds`, or `consumerGroupId` for one topic), else generated from the stack
   * name and construct path, so it changes when the construct is renamed or moved.
   */
  private resolveConsumerGroupIds(props: KafkaTriggerProps): string[] {
    const base = Names.uniqueResourceName(this, { maxLength: 120, separator: '-' });
    const single = props.topics.length === 1;
    const pins = props.topics.map((t) => pinnedGroup(props, t) ?? (single ? props.consumerGroupId : undefined));
    const groups = props.topics.map((t, i) => pins[i] ?? (single ? base : `${base}-${t}`.slice(0, 200)));
    groups.forEach((group, i) => {
      const first = groups.indexOf(group);
      if (first === i || Token.isUnresolved(group)) return;
      // Pinned groups differ (validated), so one of the two is generated.
      const generatedTopic = pins[first] === undefined ? props.topics[first] : props.topics[i];
      this.fail(
        'consumerGroupIds',
        props.consumerGroupIds,
        `${group} is also the generated group of ${generatedTopic}; pin ${generatedTopic} to a group of its own too`,
      );
    });
    const generated = props.topics.filter((_, i) => pins[i] === undefined);
    if (generated.length && generated.length < props.topics.length)
      this.warnGeneratedBesidePinned(
        props,
        generated.map((t) => `${t} (${groups[props.topics.indexOf(t)]})`),
      );
    return groups;
  }

  /**
   * Pinning some topics says their groups' offsets matter; a topic left to a generated group gets a new group when the
   * construct is renamed or moved, read from the starting position: with TRIM_HORIZON the whole topic again, with LATEST
   * from its end (skipping what the old mapping had not read), with AT_TIMESTAMP from the timestamp again.
   */
  private warnGeneratedBesidePinned(props: KafkaTriggerProps, generated: string[]): void {
    const position = props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
    const effect =
      props.consumptionMode === KafkaConsumptionMode.QUEUE
        ? 'a new share group'
        : position === lambda.StartingPosition.TRIM_HORIZON
          ? 'a new group, which reads the whole topic again from its oldest record (TRIM_HORIZON)'
          : position === lambda.StartingPosition.LATEST
            ? 'a new group, which starts at the end of the topic (LATEST) and skips what the old mapping had not read'
            : 'a new group, which reads again from startingPositionTimestamp (AT_TIMESTAMP)';
    Annotations.of(this).addWarningV2(
      'cdk-kafka-lambda:generatedGroupBesidePinned',
      `consumerGroupIds pins some topics but not ${generated.join(', ')}: a generated group follows the stack name and ` +
        `construct path, so renaming or moving the trigger gives that topic ${effect}. ` +
        'Pin every topic in consumerGroupIds (a deployed topic to the group it has now).',
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Secrets

  private grantSecretRead(secret: secretsmanager.ISecret): void {
    this.policy.addStatements(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
        resources: [secretArnPattern(secret)],
      }),
    );
    if (secret.encryptionKey) {
      this.policy.addStatements(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [secret.encryptionKey.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Network

  private configureNetwork(): {
    securityGroups: ec2.ISecurityGroup[];
    subnets: ec2.ISubnet[];
    createdSecurityGroup?: ec2.SecurityGroup;
  } {
    const net = eventSourceNetwork(this, this.cluster, this.brokerPorts, (prop, value, fix) => this.fail(prop, value, fix));
    // Lambda creates the event source's network interfaces with the execution role (MSK: see grantClusterAccess).
    if (this.cluster.kind === KafkaClusterKind.SELF_MANAGED && this.cluster.vpc) this.policy.addStatements(eniStatement());
    // An MSK event source uses the cluster's groups, which the mapping does not name.
    if (this.cluster.mskProps && net.securityGroups.length)
      this.eventSourceMetadata[EVENT_SOURCE_GROUPS_METADATA] = net.securityGroups.map((g) => g.securityGroupId);
    return net;
  }

  // ---------------------------------------------------------------------------------------------
  // Cluster access (MSK)

  private grantClusterAccess(topics: string[]): void {
    if (this.cluster.kind !== KafkaClusterKind.MSK) return;
    const arn = this.clusterArn!;
    // What AWSLambdaMSKExecutionRole grants, scoped to the cluster.
    this.policy.addStatements(
      new iam.PolicyStatement({
        actions: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
        resources: [arn],
      }),
    );
    this.policy.addStatements(eniStatement());
    if (this.auth.method !== KafkaAuthMethod.IAM) return;
    this.policy.addStatements(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        resources: [arn],
      }),
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        resources: topics.map((t) => mskResourceArn(arn, 'topic', t)),
      }),
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        resources: this.consumerGroupIds.map((g) => mskResourceArn(arn, 'group', g)),
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Destination

  private configureDestination(props: KafkaTriggerProps): {
    destination?: string;
    queue?: sqs.IQueue;
    bucket?: s3.IBucket;
    endpoint?: EndpointNeed;
  } {
    const d = props.onFailure;
    if (!d) return {};
    return bindOnFailure(this, d, {
      policy: this.policy,
      role: this.target.role!,
      mskClusterArn: this.clusterArn,
      authMethod: this.auth.method,
    });
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
      {
        key: 'lambda',
        label: 'Lambda',
        statements: [
          new iam.PolicyStatement({
            actions: ['lambda:InvokeFunction'],
            principals: [lambdaPrincipal],
            resources: [this.target.functionArn, `${this.target.functionArn}:*`],
          }),
        ],
      },
      {
        key: 'sts',
        label: 'STS',
        statements: [new iam.PolicyStatement({ actions: ['sts:AssumeRole'], principals: [lambdaPrincipal], resources: ['*'] })],
      },
    ];
    const secretArns = [this.authSecret, this.rootCaSecret].filter((s): s is secretsmanager.ISecret => !!s).map(secretArnPattern);
    // A Confluent schema registry's credentials are read through the same endpoint.
    for (const access of (this.schemaRegistryConfig
      ?.accessConfigs as lambda.CfnEventSourceMapping.SchemaRegistryAccessConfigProperty[]) ?? []) {
      if (access.uri) secretArns.push(access.uri);
    }
    if (secretArns.length) {
      needs.push({
        key: 'secretsManager',
        label: 'Secrets Manager',
        statements: [
          new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], principals: [role], resources: secretArns }),
        ],
      });
    }
    if (destinationNeed) needs.push(destinationNeed);
    const provided = provideEndpoints(this, {
      vpc,
      endpoints: mode,
      subnets: net.subnets,
      callerGroups: net.securityGroups,
      caller: `the Kafka event source of ${this.node.path}`,
      needs,
    });
    if (mode.mode === KafkaVpcEndpointsMode.NONE) this.eventSourceMetadata[NAT_EGRESS_METADATA] = 'nat';
    return {
      created:
        mode.mode === KafkaVpcEndpointsMode.CREATE ? (provided.endpoints as { [service: string]: ec2.InterfaceVpcEndpoint }) : {},
      securityGroup: provided.securityGroup,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Mapping, check, alarms

  private createMapping(
    props: KafkaTriggerProps,
    topic: string,
    consumerGroupId: string,
    net: { securityGroups: ec2.ISecurityGroup[]; subnets: ec2.ISubnet[] },
    destination?: string,
  ): lambda.CfnEventSourceMapping {
    const id = props.topics.length === 1 ? 'EventSourceMapping' : `EventSourceMapping-${topic}`;
    const access: lambda.CfnEventSourceMapping.SourceAccessConfigurationProperty[] = [];
    if (this.authSecret) access.push({ type: this.auth.method, uri: this.authSecret.secretArn });
    if (this.rootCaSecret) access.push({ type: 'SERVER_ROOT_CA_CERTIFICATE', uri: this.rootCaSecret.secretArn });
    if (this.cluster.kind === KafkaClusterKind.SELF_MANAGED && this.cluster.vpc) {
      for (const s of net.subnets) access.push({ type: 'VPC_SUBNET', uri: `subnet:${s.subnetId}` });
      for (const g of net.securityGroups) access.push({ type: 'VPC_SECURITY_GROUP', uri: `security_group:${g.securityGroupId}` });
    }
    const kafkaConfig: lambda.CfnEventSourceMapping.SelfManagedKafkaEventSourceConfigProperty = {
      consumerGroupId,
      schemaRegistryConfig: this.schemaRegistryConfig,
    };
    const queue = props.consumptionMode === KafkaConsumptionMode.QUEUE;
    const mapping = new lambda.CfnEventSourceMapping(this, id, {
      functionName: this.target.functionArn,
      topics: [topic],
      eventSourceArn: this.eventSourceArn,
      selfManagedEventSource:
        this.cluster.kind === KafkaClusterKind.SELF_MANAGED
          ? { endpoints: { kafkaBootstrapServers: this.cluster.selfManagedProps!.bootstrapServers } }
          : undefined,
      amazonManagedKafkaEventSourceConfig: this.cluster.kind === KafkaClusterKind.MSK ? kafkaConfig : undefined,
      selfManagedKafkaEventSourceConfig: this.cluster.kind === KafkaClusterKind.SELF_MANAGED ? kafkaConfig : undefined,
      sourceAccessConfigurations: access.length ? access : undefined,
      batchSize: props.batchSize,
      maximumBatchingWindowInSeconds: props.maxBatchingWindow?.toSeconds(),
      startingPosition: queue ? undefined : (props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON),
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
    // ConsumptionMode is newer than the oldest aws-cdk-lib the package supports (2.258.0), whose L1 has no such
    // property and would drop it, so it is written as an override.
    if (props.consumptionMode) {
      const config =
        this.cluster.kind === KafkaClusterKind.MSK ? 'AmazonManagedKafkaEventSourceConfig' : 'SelfManagedKafkaEventSourceConfig';
      mapping.addPropertyOverride(`${config}.ConsumptionMode`, props.consumptionMode);
    }
    for (const [key, value] of Object.entries(this.eventSourceMetadata)) mapping.addMetadata(key, value);
    // Lambda checks the role's permissions (and the dry run the function) when the mapping is created.
    if (this.dryRunCheck) mapping.node.addDependency(this.dryRunCheck);
    return mapping;
  }

  private createAlarms(props: KafkaTriggerProps): cloudwatch.Alarm[] {
    return [
      new cloudwatch.Alarm(this, 'OffsetLagAlarm', {
        alarmDescription: `Kafka consumer of ${this.node.path} falls behind: OffsetLag above the threshold for 5 minutes`,
        metric: this.metricOffsetLag(),
        threshold: props.offsetLagAlarmThreshold ?? 1000,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      ...errorAlarms(
        this,
        this.target,
        this.onFailureQueue,
        `Failed Kafka batches of ${this.node.path} wait in the on-failure queue`,
      ),
    ];
  }

  /**
   * Acknowledges the cdk-nag AwsSolutions findings this construct causes on purpose, each with its reason,
   * through aws-cdk-lib's Validations metadata (what cdk-nag 3 reads), so the library needs no cdk-nag dependency.
   */
  private acknowledgeNagFindings(): void {
    acknowledgeWildcards(
      this.policy,
      () =>
        'Lambda creates the event source network interfaces with this role: their ids are unknown before creation and ' +
        'ec2:Describe* has no resource-level permissions; S3 on-failure objects get Lambda-chosen keys; an imported secret is matched by its ARN suffix.',
    );
    acknowledgeCreatedSecrets(this, [this.authSecret, this.rootCaSecret]);
    acknowledgeOnFailureFindings(this, this.onFailureQueue, this.onFailureBucket, 'Kafka');
    // The AwsCustomResource provider is a stack-level singleton with the basic execution managed policy.
    const provider = Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID);
    if (provider) {
      acknowledgeFinding(
        provider,
        IAM4_BASIC_EXECUTION,
        'The AwsCustomResource provider of aws-cdk-lib writes its logs with AWSLambdaBasicExecutionRole; its only other permission is the scoped dry-run invoke.',
      );
      // Its runtime is the one the aws-cdk-lib in use chooses (older releases of the peer range choose an older Node.js).
      acknowledgeFinding(
        provider,
        'AwsSolutions-L1',
        "The AwsCustomResource provider's runtime is chosen by aws-cdk-lib; it runs at deployment only, for the dry-run invoke.",
      );
    }
  }
}

/**
 * Attaches the policy to the role, and makes the mappings wait for it (Lambda checks the role's permissions when a
 * mapping is created), once it has statements: at synth, as they may be added after the construct. An
 * unauthenticated cluster outside a VPC needs none, and an empty policy a role compares with its others fails synth.
 */
function attachWhenUsed(
  scope: Construct,
  policy: iam.Policy,
  role: iam.IRole,
  mappings: () => readonly lambda.CfnEventSourceMapping[],
): void {
  Aspects.of(scope).add({
    visit: (node) => {
      if (node !== scope || policy.document.isEmpty) return;
      policy.attachToRole(role);
      for (const m of mappings()) m.node.addDependency(policy);
    },
  });
}

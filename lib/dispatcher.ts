import { Annotations, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  DISPATCHER_CONFIG_ENV, DISPATCHER_CONFIG_VERSION, DispatcherConfig, IDEMPOTENCY_PARTITION_KEY, IDEMPOTENCY_TTL_ATTRIBUTE, RelayAuthName,
} from './private/dispatcher-config';
import { KafkaAuth, KafkaAuthMethod } from './kafka-auth';
import { KafkaCluster } from './kafka-cluster';
import { ValidationError } from './private/errors';
import { HANDLER_RUNTIME, handlerCode } from './private/handler-runtime';
import { Fail, KafkaAuthSetup, secretArnPattern } from './private/kafka-auth-setup';
import { mskResourceArn } from './private/msk';
import { acknowledgeCreatedSecrets, acknowledgeWildcards } from './private/nag';
import { ENI_ACTIONS, EndpointNeed, NAT_EGRESS_METADATA, RELAY_BROKERS_METADATA, eniStatement, provideEndpoints } from './private/vpc-endpoints';
import { KafkaVpcEndpoints, KafkaVpcEndpointsMode } from './vpc-endpoints';

/** How the dispatcher invokes the target function. */
export enum DispatcherInvocationType {
  /** Synchronous: the target's response is checked and can be relayed to the response topic. */
  REQUEST_RESPONSE = 'RequestResponse',
  /** Asynchronous (fire and forget): Lambda retries the target itself; no response is relayed. */
  EVENT = 'Event',
}

/** The payload the target function receives. */
export enum DispatcherPayloadFormat {
  /** The Confluent Lambda sink connector's `[{ "payload": { timestamp, topic, partition, offset, key, value } }]`. */
  CONFLUENT = 'confluent',
  /** The Nordstrom connector's PlainPayloadFormatter fields (key and value as text), with headers. */
  NORDSTROM_PLAIN = 'nordstrom-plain',
  /** The Nordstrom connector's JsonPayloadFormatter fields (key and value as JSON when they parse), with headers. */
  NORDSTROM_JSON = 'nordstrom-json',
  /** The event source mapping's event, restricted to the batch's records. */
  RAW = 'raw',
}

/** What the dispatcher does when records fail (function error, malformed response, undecodable record). */
export enum DispatcherErrorBehavior {
  /** Fail the batch so the event source mapping retries it; done records are skipped on the retry. */
  FAIL = 'fail',
  /** Write the failure to the error topic (or the log), mark the records done, continue. */
  LOG = 'log',
  /** Count the failure, mark the records done, continue. */
  DROP = 'drop',
}

/** How the idempotency table is used. */
export enum IdempotencyMode {
  /** One BatchGetItem per 100 keys before invoking, one BatchWriteItem per 25 results after. */
  BATCHED = 'batched',
  /** A conditional write per record before invoking, so concurrent invocations never both invoke the target for a key. */
  STRICT = 'strict',
}

/** Where and how the dispatcher relays results and failures to Kafka. */
export interface KafkaRelayProps {
  /**
   * The cluster to write to: its brokers, TLS, root CA, VPC and security groups. An MSK cluster needs
   * `bootstrapServers` here (the producer connects as any client does).
   */
  readonly cluster: KafkaCluster;

  /**
   * How the relay authenticates: the same `KafkaAuth` as a trigger's. An auth without a secret gets one created
   * (a generated SASL password, or the mTLS certificate from PEM), as the trigger does; SASL needs TLS.
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly auth: KafkaAuth;

  /**
   * Topic for the target's results (synchronous invocation only): key `{topic, partition, offset}`, value the result.
   * @default - results are not relayed
   */
  readonly responseTopic?: string;

  /**
   * Topic for failures with DispatcherErrorBehavior.LOG: key `{topic, partition, startOffset, endOffset}`, value
   * `{functionName, inputPayload, statusCode, functionError, logResult, payload, executedVersion, outcome, records}`, where
   * `records` holds the failed records as the event carried them (base64 key and value, headers, timestamp).
   * @default - failures are written to the dispatcher's log only
   */
  readonly errorTopic?: string;

  /**
   * Kafka client id of the relay's producer.
   * @default "cdk-kafka-lambda-relay"
   */
  readonly clientId?: string;
}

/** Properties of a KafkaDispatcher. */
export interface KafkaDispatcherProps {
  /** The user's function that the dispatcher invokes with the records (a function, version or alias). */
  readonly target: lambda.IFunction;

  /**
   * Synchronous or asynchronous invocation of the target.
   * @default DispatcherInvocationType.REQUEST_RESPONSE
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
   */
  readonly invocationType?: DispatcherInvocationType;

  /**
   * Payload format the target receives.
   * @default DispatcherPayloadFormat.CONFLUENT
   */
  readonly payloadFormat?: DispatcherPayloadFormat;

  /**
   * Most records per invocation of the target; a batch also stays under the invocation payload
   * limit (6 MB synchronous, 256 KB asynchronous) and holds one topic-partition.
   * @default 100
   * @see https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
   */
  readonly recordsPerInvocation?: number;

  /**
   * Topic-partitions invoked in parallel; records of one partition are always invoked in order.
   * @default 4
   */
  readonly concurrency?: number;

  /**
   * Attempts per target invocation on throttling (429), 5xx and timeouts, with exponential backoff and jitter,
   * within the dispatcher's remaining time.
   * @default 5
   */
  readonly maxAttempts?: number;

  /**
   * What happens when records fail.
   * @default DispatcherErrorBehavior.FAIL
   */
  readonly onError?: DispatcherErrorBehavior;

  /**
   * Answer with a partial batch response instead of failing the whole batch; the event source
   * mapping must enable ReportBatchItemFailures (KafkaTrigger / KinesisTrigger `reportBatchItemFailures`),
   * or it takes the answer for a success. Kafka: `{ partition, offset }` per failed partition; Kinesis: the
   * failed record's sequence number per failed shard.
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html
   */
  readonly reportBatchItemFailures?: boolean;

  /**
   * No target invocation starts when less than this remains of the dispatcher's time; the rest is retried.
   * @default Duration.seconds(10)
   */
  readonly timeMargin?: Duration;

  /**
   * The target's timeout: how long an invocation the dispatcher stopped waiting for (at its own deadline) may
   * still be running. With IdempotencyMode.STRICT the records' keys stay in progress at least that long after the
   * dispatcher's end, so a retry never runs the target on them while the first run goes on.
   * @default - the target's timeout when it is a lambda.Function, otherwise 15 minutes (Lambda's longest)
   */
  readonly targetTimeout?: Duration;

  /**
   * Ask Lambda for the last 4 KB of the target's log with each synchronous invocation and put it in the
   * `logResult` field of error records. The target's log may hold record data; the dispatcher never writes it to
   * its own log.
   * @default false
   */
  readonly includeTargetLogTail?: boolean;

  /**
   * Timeout of the dispatcher function: at most 14 minutes behind a KafkaTrigger (Kafka event source mappings
   * allow no more; the trigger checks it), up to Lambda's 15 behind a KinesisTrigger.
   * @default Duration.minutes(5)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html
   */
  readonly timeout?: Duration;

  /**
   * Memory of the dispatcher function in MB.
   * @default 512
   */
  readonly memorySize?: number;

  /**
   * Keep an idempotency table so that records already done are not sent to the target again.
   * @default true
   */
  readonly idempotency?: boolean;

  /**
   * How the idempotency table is used.
   * @default IdempotencyMode.BATCHED
   */
  readonly idempotencyMode?: IdempotencyMode;

  /**
   * How long a done record is remembered (DynamoDB TTL).
   * @default Duration.days(7)
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html
   */
  readonly idempotencyTtl?: Duration;

  /**
   * JSON pointer (RFC 6901) to a field of the record value to use as the idempotency key, e.g. "/orderId".
   * @default - topic-partition-offset
   */
  readonly idempotencyKeyPointer?: string;

  /**
   * Largest result stored for re-relaying on a retry, in bytes (a DynamoDB item holds at most 400 KB).
   * @default 65536
   */
  readonly maxStoredResultBytes?: number;

  /**
   * KMS key that encrypts the idempotency table.
   * @default - an AWS managed key
   */
  readonly tableEncryptionKey?: kms.IKey;

  /**
   * Removal policy of the idempotency table.
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;

  /**
   * Relay of results and failures to Kafka.
   * @default - nothing is relayed
   */
  readonly relay?: KafkaRelayProps;

  /**
   * VPC of the dispatcher function.
   * @default - the relay cluster's VPC when it has one, otherwise not in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets of the dispatcher function.
   * @default - the relay cluster's subnets in its VPC, otherwise the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the dispatcher function.
   * @default - a new security group, when in a VPC: 443 out (AWS APIs) and the broker ports out to the relay cluster's groups
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * How the dispatcher in a VPC reaches Lambda (the target), Secrets Manager (relay credentials) and DynamoDB (the
   * idempotency table): endpoints created (shared per VPC and stack with the triggers, each policy admitting this
   * dispatcher's role for exactly its actions and resources, a DynamoDB gateway endpoint on its subnets' route
   * tables), existing ones, or none (a NAT gateway serves).
   * @default KafkaVpcEndpoints.create() when in a VPC
   * @see https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html
   */
  readonly vpcEndpoints?: KafkaVpcEndpoints;

  /**
   * How long the dispatcher's log is kept.
   * @default logs.RetentionDays.TWO_YEARS
   */
  readonly logRetention?: logs.RetentionDays;
}

/** The target's timeout in ms, when it is given or known (a lambda.Function's; 3 s when it sets none). */
function targetTimeoutMs(props: KafkaDispatcherProps): number | undefined {
  if (props.targetTimeout !== undefined) return props.targetTimeout.toMilliseconds();
  if (props.target instanceof lambda.Function) return (props.target.timeout ?? Duration.seconds(3)).toMilliseconds();
  return undefined;
}

/** Namespace of the dispatcher's embedded metrics. */
const METRICS_NAMESPACE = 'CdkKafkaLambda';

/** The relay's name for each auth method, in the dispatcher configuration. */
const RELAY_AUTH: { [method: string]: RelayAuthName } = {
  [KafkaAuthMethod.NONE]: 'none',
  [KafkaAuthMethod.SASL_SCRAM_256]: 'scram-sha-256',
  [KafkaAuthMethod.SASL_SCRAM_512]: 'scram-sha-512',
  [KafkaAuthMethod.SASL_PLAIN]: 'plain',
  [KafkaAuthMethod.MTLS]: 'mtls',
  [KafkaAuthMethod.IAM]: 'msk-iam',
};

/**
 * The dispatcher: a Lambda function, the target of a Kafka or Kinesis event source mapping
 * (KafkaTrigger or KinesisTrigger), that decodes the records, skips those already done (DynamoDB
 * idempotency table), invokes the user's target function, and relays results and failures to Kafka
 * topics. For a Kinesis stream, the stream name stands for the topic, the shard for the partition and the
 * sequence number (a string) for the offset, in the payloads, the idempotency key and the relayed keys.
 * In a VPC it gets the endpoints and security group rules to reach each service it calls and the brokers.
 *
 * @example
 * declare const target: lambda.IFunction;
 * declare const scramSecret: secretsmanager.ISecret;
 * const dispatcher = new KafkaDispatcher(this, 'Dispatcher', {
 *   target,
 *   onError: DispatcherErrorBehavior.LOG,
 *   relay: {
 *     cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
 *     auth: KafkaAuth.scram512({ secret: scramSecret }),
 *     responseTopic: 'orders-results',
 *     errorTopic: 'orders-errors',
 *   },
 * });
 */
export class KafkaDispatcher extends Construct implements ec2.IConnectable {
  /** The dispatcher function: point the KafkaTrigger or KinesisTrigger at it. */
  public readonly function: lambda.Function;

  /** The function's execution role: only the statements the dispatcher needs, no managed policies. */
  public readonly role: iam.Role;

  /** The function's log group. */
  public readonly logGroup: logs.LogGroup;

  /** The idempotency table, unless idempotency is off. */
  public readonly table?: dynamodb.Table;

  /** The value of the `service` dimension of the dispatcher's metrics. */
  public readonly serviceName: string;

  /** Whether the dispatcher answers with partial batch responses; a trigger pointed at it must read them. */
  public readonly reportBatchItemFailures: boolean;

  /** The relay, as given. */
  public readonly relay?: KafkaRelayProps;

  /** The relay's credentials secret (created or given), if its auth uses one. */
  public readonly relaySecret?: secretsmanager.ISecret;

  /** The VPC endpoints the dispatcher uses, by service (`lambda`, `secretsManager`, `dynamoDb`), when in a VPC. */
  public readonly vpcEndpoints: { [service: string]: ec2.IVpcEndpoint };

  private readonly vpcConnections?: ec2.Connections;

  constructor(scope: Construct, id: string, props: KafkaDispatcherProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(5);
    const timeMargin = props.timeMargin ?? Duration.seconds(10);
    const invocationType = props.invocationType ?? DispatcherInvocationType.REQUEST_RESPONSE;
    const onError = props.onError ?? DispatcherErrorBehavior.FAIL;
    const idempotencyMode = props.idempotencyMode ?? IdempotencyMode.BATCHED;
    const recordsPerInvocation = props.recordsPerInvocation ?? 100;
    const concurrency = props.concurrency ?? 4;
    const maxAttempts = props.maxAttempts ?? 5;
    this.reportBatchItemFailures = props.reportBatchItemFailures ?? false;
    const maxStoredResultBytes = props.maxStoredResultBytes ?? 65536;
    const ttl = props.idempotencyTtl ?? Duration.days(7);
    this.relay = props.relay;

    this.integerIn('recordsPerInvocation', recordsPerInvocation, 1, 10_000, 'the event source mapping sends at most 10000 records');
    this.integerIn('concurrency', concurrency, 1, 1_000, 'use a bound of partitions invoked in parallel');
    this.integerIn('maxAttempts', maxAttempts, 1, 100, 'count the first attempt');
    this.integerIn('maxStoredResultBytes', maxStoredResultBytes, 0, 380_000, 'a DynamoDB item holds at most 400 KB');
    if (!timeout.isUnresolved() && !timeMargin.isUnresolved() && timeMargin.toMilliseconds() >= timeout.toMilliseconds()) {
      this.fail('timeMargin', timeMargin.toHumanString(), `it must be shorter than timeout (${timeout.toHumanString()}): lower timeMargin or raise timeout`);
    }
    this.warnOnTargetOutlasting(props, timeout, timeMargin);
    if (!ttl.isUnresolved() && (ttl.toSeconds() < 60 || ttl.toSeconds() > 366 * 24 * 3600)) {
      this.fail('idempotencyTtl', ttl.toHumanString(), 'use 1 minute to 366 days');
    }
    const pointer = props.idempotencyKeyPointer;
    if (pointer !== undefined && !Token.isUnresolved(pointer) && !pointer.startsWith('/')) {
      this.fail('idempotencyKeyPointer', pointer, 'use a JSON pointer starting with "/" (e.g. "/orderId")');
    }
    if (props.idempotency === false && (pointer !== undefined || props.idempotencyMode !== undefined)) {
      this.fail('idempotency', false, 'idempotencyKeyPointer and idempotencyMode need idempotency: remove them or set idempotency to true');
    }

    const vpc = props.vpc ?? props.relay?.cluster.vpc;
    const subnetSelection = props.vpcSubnets ?? (props.vpc === undefined ? props.relay?.cluster.subnets : undefined);
    const securityGroups = vpc === undefined ? undefined : props.securityGroups ?? [new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc,
      description: `Dispatcher ${this.node.path} (cdk-kafka-lambda)`,
      allowAllOutbound: false,
    })];
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the cdk-kafka-lambda dispatcher ${this.node.path}`,
    });
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.TWO_YEARS });
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [this.logGroup.logGroupArn],
    }));
    if (vpc) this.role.addToPrincipalPolicy(eniStatement());

    this.function = new lambda.Function(this, 'Function', {
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: handlerCode('dispatcher'),
      timeout,
      memorySize: props.memorySize ?? 512,
      role: this.role,
      logGroup: this.logGroup,
      vpc,
      vpcSubnets: subnetSelection,
      securityGroups,
      description: 'cdk-kafka-lambda dispatcher: Kafka or Kinesis records to the target function, results to Kafka',
    });
    this.vpcConnections = vpc ? this.function.connections : undefined;
    this.serviceName = this.node.path;
    props.target.grantInvoke(this.function);
    const needs: EndpointNeed[] = [{
      key: 'lambda', label: 'Lambda (the target)',
      statements: [this.endpointStatement(['lambda:InvokeFunction'], [props.target.functionArn, `${props.target.functionArn}:*`])],
    }];

    if (props.idempotency !== false) {
      this.table = new dynamodb.Table(this, 'IdempotencyTable', {
        partitionKey: { name: IDEMPOTENCY_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
        timeToLiveAttribute: IDEMPOTENCY_TTL_ATTRIBUTE,
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: props.tableEncryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
        encryptionKey: props.tableEncryptionKey,
        removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
      const actions = idempotencyMode === IdempotencyMode.STRICT
        ? ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem']
        : ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'];
      this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [this.table.tableArn] }));
      // DynamoDB calls KMS for the table's key itself: the grant holds through DynamoDB only, and no KMS endpoint is needed.
      if (props.tableEncryptionKey) this.grantKeyVia(props.tableEncryptionKey, 'dynamodb', ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:DescribeKey']);
      needs.push({ key: 'dynamoDb', label: 'DynamoDB (the idempotency table)', statements: [this.endpointStatement(actions, [this.table.tableArn])] });
    }

    const relay = props.relay;
    let relayConfig: DispatcherConfig['relay'];
    if (relay !== undefined) {
      const setup = this.relaySetup(relay, invocationType, onError);
      relayConfig = setup.config;
      this.relaySecret = setup.secret;
      if (setup.secretArns.length) {
        needs.push({ key: 'secretsManager', label: 'Secrets Manager (the relay credentials)', statements: [this.endpointStatement(['secretsmanager:GetSecretValue'], setup.secretArns)] });
      }
      if (vpc) this.connectToBrokers(relay.cluster, setup.brokerPorts, vpc);
    }
    if (relay === undefined && onError === DispatcherErrorBehavior.LOG) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:dispatcherLogWithoutErrorTopic',
        'onError is LOG but no relay.errorTopic is set: failures are written to the dispatcher\'s CloudWatch log only. Set relay.errorTopic to keep them in Kafka.');
    }

    this.vpcEndpoints = {};
    if (vpc) {
      const mode = props.vpcEndpoints ?? KafkaVpcEndpoints.create();
      const subnets = vpc.selectSubnets(subnetSelection).subnets;
      const provided = provideEndpoints(this, {
        vpc, mode: mode.mode, existing: { ...mode.endpoints }, subnets, callerGroups: securityGroups!,
        caller: `the dispatcher ${this.node.path}`, needs,
      });
      this.vpcEndpoints = provided.endpoints;
      for (const group of securityGroups!) group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Lambda, Secrets Manager and DynamoDB');
      if (mode.mode === KafkaVpcEndpointsMode.NONE) this.cfnFunction.addMetadata(NAT_EGRESS_METADATA, 'nat');
    }

    const config: DispatcherConfig = {
      version: DISPATCHER_CONFIG_VERSION,
      target: {
        functionName: props.target.functionArn,
        invocationType,
        payloadFormat: props.payloadFormat ?? DispatcherPayloadFormat.CONFLUENT,
        batchSize: recordsPerInvocation,
        concurrency,
        maxAttempts,
        baseDelayMs: 100,
        maxDelayMs: 5_000,
        timeoutMs: targetTimeoutMs(props),
        logTail: props.includeTargetLogTail === true ? true : undefined,
      },
      onError,
      reportBatchItemFailures: this.reportBatchItemFailures,
      timeMarginMs: timeMargin.toMilliseconds(),
      idempotency: this.table === undefined ? undefined : {
        tableName: this.table.tableName,
        mode: idempotencyMode,
        ttlSeconds: ttl.toSeconds(),
        keyPointer: pointer,
        maxResultBytes: maxStoredResultBytes,
      },
      relay: relayConfig,
    };
    this.function.addEnvironment(DISPATCHER_CONFIG_ENV, Stack.of(this).toJsonString(config));
    this.function.addEnvironment('POWERTOOLS_SERVICE_NAME', this.serviceName);
    this.function.addEnvironment('POWERTOOLS_METRICS_NAMESPACE', METRICS_NAMESPACE);
    this.acknowledgeNagFindings(props.target);
  }

  /** The dispatcher's security groups, when it runs in a VPC. */
  public get connections(): ec2.Connections {
    if (this.vpcConnections === undefined) {
      throw new ValidationError(this, 'vpc', undefined, 'the dispatcher has no connections outside a VPC; set vpc (or a relay cluster with a vpc) to place it in one');
    }
    return this.vpcConnections;
  }

  /**
   * A metric of the dispatcher's embedded metrics: RecordsIn, RecordsInvoked, RecordsResponded,
   * RecordsFailed, RecordsDropped, RecordsSkippedDuplicate, InvokeRetries, Invocations, ReinvokedForLostResult,
   * RecordsUnknownOutcome.
   * @default - sum over 5 minutes
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName,
      dimensionsMap: { service: this.serviceName },
      statistic: 'Sum',
      ...props,
    });
  }

  /** Records that failed (with any error behaviour). */
  public metricRecordsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RecordsFailed', props);
  }

  /** Records dropped after an error (DispatcherErrorBehavior.DROP). */
  public metricRecordsDropped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RecordsDropped', props);
  }

  /** Records skipped because they were already done. */
  public metricRecordsSkippedDuplicate(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('RecordsSkippedDuplicate', props);
  }

  private get cfnFunction(): lambda.CfnFunction {
    return this.function.node.defaultChild as lambda.CfnFunction;
  }

  private fail(prop: string, value: unknown, fix: string): never {
    throw new ValidationError(this, prop, value, fix);
  }

  private integerIn(prop: string, value: number, min: number, max: number, hint: string): void {
    if (Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max) this.fail(prop, value, `use an integer from ${min} to ${max}: ${hint}`);
  }

  /** A VPC endpoint policy statement admitting this dispatcher's role. */
  private endpointStatement(actions: string[], resources: string[]): iam.PolicyStatement {
    return new iam.PolicyStatement({ actions, resources, principals: [new iam.ArnPrincipal(this.role.roleArn)] });
  }

  private grantKeyVia(key: kms.IKey, service: string, actions: string[]): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions,
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(this).region}.amazonaws.com` } },
    }));
  }

  /** A target that may run longer than the dispatcher waits is cut off at the deadline and retried with an unknown outcome. */
  private warnOnTargetOutlasting(props: KafkaDispatcherProps, timeout: Duration, timeMargin: Duration): void {
    const target = targetTimeoutMs(props);
    if (target === undefined || Token.isUnresolved(target) || timeout.isUnresolved() || timeMargin.isUnresolved()) return;
    const wait = timeout.toMilliseconds() - timeMargin.toMilliseconds();
    if (target <= wait) return;
    const prop = props.targetTimeout !== undefined ? 'targetTimeout' : 'target.timeout';
    Annotations.of(this).addWarningV2('cdk-kafka-lambda:targetOutlastsDispatcher',
      `${prop} (${target / 1000} s) is longer than timeout less timeMargin (${wait / 1000} s): an invocation that runs that long is given up at the `
      + 'dispatcher\'s deadline, its records are retried with an unknown outcome and the target may run them twice. '
      + `Set timeout to at least ${Math.ceil((target + timeMargin.toMilliseconds()) / 1000)} s or shorten the target's timeout.`);
  }

  private relaySetup(relay: KafkaRelayProps, invocationType: DispatcherInvocationType, onError: DispatcherErrorBehavior): {
    config: DispatcherConfig['relay']; secret?: secretsmanager.ISecret; secretArns: string[]; brokerPorts: number[];
  } {
    const fail: Fail = (prop, value, fix) => this.fail(`relay.${prop}`, value, fix);
    const cluster = relay.cluster;
    const setup = new KafkaAuthSetup(this, relay.auth, cluster, fail);
    setup.validate();
    const servers = cluster.bootstrapServers;
    if (servers === undefined) {
      fail('cluster.bootstrapServers', undefined, 'the relay connects to the brokers as a Kafka client; give them in KafkaCluster.msk({ ..., bootstrapServers }) (aws kafka get-bootstrap-brokers)');
    }
    if (!Token.isUnresolved(servers)) {
      if (servers.length === 0) fail('cluster.bootstrapServers', servers, 'give at least one "host:port"');
      for (const server of servers) {
        if (!Token.isUnresolved(server) && !/^[^\s:]+:\d+$/.test(server)) fail('cluster.bootstrapServers', server, 'give each broker as "host:port"');
      }
    }
    if (relay.responseTopic === undefined && relay.errorTopic === undefined) {
      fail('responseTopic', undefined, 'a relay needs responseTopic or errorTopic (or both): without them there is nothing to relay');
    }
    if (relay.responseTopic !== undefined && relay.responseTopic === relay.errorTopic) {
      fail('errorTopic', relay.errorTopic, 'results and failures need different topics; name another error topic');
    }
    if (relay.responseTopic !== undefined && invocationType === DispatcherInvocationType.EVENT) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:dispatcherAsyncResponseTopic',
        'relay.responseTopic is set but invocationType is EVENT: asynchronous invocations return no response, nothing is relayed there.');
    }
    if (relay.errorTopic !== undefined && onError !== DispatcherErrorBehavior.LOG) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:dispatcherErrorTopicUnused',
        `relay.errorTopic is set but onError is ${onError.toUpperCase()}: only LOG writes to the error topic.`);
    }
    const secrets = setup.createSecrets();
    const secretArns: string[] = [];
    for (const secret of [secrets.authSecret, secrets.rootCaSecret]) {
      if (secret === undefined) continue;
      secretArns.push(secretArnPattern(secret));
      if (secret.encryptionKey) this.grantKeyVia(secret.encryptionKey, 'secretsmanager', ['kms:Decrypt']);
    }
    if (secretArns.length) this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns }));
    if (relay.auth.method === KafkaAuthMethod.IAM) this.grantMskIam(setup.mskClusterArn(), [relay.responseTopic, relay.errorTopic]);
    return {
      secret: secrets.authSecret,
      secretArns,
      brokerPorts: setup.brokerPorts(),
      config: {
        bootstrapServers: servers,
        auth: RELAY_AUTH[relay.auth.method],
        secretArn: secrets.authSecret?.secretArn,
        rootCaSecretArn: secrets.rootCaSecret?.secretArn,
        tls: cluster.tls,
        responseTopic: relay.responseTopic,
        errorTopic: relay.errorTopic,
        clientId: relay.clientId ?? 'cdk-kafka-lambda-relay',
      },
    };
  }

  /**
   * The broker ports out to the relay cluster's security groups and in from this dispatcher's; without known groups,
   * out to the VPC and a warning naming the rule the brokers need.
   */
  private connectToBrokers(cluster: KafkaCluster, ports: number[], vpc: ec2.IVpc): void {
    const brokerGroups = cluster.securityGroups ?? [];
    if (ports.length === 0) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:relayBrokerPortsUnknown',
        'relay.cluster\'s bootstrap servers are only known at deploy time, so are the broker ports: no rules to the brokers are added. '
        + 'Allow the dispatcher\'s security group out to the brokers on their port, and the brokers\' group in from it.');
    }
    for (const port of ports) {
      for (const group of brokerGroups) {
        this.function.connections.allowTo(group, ec2.Port.tcp(port), `Kafka broker port ${port}: the relay`);
      }
      if (brokerGroups.length === 0) this.function.connections.allowTo(ec2.Peer.ipv4(vpc.vpcCidrBlock), ec2.Port.tcp(port), `Kafka broker port ${port} in the VPC: the relay`);
    }
    if (brokerGroups.length === 0) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:relayBrokerGroupsUnknown',
        `relay.cluster names no securityGroups: the brokers' security group must admit the dispatcher's security group on port ${ports.join(', ')}; `
        + 'give the brokers\' groups in the cluster (KafkaCluster.selfManaged/msk({ securityGroups })) and the rules are added.');
    }
    this.cfnFunction.addMetadata(RELAY_BROKERS_METADATA, { ports, securityGroupIds: brokerGroups.map((g) => g.securityGroupId) });
  }

  /** kafka-cluster:Connect and idempotent writes on the cluster; DescribeTopic and WriteData on the relay topics only. */
  private grantMskIam(clusterArn: string, topics: (string | undefined)[]): void {
    const topicArns = topics.filter((t): t is string => t !== undefined).map((topic) => mskResourceArn(clusterArn, 'topic', topic));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
      resources: [clusterArn],
    }));
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resources: topicArns,
    }));
  }

  /** Acknowledges, with reasons, the cdk-nag AwsSolutions findings the dispatcher causes on purpose. */
  private acknowledgeNagFindings(target: lambda.IFunction): void {
    const policy = this.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    const reasons: { [kind: string]: string } = {
      invoke: 'The dispatcher invokes the target\'s versions and aliases (grantInvoke).',
      logs: 'The dispatcher writes log streams of its own log group only; stream names are chosen by Lambda.',
      eni: 'Lambda creates the function\'s network interfaces with this role: their ids are unknown before creation and ec2:Describe* has no resource-level permissions.',
      secret: 'An imported secret is matched by its ARN\'s random suffix.',
      kms: 'kms:GenerateDataKey* names the key\'s data key variants, on one key, through one service.',
    };
    const stack = Stack.of(this);
    const invokeAll = JSON.stringify(stack.resolve(`${target.functionArn}:*`));
    const logs = JSON.stringify(stack.resolve(this.logGroup.logGroupArn));
    acknowledgeWildcards(policy, (statement, resource) => {
      const r = JSON.stringify(resource);
      if (r === invokeAll) return reasons.invoke;
      if (r === logs) return reasons.logs;
      if (r === '"*"' && [statement.Action].flat().every((a: string) => ENI_ACTIONS.includes(a))) return reasons.eni;
      if ([statement.Action].flat().includes('secretsmanager:GetSecretValue')) return reasons.secret;
      if ([statement.Action].flat().some((a: string) => a.startsWith('kms:'))) return reasons.kms;
      return undefined;
    });
    acknowledgeCreatedSecrets(this, [this.relaySecret]);
  }
}

import { Annotations, Arn, ArnFormat, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import {
  DISPATCHER_CONFIG_ENV, DISPATCHER_CONFIG_VERSION, DispatcherConfig, IDEMPOTENCY_PARTITION_KEY, IDEMPOTENCY_TTL_ATTRIBUTE, RelayAuthName,
} from './private/dispatcher-config';
import { HANDLER_RUNTIME, handlerCode } from './private/handler-runtime';

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

/** How the relay authenticates to the Kafka cluster. */
export class KafkaRelayAuth {
  /** No authentication (PLAINTEXT, or TLS encryption only). */
  public static none(): KafkaRelayAuth {
    return new KafkaRelayAuth('none');
  }

  /** SASL/SCRAM-SHA-256 with a secret `{ "username": ..., "password": ... }`. */
  public static scramSha256(secret: secretsmanager.ISecret): KafkaRelayAuth {
    return new KafkaRelayAuth('scram-sha-256', secret);
  }

  /** SASL/SCRAM-SHA-512 with a secret `{ "username": ..., "password": ... }`. */
  public static scramSha512(secret: secretsmanager.ISecret): KafkaRelayAuth {
    return new KafkaRelayAuth('scram-sha-512', secret);
  }

  /**
   * Mutual TLS with a secret `{ "certificate": ..., "privateKey": ..., "privateKeyPassword"?: ... }`
   * in the format of the event source mapping's CLIENT_CERTIFICATE_TLS_AUTH secret.
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html
   */
  public static mutualTls(secret: secretsmanager.ISecret): KafkaRelayAuth {
    return new KafkaRelayAuth('mtls', secret);
  }

  /**
   * IAM access control of an MSK cluster (SASL/OAUTHBEARER with aws-msk-iam-sasl-signer-js).
   * @param clusterArn the MSK cluster's ARN, for the kafka-cluster:* grants
   * @see https://docs.aws.amazon.com/msk/latest/developerguide/iam-access-control.html
   */
  public static mskIam(clusterArn: string): KafkaRelayAuth {
    return new KafkaRelayAuth('msk-iam', undefined, clusterArn);
  }

  private constructor(
    /** The method, as the dispatcher configuration names it. */
    public readonly method: string,
    /** The credentials secret, for SCRAM and mTLS. */
    public readonly secret?: secretsmanager.ISecret,
    /** The MSK cluster, for IAM. */
    public readonly clusterArn?: string,
  ) {}
}

/** Where and how the dispatcher relays results and failures to Kafka. */
export interface KafkaRelayProps {
  /** Bootstrap servers, "host:port". */
  readonly bootstrapServers: string[];

  /**
   * Authentication.
   * @default KafkaRelayAuth.none()
   */
  readonly auth?: KafkaRelayAuth;

  /**
   * Secret `{ "certificate": "<PEM>" }` with the brokers' root CA, for brokers with private CA certificates.
   * @default - the Lambda runtime's trusted CAs
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html
   */
  readonly rootCaSecret?: secretsmanager.ISecret;

  /**
   * Encrypt the connection with TLS.
   * @default - true, except with KafkaRelayAuth.none() and no rootCaSecret
   */
  readonly tls?: boolean;

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
  readonly batchSize?: number;

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
   * VPC of the dispatcher function, for a relay to brokers reachable only there.
   * @default - not in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets of the dispatcher function.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups of the dispatcher function.
   * @default - a new security group, when in a VPC
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** The target's timeout in ms, when it is given or known (a lambda.Function's; 3 s when it sets none). */
function targetTimeoutMs(props: KafkaDispatcherProps): number | undefined {
  if (props.targetTimeout !== undefined) return props.targetTimeout.toMilliseconds();
  if (props.target instanceof lambda.Function) return (props.target.timeout ?? Duration.seconds(3)).toMilliseconds();
  return undefined;
}

/** Namespace of the dispatcher's embedded metrics. */
const METRICS_NAMESPACE = 'CdkKafkaLambda';

/**
 * The dispatcher: a Lambda function, the target of a Kafka or Kinesis event source mapping
 * (KafkaTrigger or KinesisTrigger), that decodes the records, skips those already done (DynamoDB
 * idempotency table), invokes the user's target function, and relays results and failures to Kafka
 * topics. For a Kinesis stream, the stream name stands for the topic, the shard for the partition and the
 * sequence number (a string) for the offset, in the payloads, the idempotency key and the relayed keys.
 *
 * @example
 * declare const target: lambda.IFunction;
 * declare const scramSecret: secretsmanager.ISecret;
 * const dispatcher = new KafkaDispatcher(this, 'Dispatcher', {
 *   target,
 *   onError: DispatcherErrorBehavior.LOG,
 *   relay: {
 *     bootstrapServers: ['b-1.example.com:9096'],
 *     auth: KafkaRelayAuth.scramSha512(scramSecret),
 *     responseTopic: 'orders-results',
 *     errorTopic: 'orders-errors',
 *   },
 * });
 */
export class KafkaDispatcher extends Construct implements ec2.IConnectable {
  /** The dispatcher function: point the KafkaTrigger or KinesisTrigger at it. */
  public readonly function: lambda.Function;

  /** The idempotency table, unless idempotency is off. */
  public readonly table?: dynamodb.Table;

  /** The value of the `service` dimension of the dispatcher's metrics. */
  public readonly serviceName: string;

  /** Whether the dispatcher answers with partial batch responses; a trigger pointed at it must read them. */
  public readonly reportBatchItemFailures: boolean;

  private readonly vpcConnections?: ec2.Connections;

  constructor(scope: Construct, id: string, props: KafkaDispatcherProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(5);
    const timeMargin = props.timeMargin ?? Duration.seconds(10);
    const invocationType = props.invocationType ?? DispatcherInvocationType.REQUEST_RESPONSE;
    const onError = props.onError ?? DispatcherErrorBehavior.FAIL;
    const idempotencyMode = props.idempotencyMode ?? IdempotencyMode.BATCHED;
    const batchSize = props.batchSize ?? 100;
    const concurrency = props.concurrency ?? 4;
    const maxAttempts = props.maxAttempts ?? 5;
    this.reportBatchItemFailures = props.reportBatchItemFailures ?? false;
    const maxStoredResultBytes = props.maxStoredResultBytes ?? 65536;
    const ttl = props.idempotencyTtl ?? Duration.days(7);

    integerIn('batchSize', batchSize, 1, 10_000, 'the event source mapping sends at most 10000 records');
    integerIn('concurrency', concurrency, 1, 1_000, 'use a bound of partitions invoked in parallel');
    integerIn('maxAttempts', maxAttempts, 1, 100, 'count the first attempt');
    integerIn('maxStoredResultBytes', maxStoredResultBytes, 0, 380_000, 'a DynamoDB item holds at most 400 KB');
    if (!timeout.isUnresolved() && !timeMargin.isUnresolved() && timeMargin.toMilliseconds() >= timeout.toMilliseconds()) {
      throw new Error(`KafkaDispatcher timeMargin (${timeMargin.toHumanString()}) must be shorter than timeout (${timeout.toHumanString()}): lower timeMargin or raise timeout`);
    }
    if (!ttl.isUnresolved() && (ttl.toSeconds() < 60 || ttl.toSeconds() > 366 * 24 * 3600)) {
      throw new Error(`KafkaDispatcher idempotencyTtl must be between 1 minute and 366 days, got ${ttl.toHumanString()}`);
    }
    const pointer = props.idempotencyKeyPointer;
    if (pointer !== undefined && !Token.isUnresolved(pointer) && !pointer.startsWith('/')) {
      throw new Error(`KafkaDispatcher idempotencyKeyPointer must be a JSON pointer starting with "/" (e.g. "/orderId"), got ${JSON.stringify(pointer)}`);
    }
    if (props.idempotency === false && (pointer !== undefined || props.idempotencyMode !== undefined)) {
      throw new Error('KafkaDispatcher idempotencyKeyPointer and idempotencyMode need idempotency: remove them or set idempotency to true');
    }

    this.function = new lambda.Function(this, 'Function', {
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: handlerCode('dispatcher'),
      timeout,
      memorySize: props.memorySize ?? 512,
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: props.securityGroups,
      description: 'cdk-kafka-lambda dispatcher: Kafka or Kinesis records to the target function, results to Kafka',
    });
    this.vpcConnections = props.vpc ? this.function.connections : undefined;
    this.serviceName = this.node.path;
    props.target.grantInvoke(this.function);

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
      this.table.grant(this.function, ...actions);
      props.tableEncryptionKey?.grantEncryptDecrypt(this.function);
    }

    const relay = props.relay;
    const relayConfig = relay === undefined ? undefined : this.relayConfig(relay, invocationType, onError);
    if (relay === undefined && onError === DispatcherErrorBehavior.LOG) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:dispatcherLogWithoutErrorTopic',
        'onError is LOG but no relay.errorTopic is set: failures are written to the dispatcher\'s CloudWatch log only. Set relay.errorTopic to keep them in Kafka.');
    }

    const config: DispatcherConfig = {
      version: DISPATCHER_CONFIG_VERSION,
      target: {
        functionName: props.target.functionArn,
        invocationType,
        payloadFormat: props.payloadFormat ?? DispatcherPayloadFormat.CONFLUENT,
        batchSize,
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
  }

  /** The dispatcher's security groups, when it runs in a VPC. */
  public get connections(): ec2.Connections {
    if (this.vpcConnections === undefined) {
      throw new Error('KafkaDispatcher has no connections: it is not in a VPC. Set vpc to place it in one.');
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

  private relayConfig(relay: KafkaRelayProps, invocationType: DispatcherInvocationType, onError: DispatcherErrorBehavior): DispatcherConfig['relay'] {
    const auth = relay.auth ?? KafkaRelayAuth.none();
    if (!Token.isUnresolved(relay.bootstrapServers)) {
      if (relay.bootstrapServers.length === 0) {
        throw new Error('KafkaDispatcher relay.bootstrapServers is empty: give at least one "host:port"');
      }
      for (const server of relay.bootstrapServers) {
        if (!Token.isUnresolved(server) && !/^[^\s:]+:\d+$/.test(server)) {
          throw new Error(`KafkaDispatcher relay.bootstrapServers entries must be "host:port", got ${JSON.stringify(server)}`);
        }
      }
    }
    if (relay.responseTopic === undefined && relay.errorTopic === undefined) {
      throw new Error('KafkaDispatcher relay needs responseTopic or errorTopic (or both): without them there is nothing to relay');
    }
    if (relay.responseTopic !== undefined && invocationType === DispatcherInvocationType.EVENT) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:dispatcherAsyncResponseTopic',
        'relay.responseTopic is set but invocationType is EVENT: asynchronous invocations return no response, nothing is relayed there.');
    }
    if (relay.errorTopic !== undefined && onError !== DispatcherErrorBehavior.LOG) {
      Annotations.of(this).addWarningV2('cdk-kafka-lambda:dispatcherErrorTopicUnused',
        `relay.errorTopic is set but onError is ${onError.toUpperCase()}: only LOG writes to the error topic.`);
    }
    if (auth.method === 'msk-iam' && relay.tls === false) {
      throw new Error('KafkaDispatcher relay.tls cannot be false with KafkaRelayAuth.mskIam(): MSK IAM access control requires TLS');
    }
    const tls = relay.tls ?? (auth.method !== 'none' || relay.rootCaSecret !== undefined);

    for (const secret of [auth.secret, relay.rootCaSecret]) {
      if (secret === undefined) continue;
      this.function.addToRolePolicy(new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secret.secretFullArn ?? `${secret.secretArn}-??????`],
      }));
      secret.encryptionKey?.grantDecrypt(this.function);
    }
    if (auth.clusterArn !== undefined) this.grantMskIam(auth.clusterArn, [relay.responseTopic, relay.errorTopic]);

    return {
      bootstrapServers: relay.bootstrapServers,
      auth: auth.method as RelayAuthName,
      secretArn: auth.secret?.secretArn,
      rootCaSecretArn: relay.rootCaSecret?.secretArn,
      tls,
      responseTopic: relay.responseTopic,
      errorTopic: relay.errorTopic,
      clientId: relay.clientId ?? 'cdk-kafka-lambda-relay',
    };
  }

  /** kafka-cluster:Connect and idempotent writes on the cluster; DescribeTopic and WriteData on the relay topics only. */
  private grantMskIam(clusterArn: string, topics: (string | undefined)[]): void {
    const stack = Stack.of(this);
    // arn:aws:kafka:region:account:cluster/name/uuid → arn:aws:kafka:region:account:topic/name/uuid/<topic>
    const parts = Arn.split(clusterArn, ArnFormat.SLASH_RESOURCE_NAME);
    const topicArns = topics.filter((t): t is string => t !== undefined).map((topic) => stack.formatArn({
      service: 'kafka', partition: parts.partition, region: parts.region, account: parts.account, resource: 'topic',
      resourceName: `${parts.resourceName}/${topic}`, arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
      resources: [clusterArn],
    }));
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resources: topicArns,
    }));
  }
}

function integerIn(prop: string, value: number, min: number, max: number, hint: string): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`KafkaDispatcher ${prop} must be an integer between ${min} and ${max}, got ${value}: ${hint}`);
  }
}

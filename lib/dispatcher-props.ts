import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { KafkaAuth } from './kafka-auth';
import { KafkaCluster } from './kafka-cluster';
import { RecordSchemas } from './schemas';
import { KafkaVpcEndpoints } from './vpc-endpoints';

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
   * The error topic's `max.message.bytes`: each error record is sized in bytes to fit it. A failure whose records do
   * not fit one error record is split over several, its `inputPayload` left out (`inputPayloadOmitted`), and a record
   * too big for any error record is given by its coordinates, sizes and SHA-256 digests (`truncated: true`). Give it
   * when the relay may not describe the topic's configuration (Kafka ACLs without DESCRIBE_CONFIGS), or to size error
   * records below the topic's limit. From 16384 to 104857600 (100 MiB); needs `errorTopic`.
   * @default - the topic's own `max.message.bytes`, read once per dispatcher container (DescribeConfigs; with MSK IAM the
   * dispatcher is granted kafka-cluster:DescribeTopicDynamicConfiguration on the error topic); 1048576 (Kafka's default)
   * when that read is refused or fails
   */
  readonly errorTopicMaxMessageBytes?: number;

  /**
   * Kafka client id of the relay's producer.
   * @default "cdk-kafka-lambda-relay"
   */
  readonly clientId?: string;
}

/** A header a route matches: its name and its value (UTF-8). */
export interface DispatcherRouteHeader {
  readonly name: string;
  readonly value: string;
}

/** One route of a KafkaDispatcher: which records it takes (every condition given must hold) and where they go. */
export interface DispatcherRoute {
  /** The function its records go to (in this account or another). */
  readonly target: lambda.IFunction;

  /**
   * Topics (Kinesis: stream names) whose records it takes.
   * @default - any topic
   */
  readonly topics?: string[];

  /**
   * Only records carrying this header with this value (Kafka; Kinesis records have no headers).
   * @default - any headers
   */
  readonly header?: DispatcherRouteHeader;

  /**
   * Only records whose key (Kinesis: partition key) starts with this text.
   * @default - any key
   */
  readonly keyPrefix?: string;

  /**
   * @default - the dispatcher's `invocationType`
   */
  readonly invocationType?: DispatcherInvocationType;

  /**
   * @default - the dispatcher's `payloadFormat`
   */
  readonly payloadFormat?: DispatcherPayloadFormat;

  /**
   * Topic for this target's results (synchronous invocation; needs `relay`), as `relay.responseTopic` for `target`.
   * @default - its results are not relayed
   */
  readonly responseTopic?: string;

  /**
   * A role the dispatcher assumes to invoke this target, as `targetRole`.
   * @default - the dispatcher's own role
   */
  readonly targetRole?: iam.IRole;

  /**
   * The external ID `targetRole`'s trust policy requires.
   * @default - none
   */
  readonly targetRoleExternalId?: string;
}

/**
 * What a KafkaDispatcher and an InProcessDispatcher share: how records are batched, made idempotent, decoded, routed
 * and relayed. With InProcessDispatcher, the target is your function's own code and routes' targets are other functions.
 */
export interface DispatcherPipelineProps {
  /**
   * Routes records to several functions, as several Kafka Connect connectors would: each record goes to the first
   * route that takes it (by topic, header value, key prefix), else to `target`. Records of one partition stay in
   * offset order, so each function sees its records of a partition in order. A route that an earlier one leaves
   * no record to fails synthesis. `recordsPerInvocation`, `maxAttempts` and idempotency are shared.
   * @default - every record goes to `target`
   */
  readonly routes?: DispatcherRoute[];

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
   * Decodes keys and values written with a schema registry's serializers (Confluent or Glue wire format: Avro,
   * Protobuf, JSON Schema) into JSON before the target's payload is built, as a sink connector's converters do. The
   * dispatcher may read exactly the registry's secrets or Glue schemas; in a VPC it gets the endpoint (Secrets Manager,
   * Glue) and a security group rule to the registry's port. A record that does not decode takes the error path
   * (`onError`, SchemaDecodeError); an unreachable registry retries the batch. A KafkaTrigger with `schemaRegistry`
   * pointed at the dispatcher needs nothing here: the fields its mapping validates are read in its record format.
   * @default - keys and values are read as bytes
   */
  readonly schemas?: RecordSchemas;

  /**
   * Relay of results and failures to Kafka.
   * @default - nothing is relayed
   */
  readonly relay?: KafkaRelayProps;

  /**
   * How the dispatcher in a VPC reaches Lambda (the target), Secrets Manager (relay credentials) and DynamoDB (the
   * idempotency table): endpoints created (shared per VPC and stack with the triggers, each policy admitting this
   * dispatcher's role for exactly its actions and resources, a DynamoDB gateway endpoint on its subnets' route
   * tables), existing ones, or none (a NAT gateway serves).
   * @default KafkaVpcEndpoints.create() when in a VPC
   * @see https://docs.aws.amazon.com/vpc/latest/privatelink/aws-services-privatelink-support.html
   */
  readonly vpcEndpoints?: KafkaVpcEndpoints;
}

/** Properties of a KafkaDispatcher. */
export interface KafkaDispatcherProps extends DispatcherPipelineProps {
  /**
   * The user's function that the dispatcher invokes with the records (a function, version or alias). It may be in
   * another account (`lambda.Function.fromFunctionArn`): then either its owner adds the resource policy statement
   * the dispatcher prints (`targetOwnerPolicy`, output `TargetOwnerPolicy`), or `targetRole` names a role there that
   * may invoke it. With `routes`, it takes the records no route takes.
   * @default - none: required without `routes`; with them, records no route takes go to the error path (`onError`)
   */
  readonly target?: lambda.IFunction;

  /**
   * A role the dispatcher assumes to invoke the target, e.g. one in the target's account that may invoke it. The
   * dispatcher is granted exactly `sts:AssumeRole` on it, not `lambda:InvokeFunction`; the role's trust policy must
   * admit the dispatcher's role (`targetOwnerPolicy`, output `TargetOwnerPolicy`). The credentials are kept per
   * execution environment and renewed 5 minutes before they expire (1-hour sessions); in a VPC, STS is reached
   * through its interface endpoint.
   * @default - the dispatcher's own role invokes the target
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_aws-accounts.html
   */
  readonly targetRole?: iam.IRole;

  /**
   * The external ID that `targetRole`'s trust policy requires (condition `sts:ExternalId`), as the role's owner
   * gave it. It is not a secret: it is written to the dispatcher's configuration.
   * @default - none
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user_externalid.html
   */
  readonly targetRoleExternalId?: string;

  /**
   * Synchronous or asynchronous invocation of the target.
   * @default DispatcherInvocationType.REQUEST_RESPONSE
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html
   */
  readonly invocationType?: DispatcherInvocationType;

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
   * How long the dispatcher's log is kept.
   * @default logs.RetentionDays.TWO_YEARS
   */
  readonly logRetention?: logs.RetentionDays;
}

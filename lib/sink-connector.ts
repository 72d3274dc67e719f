import { Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { KafkaDispatcher } from './dispatcher';
import {
  DispatcherErrorBehavior,
  DispatcherInvocationType,
  DispatcherPayloadFormat,
  DispatcherPipelineProps,
  DispatcherRoute,
  IdempotencyMode,
} from './dispatcher-props';
import { InProcessDispatcher } from './in-process-dispatcher';
import { KafkaAuth, KafkaAuthMethod } from './kafka-auth';
import { KafkaCluster, KafkaClusterKind } from './kafka-cluster';
import { OnFailureDestination } from './destination';
import { KafkaTrigger } from './kafka-trigger';
import { RecordSchemas } from './schemas';
import { ValidationError } from './private/errors';
import { KafkaAuthSetup } from './private/kafka-auth-setup';
import { acknowledgeCreatedSecrets } from './private/nag';
import { TriggerDashboardOptions } from './trigger-props';
import { KafkaVpcEndpoints } from './vpc-endpoints';

/** Where a LambdaSinkConnector runs the dispatcher's pipeline. */
export enum SinkDispatch {
  /**
   * A dispatcher function of its own (KafkaDispatcher) invokes the target: any target (a function, version or alias,
   * in any language or account); two functions are billed per batch.
   */
  DISPATCHER_FUNCTION = 'DISPATCHER_FUNCTION',
  /**
   * Inside the target (InProcessDispatcher): the mappings invoke the target, a Node.js function you own whose handler
   * wraps your code with `inProcessHandler` or `inProcessRecordHandler` from `cdk-kafka-lambda/runtime`; one function is
   * billed per batch.
   */
  IN_PROCESS = 'IN_PROCESS',
}

/** Properties of a LambdaSinkConnector. */
export interface LambdaSinkConnectorProps {
  /** The cluster to read from and relay to. */
  readonly cluster: KafkaCluster;

  /** The topics to read (one event source mapping each). */
  readonly topics: string[];

  /**
   * Your function, invoked with the records (a function, version or alias), in this account or another; with
   * `routes`, the one for records no route takes.
   * @default - none: required without `routes`; with them, records no route takes go to the error path
   */
  readonly target?: lambda.IFunction;

  /**
   * Where the pipeline (idempotency, routing, relay) runs: in a dispatcher function that invokes `target`, or inside
   * `target` itself.
   * @default SinkDispatch.DISPATCHER_FUNCTION
   */
  readonly dispatch?: SinkDispatch;

  /**
   * Routes records to several functions by topic, header value or key prefix, as `KafkaDispatcherProps.routes`;
   * their topics must be among `topics`.
   * @default - every record goes to `target`
   */
  readonly routes?: DispatcherRoute[];

  /**
   * A role the dispatcher assumes to invoke the target (e.g. in the target's account), as `KafkaDispatcherProps.targetRole`.
   * @default - the dispatcher's own role invokes the target
   */
  readonly targetRole?: iam.IRole;

  /**
   * The external ID `targetRole`'s trust policy requires.
   * @default - none
   */
  readonly targetRoleExternalId?: string;

  /**
   * How the event source and the relay authenticate: one Kafka user, one secret, unless `relayAuth` is given.
   * @default - MSK: IAM; self-managed: SASL/SCRAM-SHA-512 with a created secret
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly auth?: KafkaAuth;

  /**
   * A separate Kafka user for the relay (e.g. one with Write on the response topics only).
   * @default - the event source's auth and secret
   */
  readonly relayAuth?: KafkaAuth;

  /**
   * Synchronous or asynchronous invocation of the target (the connectors' `aws.lambda.invocation.type`).
   * @default DispatcherInvocationType.REQUEST_RESPONSE
   */
  readonly invocationType?: DispatcherInvocationType;

  /**
   * Payload format the target receives.
   * @default DispatcherPayloadFormat.CONFLUENT
   */
  readonly payloadFormat?: DispatcherPayloadFormat;

  /**
   * Topic for the target's results (the Confluent connector's `aws.lambda.response.topic`), never a source topic.
   * @default - results are not relayed
   */
  readonly responseTopic?: string;

  /**
   * Topic for failures (the Confluent connector's error topic), never a source topic.
   * @default - failures stay in the dispatcher's log, or fail the batch
   */
  readonly errorTopic?: string;

  /**
   * The error topic's `max.message.bytes`, to size error records in bytes without reading the topic's configuration
   * (Kafka ACLs without DESCRIBE_CONFIGS), or below the topic's limit. From 16384 to 104857600; needs `errorTopic`.
   * @default - the topic's own `max.message.bytes`, read by the relay (DescribeConfigs); 1048576 when that fails
   * @see KafkaRelayProps.errorTopicMaxMessageBytes
   */
  readonly errorTopicMaxMessageBytes?: number;

  /**
   * What happens when records fail.
   * @default - DispatcherErrorBehavior.LOG with an errorTopic, otherwise DispatcherErrorBehavior.FAIL
   */
  readonly onError?: DispatcherErrorBehavior;

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
   * JSON pointer to a field of the record value to use as the idempotency key, e.g. "/orderId".
   * @default - topic-partition-offset
   */
  readonly idempotencyKeyPointer?: string;

  /**
   * Where batches that failed all retries go.
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
   */
  readonly onFailure?: OnFailureDestination;

  /**
   * Provisioned mode of the event source mappings.
   * @default - on-demand mode
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html
   */
  readonly provisionedPollers?: lambda.ProvisionedPollerConfig;

  /**
   * Keys and values in a schema registry's wire format (Confluent or Glue), decoded to JSON by the dispatcher, as
   * `KafkaDispatcherProps.schemas`.
   * @default - keys and values are read as bytes
   */
  readonly schemas?: RecordSchemas;

  /**
   * The event source mapping's own schema registry (needs `provisionedPollers`), as `KafkaTriggerProps.schemaRegistry`:
   * the fields it validates reach the dispatcher as JSON or in their source format, which it reads.
   * @default - none
   */
  readonly schemaRegistry?: lambda.ISchemaRegistry;

  /**
   * Report failed partitions with partial batch responses (needs provisioned pollers).
   * @default false
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-retry-configurations.html
   */
  readonly reportBatchItemFailures?: boolean;

  /**
   * Records per batch of the event source mapping, 1–10000.
   * @default 100
   */
  readonly batchSize?: number;

  /**
   * Most records per invocation of the target.
   * @default 100
   */
  readonly recordsPerInvocation?: number;

  /**
   * Where to start reading a topic the consumer group has no offsets for.
   * @default lambda.StartingPosition.TRIM_HORIZON
   */
  readonly startingPosition?: lambda.StartingPosition;

  /**
   * The consumer group of each topic's mapping, by topic, as `KafkaTriggerProps.consumerGroupIds`: pins the groups, so
   * that renaming or moving the connector keeps them and their committed offsets (e.g. a Kafka Connect connector's,
   * copied into them). A group that has committed offsets is resumed from them, whatever `startingPosition` says.
   * @default - a group per topic generated from the stack name and the construct path (plus the topic when there are
   * several), which changes when the connector (or its stack) is renamed or moved: the replaced mapping then starts
   * over at its `startingPosition`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-process.html#services-smaa-topic-add
   */
  readonly consumerGroupIds?: { [topic: string]: string };

  /**
   * Timeout of the dispatcher function, at most 14 minutes.
   * @default Duration.minutes(5)
   */
  readonly dispatcherTimeout?: Duration;

  /**
   * VPC endpoints, when the cluster has a VPC: shared by the event source and the dispatcher.
   * @default KafkaVpcEndpoints.create() when the cluster has a VPC
   */
  readonly vpcEndpoints?: KafkaVpcEndpoints;

  /**
   * Watch the mappings' health with a function run every 5 minutes (about 8,640 invocations a month), as
   * `KafkaTriggerProps.mappingHealth`.
   * @default true
   */
  readonly mappingHealth?: boolean;
}

/**
 * The Kafka Connect Lambda sink connector's job in one construct: reads Kafka topics with an event source mapping,
 * invokes your function once per record batch without repeating done records (a DynamoDB idempotency table), and
 * relays results and failures to Kafka topics. It creates the trigger, the dispatcher, the table and the relay,
 * sharing the cluster, the auth and its secret, and gives every function a route to what it calls in the VPC.
 *
 * @example
 * declare const vpc: ec2.IVpc;
 * declare const fn: lambda.IFunction;
 * new LambdaSinkConnector(this, 'Orders', {
 *   cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.internal:9096'], vpc }),
 *   topics: ['orders'],
 *   auth: KafkaAuth.scram256(),
 *   target: fn,
 *   responseTopic: 'orders-results',
 *   errorTopic: 'orders-errors',
 *   onFailure: OnFailureDestination.sqs(),
 * });
 */
export class LambdaSinkConnector extends Construct {
  /** The event source mappings and their network, secrets, destination and alarms. */
  public readonly trigger: KafkaTrigger;
  /**
   * The function the mappings invoke, which invokes the target and relays (`SinkDispatch.DISPATCHER_FUNCTION`).
   * @default - none with `SinkDispatch.IN_PROCESS`
   */
  public readonly dispatcher?: KafkaDispatcher;
  /**
   * The pipeline inside the target (`SinkDispatch.IN_PROCESS`).
   * @default - none with `SinkDispatch.DISPATCHER_FUNCTION`
   */
  public readonly inProcessDispatcher?: InProcessDispatcher;
  /** The Kafka credentials secret the event source (and the relay, unless relayAuth is given) uses, if the auth has one. */
  public readonly authSecret?: secretsmanager.ISecret;
  /** The brokers' root CA secret, if any. */
  public readonly rootCaSecret?: secretsmanager.ISecret;
  /** The key of the secrets this construct created. */
  public readonly secretsKey?: kms.Key;
  /**
   * The security group of the Kafka clients (event source and relay) of a self-managed cluster in a VPC given no
   * groups: attach it to the brokers or admit it on the broker port there.
   */
  public readonly securityGroup?: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: LambdaSinkConnectorProps) {
    super(scope, id);
    const relays = this.validateTopics(props);
    const clients = this.shareClients(props);
    this.securityGroup = clients.securityGroup;
    this.secretsKey = clients.secrets.key;
    this.authSecret = clients.secrets.authSecret;
    this.rootCaSecret = clients.secrets.rootCaSecret;
    const { cluster, auth } = clients;
    const pipeline: DispatcherPipelineProps = {
      routes: props.routes,
      payloadFormat: props.payloadFormat,
      recordsPerInvocation: props.recordsPerInvocation,
      onError: props.onError ?? (props.errorTopic !== undefined ? DispatcherErrorBehavior.LOG : DispatcherErrorBehavior.FAIL),
      reportBatchItemFailures: props.reportBatchItemFailures,
      idempotency: props.idempotency,
      idempotencyMode: props.idempotencyMode,
      idempotencyKeyPointer: props.idempotencyKeyPointer,
      schemas: props.schemas,
      vpcEndpoints: props.vpcEndpoints,
      relay: relays
        ? {
            cluster,
            auth: props.relayAuth ?? auth,
            responseTopic: props.responseTopic,
            errorTopic: props.errorTopic,
            errorTopicMaxMessageBytes: props.errorTopicMaxMessageBytes,
          }
        : undefined,
    };
    let target: lambda.IFunction;
    if (props.dispatch === SinkDispatch.IN_PROCESS) {
      this.inProcessDispatcher = new InProcessDispatcher(this, 'Dispatcher', { ...pipeline, function: this.ownTarget(props) });
      target = this.inProcessDispatcher.function;
    } else {
      this.dispatcher = new KafkaDispatcher(this, 'Dispatcher', {
        ...pipeline,
        target: props.target,
        targetRole: props.targetRole,
        targetRoleExternalId: props.targetRoleExternalId,
        invocationType: props.invocationType,
        timeout: props.dispatcherTimeout,
      });
      target = this.dispatcher.function;
    }
    this.trigger = new KafkaTrigger(this, 'Trigger', {
      cluster,
      topics: props.topics,
      target,
      auth,
      batchSize: props.batchSize,
      startingPosition: props.startingPosition,
      consumerGroupIds: props.consumerGroupIds,
      provisionedPollers: props.provisionedPollers,
      schemaRegistry: props.schemaRegistry,
      reportBatchItemFailures: props.reportBatchItemFailures,
      onFailure: props.onFailure,
      vpcEndpoints: props.vpcEndpoints,
      mappingHealth: props.mappingHealth,
    });
  }

  /**
   * The trigger's CloudWatch dashboard (`KafkaTrigger.dashboard`): OffsetLag, the dispatcher's records, the target's
   * errors and throttles, the on-failure queue's depth and the mappings' health.
   */
  public dashboard(options?: TriggerDashboardOptions): cloudwatch.Dashboard {
    return this.trigger.dashboard(options);
  }

  /** In process: the target is a function of this app, and the props of a separate dispatcher function are refused. */
  private ownTarget(props: LambdaSinkConnectorProps): lambda.Function {
    const separate = (['targetRole', 'targetRoleExternalId', 'invocationType', 'dispatcherTimeout'] as const).find(
      (p) => props[p] !== undefined,
    );
    if (separate !== undefined) {
      this.fail(
        separate,
        props[separate] instanceof Duration ? (props[separate] as Duration).toHumanString() : props[separate],
        'it is for a dispatcher function of its own: remove it, or use SinkDispatch.DISPATCHER_FUNCTION',
      );
    }
    if (!(props.target instanceof lambda.Function)) {
      this.fail(
        'target',
        props.target?.node.path,
        'SinkDispatch.IN_PROCESS runs the pipeline inside the target: give a lambda.Function of this app (Node.js 20 or later)',
      );
    }
    return props.target;
  }

  private fail(prop: string, value: unknown, fix: string): never {
    throw new ValidationError(this, prop, value, fix);
  }

  /** No relayed topic is a source topic, and routes take source topics only. Returns whether anything is relayed. */
  private validateTopics(props: LambdaSinkConnectorProps): boolean {
    const routes = props.routes ?? [];
    const relayed: Array<[string, string | undefined]> = [
      ['responseTopic', props.responseTopic],
      ['errorTopic', props.errorTopic],
      ...routes.map((r, i): [string, string | undefined] => [`routes[${i}].responseTopic`, r.responseTopic]),
    ];
    for (const [prop, topic] of relayed) {
      if (topic !== undefined && props.topics.includes(topic)) {
        this.fail(
          prop,
          topic,
          'it is a source topic: every relayed record would be read and dispatched again, a loop. Name another topic',
        );
      }
    }
    routes.forEach((r, i) => {
      const unread = (r.topics ?? []).find((t) => !Token.isUnresolved(t) && !props.topics.includes(t));
      if (unread !== undefined) {
        this.fail(
          `routes[${i}].topics`,
          unread,
          `the connector reads ${JSON.stringify(props.topics)} only: add the topic to topics, or remove it from the route`,
        );
      }
    });
    if (props.errorTopicMaxMessageBytes !== undefined && props.errorTopic === undefined) {
      this.fail(
        'errorTopicMaxMessageBytes',
        props.errorTopicMaxMessageBytes,
        "it sizes the error topic's records: set errorTopic too, or remove it",
      );
    }
    return relayed.some(([, topic]) => topic !== undefined);
  }

  /**
   * What the event source and the relay share: the clients' security group (created before both clients) and the
   * secrets (created before both too: the relay reads the very secret the event source uses).
   */
  private shareClients(props: LambdaSinkConnectorProps) {
    const msk = props.cluster.kind === KafkaClusterKind.MSK;
    const requested = props.auth ?? (msk ? KafkaAuth.iam() : KafkaAuth.scram512());
    let cluster = props.cluster;
    let securityGroup: ec2.SecurityGroup | undefined;
    const sm = cluster.selfManagedProps;
    if (sm?.vpc && sm.securityGroups === undefined) {
      securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: sm.vpc,
        description: `Kafka clients of ${this.node.path}: attach to the brokers or admit it on the broker port`,
        allowAllOutbound: false,
      });
      cluster = KafkaCluster.selfManaged({ ...sm, securityGroups: [securityGroup] });
    }
    const setup = new KafkaAuthSetup(this, requested, cluster, (prop, value, fix) => this.fail(prop, value, fix));
    setup.validate();
    const secrets = setup.createSecrets();
    acknowledgeCreatedSecrets(this, [secrets.authSecret, secrets.rootCaSecret]);
    if (secrets.rootCaSecret && cluster.selfManagedProps) {
      cluster = KafkaCluster.selfManaged({
        ...cluster.selfManagedProps,
        rootCaCertificatePem: undefined,
        rootCaSecret: secrets.rootCaSecret,
      });
    }
    return { cluster, auth: withSecret(requested, secrets.authSecret), securityGroup, secrets };
  }
}

/** The same auth method with its secret named, so that two clients share it. */
function withSecret(auth: KafkaAuth, secret?: secretsmanager.ISecret): KafkaAuth {
  if (secret === undefined) return auth;
  switch (auth.method) {
    case KafkaAuthMethod.SASL_SCRAM_512:
      return KafkaAuth.scram512({ secret });
    case KafkaAuthMethod.SASL_SCRAM_256:
      return KafkaAuth.scram256({ secret });
    case KafkaAuthMethod.SASL_PLAIN:
      return KafkaAuth.plain({ secret });
    case KafkaAuthMethod.MTLS:
      return KafkaAuth.mtls({ secret });
    default:
      return auth;
  }
}

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { MetricName } from '../contract/dispatcher-config';
import { KafkaDispatcherProps, KafkaRelayProps } from './dispatcher-props';
import { DispatcherTriggerBinding, DispatcherTriggerOptions, IDispatcherTarget } from './dispatcher-target';
import { DISPATCHER_TARGET_SYMBOL } from './private/dispatcher-target';
import { ValidationError } from './private/errors';
import { HANDLER_RUNTIME, handlerCode } from './private/handler-runtime';
import { DispatcherNetwork, DispatcherPipeline, dispatcherMetric } from './private/pipeline';
import { eniStatement } from './private/vpc-endpoints';

/**
 * The dispatcher's function: it carries the dispatcher's binding (IDispatcherTarget, recognised by its mark), so a
 * trigger given `dispatcher.function` as its target binds to the dispatcher.
 */
class DispatcherFunction extends lambda.Function implements IDispatcherTarget {
  constructor(
    scope: Construct,
    id: string,
    props: lambda.FunctionProps,
    private readonly binder: (trigger: Construct, options: DispatcherTriggerOptions) => DispatcherTriggerBinding,
  ) {
    super(scope, id, props);
    Object.defineProperty(this, DISPATCHER_TARGET_SYMBOL, { value: this });
  }

  public bindTrigger(trigger: Construct, options: DispatcherTriggerOptions): DispatcherTriggerBinding {
    return this.binder(trigger, options);
  }
}

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
  /**
   * The dispatcher function: point the KafkaTrigger or KinesisTrigger at it (`target: dispatcher.function`). It is an
   * IDispatcherTarget (`DispatcherTarget.isDispatcherTarget`): a trigger that targets it binds to this dispatcher.
   */
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

  /** The VPC endpoints the dispatcher uses, by service (`lambda`, `sts`, `secretsManager`, `glue`, `dynamoDb`), when in a VPC. */
  public readonly vpcEndpoints: { [service: string]: ec2.VpcEndpoint };

  /**
   * What the target's owner must add, also written as the stack output `TargetOwnerPolicy`: with `targetRole`, the
   * role's trust policy (it admits the dispatcher's role, with the external ID); for a target in another account
   * invoked with the dispatcher's own role, the statement of the function's resource policy.
   */
  public readonly targetOwnerPolicy?: iam.PolicyDocument;

  private readonly vpcConnections?: ec2.Connections;
  private readonly pipeline: DispatcherPipeline;

  constructor(scope: Construct, id: string, props: KafkaDispatcherProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(5);
    const network = this.network(props);
    const created = this.createFunction(props, timeout, network);
    this.role = created.role;
    this.logGroup = created.logGroup;
    this.function = created.fn;
    this.vpcConnections = network.vpc ? this.function.connections : undefined;
    this.pipeline = new DispatcherPipeline(
      {
        scope: this,
        fn: this.function,
        role: this.role,
        logGroup: this.logGroup,
        network,
        timeout,
        timeoutProp: 'timeout',
        inProcess: false,
        label: `the dispatcher ${this.node.path}`,
      },
      props,
    );
    this.serviceName = this.pipeline.serviceName;
    this.reportBatchItemFailures = this.pipeline.reportBatchItemFailures;
    this.relay = this.pipeline.relay;
    this.relaySecret = this.pipeline.relaySecret;
    this.table = this.pipeline.table;
    this.vpcEndpoints = this.pipeline.vpcEndpoints;
    this.targetOwnerPolicy = this.pipeline.targetOwnerPolicy;
  }

  /** The function's VPC (its own, or the relay cluster's), subnets and security groups (given, or one created). */
  private network(props: KafkaDispatcherProps): DispatcherNetwork {
    const vpc = props.vpc ?? props.relay?.cluster.vpc;
    const subnetSelection = props.vpcSubnets ?? (props.vpc === undefined ? props.relay?.cluster.subnets : undefined);
    const securityGroups =
      vpc === undefined
        ? undefined
        : (props.securityGroups ?? [
            new ec2.SecurityGroup(this, 'SecurityGroup', {
              vpc,
              description: `Dispatcher ${this.node.path} (cdk-kafka-lambda)`,
              allowAllOutbound: false,
            }),
          ]);
    return { vpc, subnetSelection, securityGroups };
  }

  /** The execution role (its log group's writes, and network interfaces in a VPC), the log group and the function. */
  private createFunction(
    props: KafkaDispatcherProps,
    timeout: Duration,
    network: DispatcherNetwork,
  ): { role: iam.Role; logGroup: logs.LogGroup; fn: DispatcherFunction } {
    const role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the cdk-kafka-lambda dispatcher ${this.node.path}`,
    });
    const logGroup = new logs.LogGroup(this, 'LogGroup', { retention: props.logRetention ?? logs.RetentionDays.TWO_YEARS });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [logGroup.logGroupArn],
      }),
    );
    if (network.vpc) role.addToPrincipalPolicy(eniStatement());

    const fn = new DispatcherFunction(
      this,
      'Function',
      {
        runtime: HANDLER_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        handler: 'index.handler',
        code: handlerCode('dispatcher'),
        timeout,
        memorySize: props.memorySize ?? 512,
        role,
        logGroup,
        vpc: network.vpc,
        vpcSubnets: network.subnetSelection,
        securityGroups: network.securityGroups,
        description: 'cdk-kafka-lambda dispatcher: Kafka or Kinesis records to the target function, results to Kafka',
      },
      (trigger, options) => this.pipeline.bindTrigger(trigger, options),
    );
    return { role, logGroup, fn };
  }

  /** The dispatcher's security groups, when it runs in a VPC. */
  public get connections(): ec2.Connections {
    if (this.vpcConnections === undefined) {
      throw new ValidationError(
        this,
        'vpc',
        undefined,
        'the dispatcher has no connections outside a VPC; set vpc (or a relay cluster with a vpc) to place it in one',
      );
    }
    return this.vpcConnections;
  }

  /**
   * A metric of the dispatcher's embedded metrics: RecordsIn, RecordsInvoked, RecordsResponded,
   * RecordsFailed, RecordsDropped, RecordsSkippedDuplicate, InvokeRetries, Invocations, ReinvokedForLostResult,
   * RecordsUnknownOutcome, RecordsNotRecorded.
   * @default - sum over 5 minutes
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return dispatcherMetric(this.serviceName, metricName, props);
  }

  /** Records that failed (with any error behaviour). */
  public metricRecordsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.named('RecordsFailed', props);
  }

  /** Records dropped after an error (DispatcherErrorBehavior.DROP). */
  public metricRecordsDropped(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.named('RecordsDropped', props);
  }

  /** Records skipped because they were already done. */
  public metricRecordsSkippedDuplicate(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.named('RecordsSkippedDuplicate', props);
  }

  /** A metric by a name the runtime writes (checked at compile time against the contract's list). */
  private named(metricName: MetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(metricName, props);
  }
}

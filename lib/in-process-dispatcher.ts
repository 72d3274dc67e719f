import * as path from 'path';
import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { MetricName } from '../contract/dispatcher-config';
import { DispatcherPipelineProps, KafkaRelayProps } from './dispatcher-props';
import { DispatcherTriggerBinding, DispatcherTriggerOptions, IDispatcherTarget } from './dispatcher-target';
import { DISPATCHER_TARGET_SYMBOL, unboundTriggers } from './private/dispatcher-target';
import { ValidationError } from './private/errors';
import { ASSETS_DIR } from './private/handler-runtime';
import { DispatcherPipeline, dispatcherMetric } from './private/pipeline';

/** Properties of an InProcessDispatcher. */
export interface InProcessDispatcherProps extends DispatcherPipelineProps {
  /**
   * Your function, on Node.js 20 or later, whose handler wraps your code with `inProcessHandler` or
   * `inProcessRecordHandler` from `cdk-kafka-lambda/runtime`. Point the KafkaTrigger or KinesisTrigger at it
   * (`target: fn`): the trigger binds to this dispatcher. Its timeout must be longer than `timeMargin`.
   */
  readonly function: lambda.Function;

  /**
   * Add the runtime library to the function as a Lambda layer (one per stack), so that its handler can
   * `require('cdk-kafka-lambda/runtime')` without bundling it. Turn it off when you bundle the runtime library
   * into your function yourself (e.g. with NodejsFunction, after `npm install kafkajs`).
   * @default true
   */
  readonly runtimeLayer?: boolean;

  /**
   * The VPC the function runs in, where the endpoints to DynamoDB, Secrets Manager, Lambda and Glue go.
   * @default - the relay cluster's VPC, when the function is in a VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The function's subnets, where the interface endpoints go.
   * @default - the relay cluster's subnets in its VPC, otherwise the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
}

/** The runtime library as a layer, one per stack. */
function runtimeLayer(scope: Construct): lambda.LayerVersion {
  const stack = Stack.of(scope);
  const id = 'CdkKafkaLambdaRuntimeLayer';
  return (
    (stack.node.tryFindChild(id) as lambda.LayerVersion | undefined) ??
    new lambda.LayerVersion(stack, id, {
      code: lambda.Code.fromAsset(path.join(ASSETS_DIR, 'runtime-layer')),
      description: 'cdk-kafka-lambda runtime library: require("cdk-kafka-lambda/runtime")',
    })
  );
}

/**
 * The dispatcher's pipeline inside your own function: the event source mapping triggers your function, whose handler
 * (`inProcessHandler(fn)` from `cdk-kafka-lambda/runtime`) decodes the records, skips those already done, calls your
 * code in place of a target function, and relays results and failures, with the same promises as a KafkaDispatcher and
 * one function billed per batch instead of two. This construct gives the function what the pipeline needs: the
 * idempotency table and exactly its grants, the relay's secret, schema registry access, VPC endpoints, the
 * configuration (environment variable `CKL_DISPATCHER_CONFIG`) and the runtime library as a layer.
 *
 * @example
 * declare const fn: lambda.Function; // handler: exports.handler = inProcessRecordHandler(async (record) => ...)
 * declare const cluster: KafkaCluster;
 * new InProcessDispatcher(this, 'Exactly', { function: fn, reportBatchItemFailures: true });
 * new KafkaTrigger(this, 'Orders', { cluster, topics: ['orders'], target: fn, reportBatchItemFailures: true });
 */
export class InProcessDispatcher extends Construct implements IDispatcherTarget {
  /** Your function, as given. */
  public readonly function: lambda.Function;

  /** The idempotency table, unless idempotency is off. */
  public readonly table?: dynamodb.Table;

  /** The value of the `service` dimension of the pipeline's metrics. */
  public readonly serviceName: string;

  /** Whether the handler answers with partial batch responses; a trigger pointed at the function must read them. */
  public readonly reportBatchItemFailures: boolean;

  /** The relay, as given. */
  public readonly relay?: KafkaRelayProps;

  /** The relay's credentials secret (created or given), if its auth uses one. */
  public readonly relaySecret?: secretsmanager.ISecret;

  /** The VPC endpoints the function uses, by service (`lambda`, `sts`, `secretsManager`, `glue`, `dynamoDb`), when in a VPC. */
  public readonly vpcEndpoints: { [service: string]: ec2.VpcEndpoint };

  /** The runtime library's layer, unless `runtimeLayer` is false. */
  public readonly runtimeLayer?: lambda.ILayerVersion;

  private readonly pipeline: DispatcherPipeline;

  constructor(scope: Construct, id: string, props: InProcessDispatcherProps) {
    super(scope, id);
    const fn = props.function;
    this.checkFunction(fn);
    this.function = fn;
    const vpc = props.vpc ?? props.relay?.cluster.vpc;
    if (fn.isBoundToVpc && vpc === undefined) {
      this.fail('vpc', undefined, "the function runs in a VPC: give that VPC (vpc), where the pipeline's endpoints go");
    }
    if (!fn.isBoundToVpc && props.relay?.cluster.vpc !== undefined) {
      Annotations.of(this).addWarningV2(
        'cdk-kafka-lambda:inProcessRelayOutsideVpc',
        "relay.cluster is in a VPC but the function is not: the relay reaches the brokers only if they are reachable from outside the VPC. Place the function in the cluster's VPC (and give vpc).",
      );
    }
    Object.defineProperty(this, DISPATCHER_TARGET_SYMBOL, { value: this });
    Object.defineProperty(fn, DISPATCHER_TARGET_SYMBOL, { value: this });
    this.pipeline = new DispatcherPipeline(
      {
        scope: this,
        fn,
        role: fn.role!,
        network: fn.isBoundToVpc
          ? {
              vpc,
              subnetSelection: props.vpcSubnets ?? (props.vpc === undefined ? props.relay?.cluster.subnets : undefined),
              securityGroups: fn.connections.securityGroups,
            }
          : {},
        timeout: fn.timeout ?? Duration.seconds(3),
        timeoutProp: 'function.timeout',
        inProcess: true,
        label: `the function ${fn.node.path}`,
      },
      props,
    );
    this.serviceName = this.pipeline.serviceName;
    this.reportBatchItemFailures = this.pipeline.reportBatchItemFailures;
    this.relay = this.pipeline.relay;
    this.relaySecret = this.pipeline.relaySecret;
    this.table = this.pipeline.table;
    this.vpcEndpoints = this.pipeline.vpcEndpoints;
    if (props.runtimeLayer !== false) {
      this.runtimeLayer = runtimeLayer(this);
      fn.addLayers(this.runtimeLayer);
    }
  }

  /** Called by each trigger that targets the function. */
  public bindTrigger(trigger: Construct, options: DispatcherTriggerOptions): DispatcherTriggerBinding {
    return this.pipeline.bindTrigger(trigger, options);
  }

  /**
   * A metric of the pipeline's embedded metrics: RecordsIn, RecordsInvoked, RecordsResponded, RecordsFailed,
   * RecordsDropped, RecordsSkippedDuplicate, InvokeRetries, Invocations, ReinvokedForLostResult, RecordsUnknownOutcome,
   * RecordsNotRecorded.
   * @default - sum over 5 minutes
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return dispatcherMetric(this.serviceName, metricName, props);
  }

  /** Records that failed (with any error behaviour). */
  public metricRecordsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.named('RecordsFailed', props);
  }

  /** Records skipped because they were already done. */
  public metricRecordsSkippedDuplicate(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.named('RecordsSkippedDuplicate', props);
  }

  /** A metric by a name the runtime writes (checked at compile time against the contract's list). */
  private named(metricName: MetricName, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric(metricName, props);
  }

  /** Refuses a function the pipeline cannot run in. */
  private checkFunction(fn: lambda.Function): void {
    if (fn.runtime.family !== lambda.RuntimeFamily.NODEJS) {
      this.fail(
        'function',
        fn.runtime.name,
        'the pipeline runs in Node.js: use a Node.js 20 or later function whose handler wraps your code (inProcessHandler), or a ' +
          'KafkaDispatcher with this function as its target',
      );
    }
    const major = /^nodejs(\d+)/.exec(fn.runtime.name)?.[1];
    if (major !== undefined && Number(major) < 20) {
      this.fail(
        'function',
        fn.runtime.name,
        'the runtime library needs Node.js 20 or later: use lambda.Runtime.NODEJS_22_X or later',
      );
    }
    if ((fn as any)[DISPATCHER_TARGET_SYMBOL] !== undefined) {
      this.fail(
        'function',
        fn.node.path,
        "it is already a dispatcher (a KafkaDispatcher's function, or given to another InProcessDispatcher)",
      );
    }
    const triggers = unboundTriggers(fn);
    if (triggers.length) {
      this.fail(
        'function',
        fn.node.path,
        `${triggers.join(', ')} already target${triggers.length === 1 ? 's' : ''} it: create the InProcessDispatcher before the ` +
          'triggers that target the function, so that they bind to it',
      );
    }
    if (fn.role === undefined) {
      this.fail('function', fn.node.path, 'it has no execution role to grant the pipeline its table, secrets and registry');
    }
  }

  private fail(prop: string, value: unknown, fix: string): never {
    throw new ValidationError(this, prop, value, fix);
  }
}

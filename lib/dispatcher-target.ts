import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { KafkaRelayProps } from './dispatcher-props';
import { DISPATCHER_TARGET_SYMBOL, functionOf } from './private/dispatcher-target';

/** The kind of event source a trigger maps to a dispatcher. */
export enum DispatcherSourceKind {
  /** A Kafka topic (KafkaTrigger). */
  KAFKA = 'kafka',
  /** A Kinesis data stream (KinesisTrigger). */
  KINESIS = 'kinesis',
}

/** What a trigger tells the dispatcher it targets about its event source mapping. */
export interface DispatcherTriggerOptions {
  /** The kind of event source. */
  readonly sourceKind: DispatcherSourceKind;

  /**
   * Kinesis: the mapping's parallelization factor. The dispatcher keeps what is done per range of a shard only when
   * every Kinesis mapping that targets it hands it a shard's batches one at a time (factor 1).
   * @default 1
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-parallelization.html
   */
  readonly parallelizationFactor?: number;

  /**
   * Kafka: the schema registry the mapping validates records with. The fields it validates reach the dispatcher in
   * the mapping's record format (JSON, or SOURCE with the schema id in their metadata).
   * @default - no schema registry: the dispatcher receives the records' bytes
   * @see https://docs.aws.amazon.com/lambda/latest/dg/services-consume-kafka-events.html
   */
  readonly schemaRegistry?: lambda.ISchemaRegistry;

  /**
   * Kafka: the mapping's configuration of `schemaRegistry`, as the mapping's CloudFormation resource writes it.
   * @default - none (required with `schemaRegistry`)
   */
  readonly schemaRegistryConfig?: lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty;
}

/** What the dispatcher tells a trigger that targets it. */
export interface DispatcherTriggerBinding {
  /** How messages name the dispatcher, e.g. `KafkaDispatcher MyStack/Dispatcher`. */
  readonly name: string;

  /**
   * Whether the dispatcher answers with partial batch responses: the trigger's mapping must then read them
   * (ReportBatchItemFailures), or it would take the failed records for done.
   */
  readonly reportBatchItemFailures: boolean;

  /**
   * The dispatcher's relay: a Kafka trigger must not read the topics it writes on the same cluster.
   * @default - no relay
   */
  readonly relay?: KafkaRelayProps;

  /**
   * The `service` dimension of the dispatcher's embedded metrics (namespace `CdkKafkaLambda`), which the trigger's
   * dashboard draws.
   * @default - the trigger's dashboard draws no dispatcher metrics
   */
  readonly metricsServiceName?: string;
}

/**
 * A function that a KafkaTrigger or KinesisTrigger binds to when it targets it, as an aws-cdk event source binds to
 * its function: the function of a KafkaDispatcher (`dispatcher.function`). The trigger hands over what the dispatcher
 * must know of its mapping and gets back what it must check of the dispatcher.
 */
export interface IDispatcherTarget {
  /**
   * Called once by each trigger that targets this function, in the trigger's constructor.
   *
   * @param trigger the trigger: the dispatcher's validation errors about the trigger's props name it
   * @param options what the dispatcher must know of the trigger's mapping
   */
  bindTrigger(trigger: Construct, options: DispatcherTriggerOptions): DispatcherTriggerBinding;
}

/** Recognises dispatcher targets. */
export class DispatcherTarget {
  /**
   * Whether `x` is a dispatcher target itself, such as the function of a KafkaDispatcher or an InProcessDispatcher.
   * Recognised by a mark on the object (as `Stack.isStack` does), never by the construct tree.
   */
  public static isDispatcherTarget(x: any): x is IDispatcherTarget {
    return x !== null && typeof x === 'object' && x[DISPATCHER_TARGET_SYMBOL] === x;
  }

  /**
   * The dispatcher target a trigger's target function stands for: the function of a KafkaDispatcher itself, or the
   * InProcessDispatcher attached to a function, or to the function of a version or alias given; undefined for any other
   * function. A trigger calls its `bindTrigger`.
   */
  public static of(fn: lambda.IFunction): IDispatcherTarget | undefined {
    const marked = functionOf(fn)?.[DISPATCHER_TARGET_SYMBOL];
    return DispatcherTarget.isDispatcherTarget(marked) ? marked : undefined;
  }

  private constructor() {}
}

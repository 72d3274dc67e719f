import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { HANDLER_RUNTIME, handlerCode } from './private/handler-runtime';

/**
 * Properties of a KafkaDispatcher.
 */
export interface KafkaDispatcherProps {
  /**
   * The user's function that the dispatcher invokes with the decoded records.
   */
  readonly target: lambda.IFunction;

  /**
   * Timeout of the dispatcher function. Kafka event source mappings support at most 14 minutes.
   *
   * @default Duration.minutes(5)
   */
  readonly timeout?: Duration;
}

/**
 * The dispatcher: a Lambda function, the target of a Kafka event source mapping, that decodes the
 * records and invokes the user's target function with them.
 *
 * @example
 * declare const target: lambda.IFunction;
 * const dispatcher = new KafkaDispatcher(this, 'Dispatcher', { target });
 */
export class KafkaDispatcher extends Construct {
  /** The dispatcher function. */
  public readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: KafkaDispatcherProps) {
    super(scope, id);
    this.function = new lambda.Function(this, 'Function', {
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: handlerCode('dispatcher'),
      timeout: props.timeout ?? Duration.minutes(5),
      memorySize: 512,
      environment: {
        TARGET_FUNCTION: props.target.functionArn,
      },
    });
    props.target.grantInvoke(this.function);
  }
}

import { App, Stack, StackProps } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { SelfManagedKafkaEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { KafkaDispatcher } from '../lib';

/** Fixed environment so the app synthesizes without credentials or lookups. */
export const EXAMPLE_ENV = { account: '111122223333', region: 'us-east-1' };

/** A stand-in for the user's own function. */
function exampleTarget(scope: Construct): lambda.Function {
  return new lambda.Function(scope, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async (batch) => batch.map(({ payload }) => ({ payload: { ...payload, result: "ok" } }));'),
  });
}

/** Self-managed Kafka → dispatcher → the user's function. */
export class SelfManagedDispatchStack extends Stack {
  public readonly dispatcher: KafkaDispatcher;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.dispatcher = new KafkaDispatcher(this, 'Dispatcher', { target: exampleTarget(this) });
    this.dispatcher.function.addEventSource(new SelfManagedKafkaEventSource({
      bootstrapServers: ['b-1.kafka.example.com:9092', 'b-2.kafka.example.com:9092'],
      topic: 'orders',
      startingPosition: lambda.StartingPosition.TRIM_HORIZON,
      batchSize: 100,
      secret: secretsmanager.Secret.fromSecretCompleteArn(this, 'ScramSecret',
        'arn:aws:secretsmanager:us-east-1:111122223333:secret:kafka-scram-AbCdEf'),
    }));
  }
}

/** Every example stack of the app, in one place so tests can synthesize the same set. */
export function buildExampleStacks(app: App): Stack[] {
  return [
    new SelfManagedDispatchStack(app, 'KafkaLambdaSelfManaged', { env: EXAMPLE_ENV }),
  ];
}

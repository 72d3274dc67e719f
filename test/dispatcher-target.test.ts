import { Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  DispatcherErrorBehavior,
  DispatcherSourceKind,
  DispatcherTarget,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KinesisTrigger,
} from '../lib';
import { configOf } from './support/dispatcher-config';
import { testFunction, testStack } from './trigger/support';

describe('DispatcherTarget', () => {
  test("recognises the dispatcher's function by its mark, not by where a function sits in the construct tree", () => {
    // GIVEN a dispatcher of a target, and a function of the user's created inside the dispatcher's scope
    const stack = testStack();
    const target = testFunction(stack);
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target });
    const besideIt = new lambda.Function(dispatcher, 'Other', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
    });
    // WHEN each is checked THEN only the dispatcher's function is a dispatcher target
    expect(DispatcherTarget.isDispatcherTarget(dispatcher.function)).toBe(true);
    expect(DispatcherTarget.isDispatcherTarget(besideIt)).toBe(false);
    expect(DispatcherTarget.isDispatcherTarget(target)).toBe(false);
    expect(
      DispatcherTarget.isDispatcherTarget(
        lambda.Function.fromFunctionArn(stack, 'Imported', 'arn:aws:lambda:us-east-1:111122223333:function:d'),
      ),
    ).toBe(false);
    expect(DispatcherTarget.isDispatcherTarget(undefined)).toBe(false);
    expect(DispatcherTarget.isDispatcherTarget(null)).toBe(false);
  });

  test('bindTrigger hands the trigger what it checks, and the dispatcher keeps what the trigger told it', () => {
    // GIVEN a relaying dispatcher answering with partial batch responses
    const stack = testStack();
    const cluster = KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9092'] });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
      target: testFunction(stack),
      reportBatchItemFailures: true,
      onError: DispatcherErrorBehavior.LOG,
      relay: { cluster, auth: KafkaAuth.none(), errorTopic: 'orders-errors' },
    });
    const fn: unknown = dispatcher.function;
    if (!DispatcherTarget.isDispatcherTarget(fn)) throw new Error("the dispatcher's function is a dispatcher target");
    // WHEN a trigger binds with a Kinesis mapping of factor 1
    const binding = fn.bindTrigger(stack, { sourceKind: DispatcherSourceKind.KINESIS, parallelizationFactor: 1 });
    // THEN it learns the dispatcher's name, answers, relay and the service dimension of its metrics
    expect(binding).toEqual({
      name: 'KafkaDispatcher TestStack/Dispatcher',
      reportBatchItemFailures: true,
      relay: dispatcher.relay,
      metricsServiceName: dispatcher.serviceName,
    });
    // AND the dispatcher keeps a shard's records per range, as its only Kinesis mapping hands it one batch at a time
    expect(configOf(Template.fromStack(stack)).idempotency.kinesisRanges).toBe(true);
  });

  test('a KinesisTrigger binds to the dispatcher it targets: a factor above 1 keeps records per key', () => {
    // GIVEN a dispatcher WHEN a KinesisTrigger with parallelization factor 4 targets its function
    const stack = testStack();
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target: testFunction(stack) });
    const stream = kinesis.Stream.fromStreamArn(stack, 'Stream', 'arn:aws:kinesis:us-east-1:111122223333:stream/clicks');
    new KinesisTrigger(stack, 'Clicks', { stream, target: dispatcher.function, parallelizationFactor: 4 });
    // THEN the dispatcher does not keep the shard's records per range
    expect(configOf(Template.fromStack(stack)).idempotency.kinesisRanges).toBeUndefined();
  });
});

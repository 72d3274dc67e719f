import { Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  DispatcherErrorBehavior,
  DispatcherTarget,
  IdempotencyMode,
  InProcessDispatcher,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaTrigger,
  KinesisTrigger,
} from '../lib';
import { configOf } from './support/dispatcher-config';
import { testFunction, testStack } from './trigger/support';

/** The user's function: Node.js, a minute to run. */
function userFunction(stack: ReturnType<typeof testStack>, props: Partial<lambda.FunctionProps> = {}): lambda.Function {
  return new lambda.Function(stack, 'Orders', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline("exports.handler = require('cdk-kafka-lambda/runtime').inProcessRecordHandler(async () => 1);"),
    timeout: Duration.minutes(1),
    ...props,
  });
}

const cluster = () => KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] });

describe('InProcessDispatcher', () => {
  test("GIVEN the user's function WHEN the pipeline is attached THEN it gets the configuration, the table, exactly its grants and the layer", () => {
    // GIVEN a function and a relay
    const stack = testStack();
    const fn = userFunction(stack);
    // WHEN the pipeline is attached with strict idempotency and a relay
    const attached = new InProcessDispatcher(stack, 'Exactly', {
      function: fn,
      idempotencyMode: IdempotencyMode.STRICT,
      onError: DispatcherErrorBehavior.LOG,
      relay: { cluster: cluster(), auth: KafkaAuth.scram512(), responseTopic: 'results', errorTopic: 'errors' },
    });
    const template = Template.fromStack(stack);
    // THEN the configuration marks the target as the function's own code, with no function to invoke
    const config = configOf(template);
    expect(config.target).toMatchObject({ inProcess: true, invocationType: 'RequestResponse', timeoutMs: 5000 });
    expect(config.target.functionName).toBeUndefined();
    expect(config.idempotency).toMatchObject({ mode: 'strict' });
    expect(config.relay).toMatchObject({ auth: 'scram-sha-512', responseTopic: 'results', errorTopic: 'errors' });
    expect(config.metrics.service).toBe('TestStack/Exactly');
    // AND the function's role may use the table and read the relay's secret, and invoke nothing
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    const statements = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(statements).toContain('dynamodb:PutItem');
    expect(statements).toContain('secretsmanager:GetSecretValue');
    expect(statements).not.toContain('lambda:InvokeFunction');
    // AND the runtime library is a layer of the function
    template.resourceCountIs('AWS::Lambda::LayerVersion', 1);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs22.x',
      Layers: [{ Ref: Match.stringLikeRegexp('CdkKafkaLambdaRuntimeLayer') }],
    });
    expect(attached.table).toBeDefined();
    expect(attached.metricRecordsFailed().dimensions).toEqual({ service: 'TestStack/Exactly' });
  });

  test('GIVEN two functions with the pipeline in one stack WHEN synthesized THEN they share one runtime layer', () => {
    const stack = testStack();
    new InProcessDispatcher(stack, 'A', { function: userFunction(stack) });
    new InProcessDispatcher(stack, 'B', { function: testNode(stack) });
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::LayerVersion', 1);
  });

  test('GIVEN runtimeLayer false WHEN the pipeline is attached THEN the function gets no layer (it bundles the runtime itself)', () => {
    const stack = testStack();
    const attached = new InProcessDispatcher(stack, 'Exactly', { function: userFunction(stack), runtimeLayer: false });
    expect(attached.runtimeLayer).toBeUndefined();
    Template.fromStack(stack).resourceCountIs('AWS::Lambda::LayerVersion', 0);
  });

  test('GIVEN the pipeline attached WHEN a KafkaTrigger and a KinesisTrigger target the function THEN they bind to it', () => {
    // GIVEN a function with the pipeline answering partial batch responses
    const stack = testStack();
    const fn = userFunction(stack);
    const attached = new InProcessDispatcher(stack, 'Exactly', { function: fn, reportBatchItemFailures: true });
    // THEN the function stands for the dispatcher
    expect(DispatcherTarget.of(fn)).toBe(attached);
    expect(DispatcherTarget.isDispatcherTarget(fn)).toBe(false);
    expect(DispatcherTarget.isDispatcherTarget(attached)).toBe(true);
    // WHEN a Kinesis trigger that does not read partial batch responses targets it THEN it is refused, naming the prop
    const stream = new kinesis.Stream(stack, 'Stream');
    expect(() => new KinesisTrigger(stack, 'Clicks', { stream, target: fn })).toThrow(/reportBatchItemFailures/);
    // AND one that reads them, with factor 1, makes the pipeline keep Kinesis ranges
    new KinesisTrigger(stack, 'Clicks2', { stream, target: fn, reportBatchItemFailures: true });
    expect(configOf(Template.fromStack(stack)).idempotency.kinesisRanges).toBe(true);
  });

  test.each([
    ['an alias', (fn: lambda.Function) => new lambda.Alias(fn, 'Live', { aliasName: 'live', version: fn.currentVersion })],
    ['a version', (fn: lambda.Function) => fn.currentVersion],
  ])(
    'GIVEN the pipeline attached WHEN a trigger targets %s of the function THEN it binds to the pipeline, its checks included',
    (_label, qualified) => {
      // GIVEN a function with the pipeline answering partial batch responses, and a qualified reference to it
      const stack = testStack();
      const fn = userFunction(stack);
      const attached = new InProcessDispatcher(stack, 'Exactly', { function: fn, reportBatchItemFailures: true });
      const target = qualified(fn);
      // THEN the qualified function stands for the dispatcher too
      expect(DispatcherTarget.of(target)).toBe(attached);
      // WHEN a Kinesis trigger that would not read the partial batch responses targets it THEN it is refused
      const stream = new kinesis.Stream(stack, 'Stream');
      expect(() => new KinesisTrigger(stack, 'Clicks', { stream, target })).toThrow(/reportBatchItemFailures/);
      // AND a trigger with a factor above 1 keeps the pipeline from keeping Kinesis ranges
      new KinesisTrigger(stack, 'Fn', { stream, target: fn, reportBatchItemFailures: true });
      new KinesisTrigger(stack, 'Qualified', { stream, target, reportBatchItemFailures: true, parallelizationFactor: 4 });
      expect(configOf(Template.fromStack(stack)).idempotency.kinesisRanges).toBeUndefined();
    },
  );

  test('GIVEN a trigger created first on an alias of the function WHEN the pipeline is attached THEN it is refused, naming the trigger', () => {
    const stack = testStack();
    const fn = userFunction(stack);
    const alias = new lambda.Alias(fn, 'Live', { aliasName: 'live', version: fn.currentVersion });
    new KafkaTrigger(stack, 'OrdersTopic', { cluster: cluster(), topics: ['orders'], target: alias });
    expect(() => new InProcessDispatcher(stack, 'Exactly', { function: fn })).toThrow(
      /TestStack\/OrdersTopic already targets it: create the InProcessDispatcher before the triggers/,
    );
  });

  test('GIVEN a trigger created first WHEN the pipeline is attached to its target THEN it is refused, naming the trigger', () => {
    const stack = testStack();
    const fn = userFunction(stack);
    new KafkaTrigger(stack, 'OrdersTopic', { cluster: cluster(), topics: ['orders'], target: fn });
    expect(() => new InProcessDispatcher(stack, 'Exactly', { function: fn })).toThrow(
      /InProcessDispatcher TestStack\/Exactly: function was "TestStack\/Orders": TestStack\/OrdersTopic already targets it: create the InProcessDispatcher before the triggers/,
    );
  });

  test('GIVEN functions the pipeline cannot run in WHEN attached THEN each is refused with the fix', () => {
    const stack = testStack();
    const python = userFunction(stack, { runtime: lambda.Runtime.PYTHON_3_13 });
    expect(() => new InProcessDispatcher(stack, 'Py', { function: python })).toThrow(
      /function was "python3.13": the pipeline runs in Node.js.*KafkaDispatcher/,
    );
    const old = new lambda.Function(stack, 'Old', {
      runtime: lambda.Runtime.NODEJS_18_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
      timeout: Duration.minutes(1),
    });
    expect(() => new InProcessDispatcher(stack, 'OldOne', { function: old })).toThrow(/needs Node.js 20 or later/);
    // A function with Lambda's default timeout (3 s) cannot keep the default 10 s margin
    expect(() => new InProcessDispatcher(stack, 'ShortOne', { function: testFunction(stack, 'Short') })).toThrow(
      /timeMargin was "10 seconds": it must be shorter than function.timeout \(3 seconds\)/,
    );
    // A KafkaDispatcher's function, or one given twice
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target: testFunction(stack) });
    expect(() => new InProcessDispatcher(stack, 'Twice', { function: dispatcher.function })).toThrow(/already a dispatcher/);
    const fn = testNode(stack);
    new InProcessDispatcher(stack, 'Once', { function: fn });
    expect(() => new InProcessDispatcher(stack, 'Again', { function: fn })).toThrow(/already a dispatcher/);
  });

  test('GIVEN a function in a VPC WHEN attached THEN its groups get the endpoints it calls; without a known VPC it is refused', () => {
    // GIVEN a function in an isolated VPC
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const inVpc = userFunction(stack, { vpc });
    // WHEN attached without naming the VPC THEN it is refused
    expect(() => new InProcessDispatcher(stack, 'NoVpc', { function: inVpc })).toThrow(
      /vpc is not set: the function runs in a VPC/,
    );
  });

  test('GIVEN a function in a VPC and its VPC WHEN attached THEN DynamoDB and Secrets Manager endpoints admit its role', () => {
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const fn = userFunction(stack, { vpc });
    const attached = new InProcessDispatcher(stack, 'Exactly', {
      function: fn,
      vpc,
      relay: { cluster: cluster(), auth: KafkaAuth.scram512(), responseTopic: 'results' },
    });
    expect(Object.keys(attached.vpcEndpoints).sort()).toEqual(['dynamoDb', 'secretsManager']);
  });
});

function testNode(stack: ReturnType<typeof testStack>): lambda.Function {
  return new lambda.Function(stack, 'Second', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('x'),
    timeout: Duration.minutes(1),
  });
}

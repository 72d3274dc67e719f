import { App, CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  DispatcherErrorBehavior,
  DispatcherInvocationType,
  DispatcherPayloadFormat,
  IdempotencyMode,
  KafkaDispatcher,
  KafkaDispatcherProps,
  KafkaAuth,
  KafkaCluster,
  KafkaTrigger,
  KafkaVpcEndpoints,
  KinesisTrigger,
} from '../lib';
import {
  DISPATCHER_CONFIG_ENV,
  ERROR_BEHAVIORS,
  IDEMPOTENCY_MODES,
  INVOCATION_TYPES,
  PAYLOAD_FORMATS,
} from '../contract/dispatcher-config';
import { configOf } from './support/dispatcher-config';

const PLAIN_CLUSTER = KafkaCluster.selfManaged({ bootstrapServers: ['b:9092'], tls: false });
const MSK = 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/0123abcd-1111-2222-3333-444455556666-1';

function setup(props: Partial<KafkaDispatcherProps> = {}) {
  const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
  const target = new lambda.Function(stack, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler=async()=>[]'),
  });
  const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target, ...props });
  return { stack, target, dispatcher, template: Template.fromStack(stack) };
}

describe('KafkaDispatcher', () => {
  test('creates the dispatcher from assets/dispatcher and an idempotency table: partition key, TTL, on-demand, PITR, encrypted', () => {
    // GIVEN defaults WHEN synthesized
    const { template } = setup();
    // THEN the table has the contract's key and TTL attribute
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: 300,
      MemorySize: 512,
    });
  });

  test('writes one validated configuration with the defaults', () => {
    const config = configOf(setup().template);
    expect(config).toMatchObject({
      version: 2,
      target: {
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        recordsPerInvocation: 100,
        concurrency: 4,
        maxAttempts: 5,
      },
      onError: 'fail',
      reportBatchItemFailures: false,
      timeMarginMs: 10_000,
      idempotency: { mode: 'batched', ttlSeconds: 7 * 24 * 3600, maxStoredResultBytes: 65536 },
    });
    expect(config.target.functionName).toMatch(/^TOKEN:.*Target.*Arn/);
    expect(config.idempotency.tableName).toMatch(/^TOKEN:.*IdempotencyTable/);
    expect(config.relay).toBeUndefined();
  });

  test("passes the target's timeout for strict in-progress keys and asks for no log tail by default", () => {
    // GIVEN a target lambda.Function with the default 3 s timeout WHEN synthesized
    const config = configOf(setup().template);
    // THEN the runtime knows how long a cut-off target run may go on, and the log tail stays off
    expect(config.target.timeoutMs).toBe(3_000);
    expect(config.target.includeTargetLogTail).toBeUndefined();
  });

  test.each([
    ['targetTimeout given', { targetTimeout: Duration.minutes(2) }, 120_000],
    ['an imported target (timeout unknown)', undefined, undefined],
  ])('target timeout with %s', (_label, props, expected) => {
    const stack = new Stack();
    const target = lambda.Function.fromFunctionAttributes(stack, 'T', {
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:t',
      sameEnvironment: true,
    });
    new KafkaDispatcher(stack, 'Dispatcher', { target, includeTargetLogTail: true, ...props });
    const config = configOf(Template.fromStack(stack));
    expect(config.target.timeoutMs).toBe(expected);
    expect(config.target.includeTargetLogTail).toBe(true);
  });

  test('grants DynamoDB on the table only (UpdateItem for the ranges of coordinate keys) and lambda:InvokeFunction on the target only', () => {
    const { template } = setup();
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'lambda:InvokeFunction',
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('Target'), 'Arn'] }]),
          }),
          Match.objectLike({
            Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('IdempotencyTable'), 'Arn'] },
          }),
        ]),
      },
    });
  });

  test('a business key (idempotencyKeyPointer) keeps an item per key: no UpdateItem', () => {
    const { template } = setup({ idempotencyKeyPointer: '/orderId' });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'] })]),
      },
    });
  });

  test('strict mode adds conditional PutItem and DeleteItem; a CMK encrypts the table and is granted', () => {
    const stack = new Stack();
    const key = new kms.Key(stack, 'Key');
    const target = lambda.Function.fromFunctionAttributes(stack, 'T', {
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:t',
      sameEnvironment: true,
    });
    new KafkaDispatcher(stack, 'D', {
      target,
      idempotencyMode: IdempotencyMode.STRICT,
      tableEncryptionKey: key,
      idempotencyKeyPointer: '/orderId',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'],
          }),
        ]),
      },
    });
    expect(configOf(template).idempotency).toMatchObject({ mode: 'strict', keyPointer: '/orderId' });
  });

  test('SCRAM relay: GetSecretValue on the credentials and root CA secrets, KMS decrypt for a CMK secret', () => {
    const stack = new Stack();
    const key = new kms.Key(stack, 'SecretKey');
    const scram = new secretsmanager.Secret(stack, 'Scram', { encryptionKey: key });
    const ca = secretsmanager.Secret.fromSecretNameV2(stack, 'Ca', 'kafka-ca');
    const target = lambda.Function.fromFunctionAttributes(stack, 'T', {
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:t',
      sameEnvironment: true,
    });
    new KafkaDispatcher(stack, 'D', {
      target,
      onError: DispatcherErrorBehavior.LOG,
      payloadFormat: DispatcherPayloadFormat.NORDSTROM_JSON,
      relay: {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1:9096'], rootCaSecret: ca }),
        auth: KafkaAuth.scram512({ secret: scram }),
        responseTopic: 'out',
        errorTopic: 'err',
      },
    });
    const template = Template.fromStack(stack);
    for (const statement of [
      {
        Action: 'secretsmanager:GetSecretValue',
        Resource: [
          { Ref: Match.stringLikeRegexp('Scram') },
          { 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:kafka-ca-\\?\\?\\?\\?\\?\\?$')])] },
        ],
      },
      {
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('SecretKey'), 'Arn'] },
        Condition: { StringEquals: { 'kms:ViaService': Match.anyValue() } },
      },
    ]) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(statement)]) },
      });
    }
    expect(configOf(template)).toMatchObject({
      onError: 'log',
      target: { payloadFormat: 'nordstrom-json' },
      relay: {
        bootstrapServers: ['b-1:9096'],
        auth: 'scram-sha-512',
        tls: true,
        responseTopic: 'out',
        errorTopic: 'err',
        clientId: 'cdk-kafka-lambda-relay',
      },
    });
  });

  test('MSK IAM relay: kafka-cluster Connect/WriteDataIdempotently on the cluster, DescribeTopic/WriteData on the relay topics only', () => {
    const { template } = setup({
      onError: DispatcherErrorBehavior.LOG,
      relay: {
        cluster: KafkaCluster.msk({
          clusterArn: 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/0123abcd-1111-2222-3333-444455556666-1',
          bootstrapServers: ['b-1.msk.example.com:9098'],
        }),
        auth: KafkaAuth.iam(),
        responseTopic: 'results',
        errorTopic: 'errors',
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
            Resource: 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/0123abcd-1111-2222-3333-444455556666-1',
          }),
          Match.objectLike({
            Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
            Resource: [
              'arn:aws:kafka:us-east-1:111122223333:topic/orders/0123abcd-1111-2222-3333-444455556666-1/results',
              'arn:aws:kafka:us-east-1:111122223333:topic/orders/0123abcd-1111-2222-3333-444455556666-1/errors',
            ],
          }),
        ]),
      },
    });
    expect(configOf(template).relay).toMatchObject({ auth: 'msk-iam', tls: true });
  });

  test("errorTopicMaxMessageBytes: in the configuration for the relay; without it, MSK IAM may read the error topic's max.message.bytes", () => {
    // GIVEN an MSK IAM relay without the prop, and one with it
    const relay = (errorTopicMaxMessageBytes?: number) => ({
      cluster: KafkaCluster.msk({ clusterArn: MSK, bootstrapServers: ['b-1.msk.example.com:9098'] }),
      auth: KafkaAuth.iam(),
      responseTopic: 'results',
      errorTopic: 'errors',
      errorTopicMaxMessageBytes,
    });
    const describes = {
      Action: 'kafka-cluster:DescribeTopicDynamicConfiguration',
      Resource: 'arn:aws:kafka:us-east-1:111122223333:topic/orders/0123abcd-1111-2222-3333-444455556666-1/errors',
    };
    // WHEN synthesized without it THEN the relay may describe the error topic only, and reads its limit at run time
    const read = setup({ onError: DispatcherErrorBehavior.LOG, relay: relay() }).template;
    read.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(describes)]) },
    });
    expect(configOf(read).relay.errorTopicMaxMessageBytes).toBeUndefined();
    // WHEN synthesized with it THEN the configuration carries it and no describe grant is added
    const given = setup({ onError: DispatcherErrorBehavior.LOG, relay: relay(65_536) }).template;
    expect(configOf(given).relay).toMatchObject({ errorTopic: 'errors', errorTopicMaxMessageBytes: 65_536 });
    expect(JSON.stringify(given.findResources('AWS::IAM::Policy'))).not.toContain('DescribeTopicDynamicConfiguration');
  });

  test('errorTopicMaxMessageBytes as a token is not checked at synth and reaches the configuration', () => {
    // GIVEN the limit from a CloudFormation parameter
    const stack = new Stack(new App(), 'Stack');
    const target = lambda.Function.fromFunctionAttributes(stack, 'T', {
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:t',
      sameEnvironment: true,
    });
    const limit = new CfnParameter(stack, 'ErrorTopicMaxMessageBytes', { type: 'Number' }).valueAsNumber;
    // WHEN synthesized THEN nothing fails, and the configuration refers to the parameter
    new KafkaDispatcher(stack, 'D', {
      target,
      onError: DispatcherErrorBehavior.LOG,
      relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none(), errorTopic: 'err', errorTopicMaxMessageBytes: limit },
    });
    const env = Template.fromStack(stack).findResources('AWS::Lambda::Function');
    expect(JSON.stringify(env)).toContain('ErrorTopicMaxMessageBytes');
  });

  test('no idempotency: no table and no DynamoDB grant', () => {
    const { template } = setup({ idempotency: false });
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    expect(configOf(template).idempotency).toBeUndefined();
  });

  test('in a VPC: exposes connections', () => {
    const stack = new Stack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const target = lambda.Function.fromFunctionAttributes(stack, 'T', {
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:t',
      sameEnvironment: true,
    });
    const d = new KafkaDispatcher(stack, 'D', { target, vpc });
    expect(d.connections.securityGroups).toHaveLength(1);
    expect(() => setup().dispatcher.connections).toThrow(/no connections outside a VPC/);
  });

  test('metric methods use the namespace and service dimension the runtime writes', () => {
    const { dispatcher, template } = setup();
    const m = dispatcher.metricRecordsFailed({ period: Duration.minutes(1) });
    expect(m.namespace).toBe('CdkKafkaLambda');
    expect(m.metricName).toBe('RecordsFailed');
    expect(m.dimensions).toEqual({ service: 'Stack/Dispatcher' });
    expect(configOf(template).metrics).toEqual({ namespace: 'CdkKafkaLambda', service: 'Stack/Dispatcher' });
  });

  test('warns when LOG has no error topic and when an async target has a response topic', () => {
    const { stack } = setup({
      onError: DispatcherErrorBehavior.LOG,
    });
    Annotations.fromStack(stack).hasWarning('/Stack/Dispatcher', Match.stringLikeRegexp('no relay.errorTopic'));
    const async = setup({
      invocationType: DispatcherInvocationType.EVENT,
      relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none(), responseTopic: 'out' },
    });
    Annotations.fromStack(async.stack).hasWarning(
      '/Stack/Dispatcher',
      Match.stringLikeRegexp('asynchronous invocations return no response'),
    );
  });

  test.each([
    ['recordsPerInvocation 0', { recordsPerInvocation: 0 }, /recordsPerInvocation was 0: use an integer from 1 to 10000/],
    [
      'recordsPerInvocation 10001',
      { recordsPerInvocation: 10_001 },
      /recordsPerInvocation was 10001: use an integer from 1 to 10000/,
    ],
    ['concurrency 0', { concurrency: 0 }, /concurrency was 0: use an integer from 1 to 1000/],
    [
      'a margin longer than the timeout',
      { timeout: Duration.seconds(30), timeMargin: Duration.seconds(30) },
      /timeMargin was "30 seconds": it must be shorter than timeout/,
    ],
    [
      'a key pointer without a slash',
      { idempotencyKeyPointer: 'orderId' },
      /idempotencyKeyPointer was "orderId": use a JSON pointer/,
    ],
    ['a key pointer without idempotency', { idempotency: false, idempotencyKeyPointer: '/id' }, /need idempotency/],
    [
      'a relay without topics',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none() } },
      /relay.responseTopic is not set: a relay needs responseTopic or errorTopic/,
    ],
    [
      'one topic for results and errors',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none(), responseTopic: 'o', errorTopic: 'o' } },
      /relay.errorTopic was "o": results and failures need different topics/,
    ],
    [
      'an empty bootstrap list',
      {
        relay: {
          cluster: KafkaCluster.selfManaged({ bootstrapServers: [], tls: false }),
          auth: KafkaAuth.none(),
          responseTopic: 'o',
        },
      },
      /relay.cluster.bootstrapServers was \[\]: give at least one/,
    ],
    [
      'a bootstrap server without port',
      {
        relay: {
          cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1'], tls: false }),
          auth: KafkaAuth.none(),
          responseTopic: 'o',
        },
      },
      /relay.cluster.bootstrapServers was "b-1": give each broker as "host:port"/,
    ],
    [
      'an MSK relay without bootstrap servers',
      { relay: { cluster: KafkaCluster.msk({ clusterArn: MSK }), auth: KafkaAuth.iam(), responseTopic: 'o' } },
      /relay.cluster.bootstrapServers is not set: .*KafkaCluster.msk\(\{ ..., bootstrapServers \}\)/,
    ],
    [
      'MSK IAM without TLS',
      {
        relay: {
          cluster: KafkaCluster.msk({ clusterArn: MSK, bootstrapServers: ['b:9098'], tls: false }),
          auth: KafkaAuth.iam(),
          responseTopic: 'o',
        },
      },
      /relay.cluster.tls was false: IAM needs a TLS listener/,
    ],
    [
      'SCRAM without TLS',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.scram512(), responseTopic: 'o' } },
      /relay.cluster.tls was false: SASL_SCRAM_512_AUTH needs a TLS listener/,
    ],
    [
      'SASL/PLAIN without TLS',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.plain(), responseTopic: 'o' } },
      /relay.cluster.tls was false: BASIC_AUTH needs a TLS listener/,
    ],
    [
      'IAM auth on a self-managed cluster',
      {
        relay: { cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b:9096'] }), auth: KafkaAuth.iam(), responseTopic: 'o' },
      },
      /relay.auth was "KafkaAuth.iam\(\)": IAM access control exists for Amazon MSK only/,
    ],
    [
      'a TTL of 10 seconds',
      { idempotencyTtl: Duration.seconds(10) },
      /idempotencyTtl was "10 seconds": use 1 minute to 366 days/,
    ],
    [
      'an error topic limit below 16 KiB',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none(), errorTopic: 'e', errorTopicMaxMessageBytes: 1000 } },
      /relay.errorTopicMaxMessageBytes was 1000: use the error topic's max.message.bytes, an integer from 16384 to 104857600/,
    ],
    [
      'an error topic limit that is not an integer',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none(), errorTopic: 'e', errorTopicMaxMessageBytes: 65536.5 } },
      /relay.errorTopicMaxMessageBytes was 65536.5: use the error topic's max.message.bytes, an integer/,
    ],
    [
      'an error topic limit without an error topic',
      { relay: { cluster: PLAIN_CLUSTER, auth: KafkaAuth.none(), responseTopic: 'o', errorTopicMaxMessageBytes: 65536 } },
      /relay.errorTopicMaxMessageBytes was 65536: it sizes the error topic's records: set relay.errorTopic too/,
    ],
  ])('fails at synth for %s', (_label, props, message) => {
    expect(() => setup(props as Partial<KafkaDispatcherProps>)).toThrow(message);
  });
});

describe('KafkaDispatcher in a VPC', () => {
  function vpcStack() {
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'p', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    return { stack, vpc, target };
  }
  const roleArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DispatcherServiceRole'), 'Arn'] };

  test("existing endpoints: the dispatcher's statements go on them and their groups take 443 from it; none are created", () => {
    // GIVEN a Lambda interface endpoint and a DynamoDB gateway endpoint made elsewhere
    const { stack, vpc, target } = vpcStack();
    const lambdaEndpoint = vpc.addInterfaceEndpoint('Lambda', {
      service: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
      open: false,
    });
    const dynamoDb = vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    // WHEN the dispatcher is told to use them
    const d = new KafkaDispatcher(stack, 'Dispatcher', {
      target,
      vpc,
      vpcEndpoints: KafkaVpcEndpoints.existing({ lambda: lambdaEndpoint, dynamoDb }),
    });
    const template = Template.fromStack(stack);
    // THEN they admit its role for exactly its actions, and no endpoint of this library is added
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:UpdateItem'],
            Principal: { AWS: roleArn },
          }),
        ],
      },
    });
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Interface',
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'lambda:InvokeFunction', Principal: { AWS: roleArn } })] },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 443,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DispatcherSecurityGroup'), 'GroupId'] },
    });
    expect(Object.keys(d.vpcEndpoints).sort()).toEqual(['dynamoDb', 'lambda']);
  });

  test('created endpoints reuse the DynamoDB gateway endpoint the VPC already has (one route per prefix list)', () => {
    const { stack, vpc, target } = vpcStack();
    const own = vpc.addGatewayEndpoint('DynamoDb', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
    const d = new KafkaDispatcher(stack, 'Dispatcher', { target, vpc });
    expect(d.vpcEndpoints.dynamoDb).toBe(own);
    expect(
      Object.values(Template.fromStack(stack).findResources('AWS::EC2::VPCEndpoint')).filter(
        (e: any) => e.Properties.VpcEndpointType === 'Gateway',
      ),
    ).toHaveLength(1);
  });

  test("logRetention sets the retention of the dispatcher's own log group (two years by default)", () => {
    const { stack, target } = vpcStack();
    new KafkaDispatcher(stack, 'Dispatcher', { target, logRetention: logs.RetentionDays.ONE_MONTH });
    new KafkaDispatcher(stack, 'Default', { target });
    const retentions = Object.values(Template.fromStack(stack).findResources('AWS::Logs::LogGroup'))
      .map((g: any) => g.Properties.RetentionInDays)
      .sort();
    expect(retentions).toEqual([30, 731]);
  });
});

describe('the construct and the contract', () => {
  test.each([
    ['DispatcherInvocationType', Object.values(DispatcherInvocationType), INVOCATION_TYPES],
    ['DispatcherPayloadFormat', Object.values(DispatcherPayloadFormat), PAYLOAD_FORMATS],
    ['DispatcherErrorBehavior', Object.values(DispatcherErrorBehavior), ERROR_BEHAVIORS],
    ['IdempotencyMode', Object.values(IdempotencyMode), IDEMPOTENCY_MODES],
  ])('%s has exactly the values the runtime accepts', (_name, values, accepted) => {
    expect([...values].sort()).toEqual([...accepted].sort());
  });
});

describe('KafkaDispatcher behind a KinesisTrigger', () => {
  test("the mapping targets the dispatcher, the stream read grants go to the dispatcher's role, the partial batch response is enabled on both", () => {
    // GIVEN a dispatcher answering with partial batch responses, behind a Kinesis trigger on a given stream
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target, reportBatchItemFailures: true });
    const stream = kinesis.Stream.fromStreamArn(stack, 'Stream', 'arn:aws:kinesis:us-east-1:111122223333:stream/clicks');
    new KinesisTrigger(stack, 'Clicks', { stream, target: dispatcher.function, reportBatchItemFailures: true });
    // WHEN synthesized
    const template = Template.fromStack(stack);
    // THEN the mapping invokes the dispatcher function and expects sequence-number partial batch responses
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DispatcherFunction'), 'Arn'] },
      EventSourceArn: 'arn:aws:kinesis:us-east-1:111122223333:stream/clicks',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
    expect(configOf(template).reportBatchItemFailures).toBe(true);
    // AND the stream read actions are on the dispatcher's role, scoped to the stream; the target gets none
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as any[];
    const kinesisPolicies = policies.filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes('kinesis:GetRecords'));
    expect(kinesisPolicies).toHaveLength(1);
    expect(JSON.stringify(kinesisPolicies[0].Properties.Roles)).toMatch(/DispatcherServiceRole/);
    const statement = kinesisPolicies[0].Properties.PolicyDocument.Statement.find((s: any) =>
      [s.Action].flat().includes('kinesis:GetRecords'),
    );
    expect(statement.Resource).toBe('arn:aws:kinesis:us-east-1:111122223333:stream/clicks');
  });

  test.each([
    [
      'KinesisTrigger',
      (stack: Stack, fn: lambda.IFunction) => new KinesisTrigger(stack, 'Trigger', { target: fn }),
      /KinesisTrigger Stack\/Trigger: reportBatchItemFailures is not set: .*KafkaDispatcher Stack\/Dispatcher.*skips the failed records\. Set reportBatchItemFailures: true here, or turn it off on the dispatcher/,
    ],
    [
      'KafkaTrigger',
      (stack: Stack, fn: lambda.IFunction) =>
        new KafkaTrigger(stack, 'Trigger', {
          target: fn,
          topics: ['orders'],
          auth: KafkaAuth.none(),
          cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9092'] }),
          vpcEndpoints: KafkaVpcEndpoints.none(),
          dryRunCheck: false,
        }),
      /KafkaTrigger Stack\/Trigger: reportBatchItemFailures is not set: .*Set reportBatchItemFailures: true here \(with provisionedPollers\), or turn it off on the dispatcher/,
    ],
  ])('fails when a %s would not read the partial batch responses of the dispatcher it targets', (_, trigger, message) => {
    // GIVEN a dispatcher answering with partial batch responses
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target, reportBatchItemFailures: true });
    // WHEN a trigger without reportBatchItemFailures targets it THEN synth fails, as failed records would be skipped
    expect(() => trigger(stack, dispatcher.function)).toThrow(message);
  });

  test.each([
    ['no KinesisTrigger', [], undefined],
    ['a KinesisTrigger with the default parallelization factor', [undefined], true],
    ['KinesisTriggers with factors 1 and 1', [1, 1], true],
    ["a KinesisTrigger with factor 4 (a shard's batches interleave)", [1, 4], undefined],
  ])('with %s, Kinesis records are kept per range: %s', (_, factors, kinesisRanges) => {
    // GIVEN a dispatcher behind Kinesis triggers with these parallelization factors
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target });
    (factors as Array<number | undefined>).forEach(
      (parallelizationFactor, i) =>
        new KinesisTrigger(stack, `Trigger${i}`, {
          target: dispatcher.function,
          parallelizationFactor,
          stream: kinesis.Stream.fromStreamArn(stack, `Stream${i}`, `arn:aws:kinesis:us-east-1:111122223333:stream/s${i}`),
        }),
    );
    // THEN the configuration says whether the dispatcher may keep shards per range
    expect(configOf(Template.fromStack(stack)).idempotency.kinesisRanges).toBe(kinesisRanges);
  });

  test('a 15-minute dispatcher works behind a KinesisTrigger; a KafkaTrigger refuses it (Kafka mappings allow 14 minutes)', () => {
    // GIVEN a dispatcher with Lambda's longest timeout
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target, timeout: Duration.minutes(15) });
    // WHEN a Kinesis trigger targets it THEN it synthesizes with the 900-second function
    new KinesisTrigger(stack, 'Clicks', { target: dispatcher.function });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Timeout: 900,
      Environment: { Variables: { [DISPATCHER_CONFIG_ENV]: Match.anyValue() } },
    });
    // WHEN a Kafka trigger targets it THEN synth fails naming the limit
    expect(
      () =>
        new KafkaTrigger(stack, 'Orders', {
          target: dispatcher.function,
          topics: ['orders'],
          auth: KafkaAuth.none(),
          cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9092'] }),
          vpcEndpoints: KafkaVpcEndpoints.none(),
          dryRunCheck: false,
        }),
    ).toThrow(
      /target.timeout was "900 seconds": Kafka event source mappings support functions with a timeout of at most 14 minutes/,
    );
  });
});

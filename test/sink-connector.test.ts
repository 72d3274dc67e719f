import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  DispatcherErrorBehavior,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  LambdaSinkConnector,
  LambdaSinkConnectorProps,
  OnFailureDestination,
  SinkDispatch,
} from '../lib';
import { DISPATCHER_CONFIG_ENV } from '../contract/dispatcher-config';

const SERVERS = ['b-1.kafka.internal:9096', 'b-2.kafka.internal:9096'];

function setup(props: Partial<LambdaSinkConnectorProps> = {}, withVpc = true) {
  const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
  const vpc = withVpc
    ? new ec2.Vpc(stack, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
      })
    : undefined;
  const target = new lambda.Function(stack, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    timeout: Duration.minutes(1),
    code: lambda.Code.fromInline('exports.handler=async()=>[]'),
  });
  const connector = new LambdaSinkConnector(stack, 'Sink', {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }),
    topics: ['orders'],
    target,
    auth: KafkaAuth.scram256(),
    responseTopic: 'orders-results',
    errorTopic: 'orders-errors',
    ...props,
  });
  return { stack, vpc, target, connector, template: Template.fromStack(stack) };
}

/** The dispatcher's configuration with tokens left as CloudFormation JSON. */
function relayOf(template: Template): any {
  const fn = Object.values(template.findResources('AWS::Lambda::Function')).find(
    (f: any) => f.Properties.Environment?.Variables?.[DISPATCHER_CONFIG_ENV],
  ) as any;
  return JSON.stringify(fn.Properties.Environment.Variables[DISPATCHER_CONFIG_ENV]);
}

describe('LambdaSinkConnector', () => {
  test('creates the trigger, the dispatcher, the table and the relay, exposed as parts, one mapping into the dispatcher', () => {
    // GIVEN the connector with response and error topics
    const { connector, template } = setup();
    // THEN the mapping invokes the dispatcher, which invokes the target
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkDispatcherFunction'), 'Arn'] },
    });
    expect(connector.dispatcher!.table).toBeDefined();
    expect(connector.trigger.eventSourceMappings).toHaveLength(1);
    // AND errors go to the error topic (LOG) by default when one is given
    expect(relayOf(template)).toMatch(/\\"onError\\":\\"log\\"/);
    expect(relayOf(template)).toMatch(/\\"responseTopic\\":\\"orders-results\\",\\"errorTopic\\":\\"orders-errors\\"/);
  });

  test('one Kafka user: the event source and the relay use the same created secret; one secret exists', () => {
    // GIVEN SCRAM-256 with no secret given
    const { connector, template } = setup();
    // THEN exactly one SASL secret is created, the mapping names it and the relay reads it
    template.resourceCountIs('AWS::SecretsManager::Secret', 1);
    const secretRef = { Ref: Match.stringLikeRegexp('^SinkSaslSecret') };
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: Match.arrayWith([{ Type: 'SASL_SCRAM_256_AUTH', URI: secretRef }]),
    });
    expect(relayOf(template)).toMatch(/\\"auth\\":\\"scram-sha-256\\",\\"secretArn\\":\\"",\{"Ref":"SinkSaslSecret/);
    expect(connector.authSecret).toBe(connector.trigger.authSecret);
    expect(connector.authSecret).toBe(connector.dispatcher!.relaySecret);
  });

  test('relayAuth gives the relay its own user and secret', () => {
    // GIVEN a separate relay user with a given secret
    const stack = new Stack();
    const relaySecret = secretsmanager.Secret.fromSecretCompleteArn(
      stack,
      'RelaySecret',
      'arn:aws:secretsmanager:us-east-1:111122223333:secret:relay-AbCdEf',
    );
    const target = lambda.Function.fromFunctionAttributes(stack, 'T', {
      functionArn: 'arn:aws:lambda:us-east-1:111122223333:function:t',
      sameEnvironment: true,
    });
    const connector = new LambdaSinkConnector(stack, 'Sink', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
      topics: ['orders'],
      target: target as lambda.IFunction,
      relayAuth: KafkaAuth.scram512({ secret: relaySecret }),
      responseTopic: 'results',
    });
    // THEN the relay reads that secret and the event source its own created one
    expect(connector.dispatcher!.relaySecret).toBe(relaySecret);
    expect(connector.trigger.authSecret).not.toBe(relaySecret);
  });

  test("in the cluster's VPC: the dispatcher joins it, the clients' group is shared and rules reach the brokers on 9096", () => {
    // GIVEN a self-managed cluster in a VPC with no groups given
    const { connector, template } = setup();
    // THEN one clients' group is created and used by the mapping; the dispatcher has its own group with 9096 out to it
    expect(connector.securityGroup).toBeDefined();
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: Match.objectLike({
        SecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkDispatcherSecurityGroup'), 'GroupId'] }],
      }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      FromPort: 9096,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkDispatcherSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkSecurityGroup'), 'GroupId'] },
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 9096,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkDispatcherSecurityGroup'), 'GroupId'] },
    });
    // AND one set of endpoints serves both: Lambda, STS, Secrets Manager, DynamoDB (gateway)
    const services = Object.values(template.findResources('AWS::EC2::VPCEndpoint'))
      .map((e: any) => JSON.stringify(e.Properties.ServiceName).match(/\.([a-z]+)"/)?.[1])
      .sort();
    expect(services).toEqual(['dynamodb', 'lambda', 'secretsmanager', 'sts']);
  });

  test("the dispatcher's role has no managed policy: logs to its own log group, ENI actions, invoke, table, secret", () => {
    const { template } = setup();
    const role = Object.entries(template.findResources('AWS::IAM::Role')).find(([id]) =>
      id.startsWith('SinkDispatcherServiceRole'),
    )![1] as any;
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: Match.stringLikeRegexp('^SinkDispatcherServiceRole') }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkDispatcherLogGroup'), 'Arn'] },
          },
          Match.objectLike({
            Action: [
              'ec2:CreateNetworkInterface',
              'ec2:DescribeNetworkInterfaces',
              'ec2:DescribeVpcs',
              'ec2:DeleteNetworkInterface',
              'ec2:DescribeSubnets',
              'ec2:DescribeSecurityGroups',
            ],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^SinkDispatcherLogGroup') } },
    });
  });

  test('sizes error records by errorTopicMaxMessageBytes when given, and refuses it without an error topic', () => {
    // GIVEN an error topic whose max.message.bytes the relay may not read
    const { template } = setup({ errorTopicMaxMessageBytes: 65_536 });
    // THEN the relay's configuration carries it
    expect(relayOf(template)).toMatch(/\\"errorTopic\\":\\"orders-errors\\",\\"errorTopicMaxMessageBytes\\":65536/);
    // AND without an error topic it fails at synth, naming the prop and the fix
    expect(() => setup({ errorTopic: undefined, errorTopicMaxMessageBytes: 65_536 })).toThrow(
      /LambdaSinkConnector Stack\/Sink: errorTopicMaxMessageBytes was 65536: it sizes the error topic's records: set errorTopic too/,
    );
    // AND out of bounds it fails with the bounds
    expect(() => setup({ errorTopicMaxMessageBytes: 100 })).toThrow(/errorTopicMaxMessageBytes was 100: .*16384 to 104857600/);
  });

  test.each([
    ['responseTopic', { responseTopic: 'orders' }],
    ['errorTopic', { errorTopic: 'orders' }],
  ])('fails when %s is a source topic', (prop, props) => {
    expect(() => setup(props)).toThrow(
      new RegExp(`LambdaSinkConnector Stack/Sink: ${prop} was "orders": it is a source topic: .* a loop`),
    );
  });

  test.each([
    [
      'SCRAM without TLS',
      { auth: KafkaAuth.scram512(), cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, tls: false }) },
      /cluster.tls was false: SASL_SCRAM_512_AUTH needs a TLS listener/,
    ],
    [
      'an MSK cluster without bootstrap servers for the relay',
      { auth: undefined, cluster: KafkaCluster.msk({ clusterArn: 'arn:aws:kafka:us-east-1:111122223333:cluster/c/u-1' }) },
      /relay.cluster.bootstrapServers is not set/,
    ],
  ])('fails for %s', (_label, props, message) => {
    expect(() => setup(props as Partial<LambdaSinkConnectorProps>, false)).toThrow(message);
  });

  test('GIVEN an unauthenticated self-managed cluster outside a VPC THEN it synthesizes: the mapping needs no source policy, and none is written', () => {
    // GIVEN no auth, no VPC: nothing for the mapping's role to read
    const { template, connector } = setup(
      { auth: KafkaAuth.none(), cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, tls: false }) },
      false,
    );
    // THEN no empty policy is referenced, and the mapping waits for none
    expect(connector.trigger.policy.document.isEmpty).toBe(true);
    expect(Object.keys(template.findResources('AWS::IAM::Policy')).filter((id) => id.includes('SourceAccessPolicy'))).toEqual([]);
    const [mapping] = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')) as any[];
    expect(JSON.stringify(mapping.DependsOn ?? [])).not.toContain('SourceAccessPolicy');
  });

  test('an on-failure destination and provisioned pollers go to the trigger', () => {
    const { template } = setup({
      onFailure: OnFailureDestination.sqs(),
      provisionedPollers: { minimumPollers: 1, maximumPollers: 2 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      ProvisionedPollerConfig: { MinimumPollers: 1, MaximumPollers: 2 },
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('^SinkTriggerOnFailureQueue'), 'Arn'] } },
      },
    });
  });
});

describe('KafkaDispatcher timeouts', () => {
  test('warns when the target may run longer than the dispatcher waits, naming both and the fix', () => {
    // GIVEN a target with a 5-minute timeout and a dispatcher that waits 2 minutes less 10 s
    const stack = new Stack();
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      timeout: Duration.minutes(5),
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    new KafkaDispatcher(stack, 'Dispatcher', { target, timeout: Duration.minutes(2), onError: DispatcherErrorBehavior.FAIL });
    // THEN the warning names target.timeout, both durations and the timeout to set
    Annotations.fromStack(stack).hasWarning(
      '/Default/Dispatcher',
      Match.stringLikeRegexp(
        'target.timeout \\(300 s\\) is longer than timeout less timeMargin \\(110 s\\).*Set timeout to at least 310 s',
      ),
    );
    // AND a target that fits gives no such warning
    const other = new Stack();
    const quick = new lambda.Function(other, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      timeout: Duration.seconds(30),
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    new KafkaDispatcher(other, 'Dispatcher', { target: quick, timeout: Duration.minutes(2) });
    expect(Annotations.fromStack(other).findWarning('*', Match.stringLikeRegexp('longer than timeout less timeMargin'))).toEqual(
      [],
    );
  });

  test('GIVEN SinkDispatch.IN_PROCESS WHEN synthesized THEN the mapping invokes the target, which carries the pipeline', () => {
    // GIVEN the connector with the pipeline inside its target
    const { connector, target, template } = setup({ dispatch: SinkDispatch.IN_PROCESS }, false);
    // THEN there is no dispatcher function: the mapping invokes the target, whose configuration is in process
    expect(connector.dispatcher).toBeUndefined();
    expect(connector.inProcessDispatcher?.function).toBe(target);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
    const mapping = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    expect(JSON.stringify(mapping.Properties.FunctionName)).toContain(
      Stack.of(target).getLogicalId(target.node.defaultChild as lambda.CfnFunction),
    );
    expect(relayOf(template)).toContain('\\"inProcess\\":true');
    expect(relayOf(template)).toContain('orders-results');
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
  });

  test('GIVEN SinkDispatch.IN_PROCESS WHEN given what needs a separate dispatcher THEN it is refused, naming the prop', () => {
    expect(() => setup({ dispatch: SinkDispatch.IN_PROCESS, dispatcherTimeout: Duration.minutes(2) }, false)).toThrow(
      /dispatcherTimeout was "2 minutes": it is for a dispatcher function of its own/,
    );
    const stack = new Stack(new App(), 'Imported', { env: { account: '111122223333', region: 'us-east-1' } });
    expect(
      () =>
        new LambdaSinkConnector(stack, 'Sink', {
          cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
          topics: ['orders'],
          target: lambda.Function.fromFunctionArn(stack, 'T', 'arn:aws:lambda:us-east-1:111122223333:function:t'),
          dispatch: SinkDispatch.IN_PROCESS,
        }),
    ).toThrow(/target was "Imported\/T": SinkDispatch.IN_PROCESS runs the pipeline inside the target/);
  });
});

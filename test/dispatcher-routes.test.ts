import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import {
  DispatcherErrorBehavior,
  DispatcherInvocationType,
  DispatcherPayloadFormat,
  DispatcherRoute,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaDispatcherProps,
  LambdaSinkConnector,
} from '../lib';
import { IAM4_BASIC_EXECUTION, acknowledgeFinding } from '../lib/private/nag';
import { configOf } from './support/dispatcher-config';
import { cfnLint } from './trigger/cfn-lint';
import { synthWithNag } from './support/nag';

const env = { account: '111122223333', region: 'us-east-1' };

function fn(stack: Stack, id: string): lambda.Function {
  return new lambda.Function(stack, id, {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler=async()=>[]'),
  });
}

function relayProps(stack: Stack): KafkaDispatcherProps['relay'] {
  const secret = secretsmanager.Secret.fromSecretCompleteArn(
    stack,
    'Scram',
    'arn:aws:secretsmanager:us-east-1:111122223333:secret:relay-AbCdEf',
  );
  return {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
    auth: KafkaAuth.scram512({ secret }),
    errorTopic: 'errors',
  };
}

function setup(
  routes: (stack: Stack) => DispatcherRoute[],
  props: (stack: Stack) => Partial<KafkaDispatcherProps> = () => ({}),
  app = new App(),
) {
  const stack = new Stack(app, 'Routing', { env });
  const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { routes: routes(stack), ...props(stack) });
  return { stack, dispatcher, template: () => Template.fromStack(stack) };
}

const threeRoutes = (stack: Stack): DispatcherRoute[] => [
  { topics: ['orders'], target: fn(stack, 'Orders'), responseTopic: 'order-results' },
  {
    topics: ['payments'],
    header: { name: 'type', value: 'refund' },
    target: fn(stack, 'Refunds'),
    payloadFormat: DispatcherPayloadFormat.NORDSTROM_JSON,
  },
  { topics: ['payments'], keyPrefix: 'vip-', target: fn(stack, 'Vips'), invocationType: DispatcherInvocationType.EVENT },
];

const invokeStatements = (template: Template): any[] =>
  Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^DispatcherServiceRole') }] },
    }),
  )
    .flatMap((p: any) => p.Properties.PolicyDocument.Statement)
    .filter((s: any) => s.Action === 'lambda:InvokeFunction');

describe('KafkaDispatcher routes', () => {
  test('GIVEN three routes and no default target THEN each target is granted and configured with its conditions, invocation type, format and response topic', () => {
    // GIVEN
    const { template } = setup(threeRoutes, (stack) => ({ relay: relayProps(stack) }));
    // THEN every target may be invoked, nothing else
    const granted = invokeStatements(template()).map((s) => JSON.stringify(s.Resource[0]));
    expect(granted.map((g) => /"(Orders|Refunds|Vips)[0-9A-F]{8}"/.exec(g)?.[1]).sort()).toEqual(['Orders', 'Refunds', 'Vips']);
    // AND the configuration routes in order, with no default target
    const config = configOf(template());
    expect(config.target.functionName).toBeUndefined();
    expect(
      config.routes.map((r: any) => ({ ...r, functionName: r.functionName.replace(/TOKEN:.*'(\w+?)[0-9A-F]{8}'.*/, '$1') })),
    ).toEqual([
      {
        match: { topics: ['orders'] },
        functionName: 'Orders',
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        responseTopic: 'order-results',
      },
      {
        match: { topics: ['payments'], header: { name: 'type', value: 'refund' } },
        functionName: 'Refunds',
        invocationType: 'RequestResponse',
        payloadFormat: 'nordstrom-json',
      },
      {
        match: { topics: ['payments'], keyPrefix: 'vip-' },
        functionName: 'Vips',
        invocationType: 'Event',
        payloadFormat: 'confluent',
      },
    ]);
  });

  test('GIVEN routes without a target and onError FAIL THEN synthesis warns that an unrouted record holds up its partition', () => {
    const { stack } = setup(threeRoutes, (s) => ({ relay: relayProps(s) }));
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('routes without target and onError FAIL'),
    );
    expect(warnings).toHaveLength(1);
    const logged = setup(threeRoutes, (s) => ({ relay: relayProps(s), onError: DispatcherErrorBehavior.LOG }));
    expect(Annotations.fromStack(logged.stack).findWarning('*', Match.stringLikeRegexp('routes without target'))).toHaveLength(0);
  });

  test("GIVEN a route with its own targetRole THEN the dispatcher may assume it and the route configures it, with the owner's trust policy as an output", () => {
    // GIVEN
    const role = 'arn:aws:iam::444455556666:role/refunds-invoker';
    const { template } = setup(
      (stack) => [
        {
          topics: ['payments'],
          target: lambda.Function.fromFunctionArn(stack, 'Remote', 'arn:aws:lambda:us-east-1:444455556666:function:refunds'),
          targetRole: iam.Role.fromRoleArn(stack, 'Role', role),
          targetRoleExternalId: 'refunds-1',
        },
      ],
      (stack) => ({ target: fn(stack, 'Fallback') }),
    );
    // THEN
    expect(configOf(template()).routes[0].assumeRole).toEqual({ roleArn: role, externalId: 'refunds-1' });
    expect(configOf(template()).target.functionName).toMatch(/Fallback/);
    template().hasOutput('*', { Description: Match.stringLikeRegexp('trust policy of the target role') });
    expect(Object.keys(template().findOutputs('*'))).toEqual([expect.stringMatching(/Route0TargetOwnerPolicy/)]);
  });

  test('GIVEN routes in a VPC THEN the Lambda endpoint admits the dispatcher for every target', () => {
    // GIVEN
    const { dispatcher, stack } = setup(
      (s) => threeRoutes(s).map((r) => ({ ...r, responseTopic: undefined })),
      (s) => ({
        vpc: new ec2.Vpc(s, 'Vpc', {
          maxAzs: 2,
          natGateways: 0,
          subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
        }),
      }),
    );
    // THEN one Lambda endpoint, whose policy names the three targets
    const statements = stack.resolve(
      (dispatcher.vpcEndpoints.lambda.node.defaultChild as ec2.CfnVPCEndpoint).policyDocument,
    ).Statement;
    expect(statements).toHaveLength(3);
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPCEndpoint', 2); // Lambda, DynamoDB
  });

  test.each<[string, (stack: Stack) => Partial<KafkaDispatcherProps>, RegExp]>([
    [
      'neither a target nor routes',
      () => ({ routes: undefined }),
      /target is not set: give the function to invoke \(target\), or routes/,
    ],
    [
      'a route after one that takes all its records',
      (s) => ({
        routes: [
          { topics: ['payments'], target: fn(s, 'A') },
          { topics: ['payments'], keyPrefix: 'vip-', target: fn(s, 'B') },
        ],
      }),
      /routes\[1\] was \{"topics":\["payments"\],"keyPrefix":"vip-"\}: routes\[0\] \(\{"topics":\["payments"\]\}\) comes first and takes every record this one would: put this route before it/,
    ],
    [
      'a route after a catch-all',
      (s) => ({ routes: [{ target: fn(s, 'A') }, { topics: ['orders'], target: fn(s, 'B') }] }),
      /routes\[1\] was .*: routes\[0\] \(\{\}\) comes first/,
    ],
    [
      'a response topic without a relay',
      (s) => ({ routes: [{ topics: ['orders'], target: fn(s, 'A'), responseTopic: 'r' }] }),
      /routes\[0\].responseTopic was "r": results are relayed to Kafka by the relay: set relay/,
    ],
    [
      'a response topic for asynchronous invocations',
      (s) => ({
        relay: relayProps(s),
        routes: [{ topics: ['orders'], target: fn(s, 'A'), responseTopic: 'r', invocationType: DispatcherInvocationType.EVENT }],
      }),
      /routes\[0\].responseTopic was "r": an asynchronous \(EVENT\) invocation returns no result/,
    ],
    [
      'a response topic equal to the error topic',
      (s) => ({ relay: relayProps(s), routes: [{ topics: ['orders'], target: fn(s, 'A'), responseTopic: 'errors' }] }),
      /routes\[0\].responseTopic was "errors": results and failures need different topics/,
    ],
    [
      'an empty topic list',
      (s) => ({ routes: [{ topics: [], target: fn(s, 'A') }] }),
      /routes\[0\].topics was \[\]: give at least one topic/,
    ],
    [
      'an external ID without a role',
      (s) => ({ routes: [{ topics: ['orders'], target: fn(s, 'A'), targetRoleExternalId: 'x1' }] }),
      /routes\[0\].targetRoleExternalId was "x1": an external ID is for the role/,
    ],
  ])('GIVEN %s THEN synthesis fails naming the prop, the value and the fix', (_label, props, message) => {
    const stack = new Stack(new App(), 'Bad', { env });
    expect(() => new KafkaDispatcher(stack, 'Dispatcher', { ...props(stack) } as KafkaDispatcherProps)).toThrow(message);
  });

  test('GIVEN LambdaSinkConnector with routes THEN its dispatcher routes, and a route reading a topic the connector does not read, or answering to a source topic, fails', () => {
    const connector = (routes: (s: Stack) => DispatcherRoute[]) => {
      const stack = new Stack(new App(), 'Connector', { env });
      new LambdaSinkConnector(stack, 'Payments', {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
        topics: ['orders', 'payments'],
        routes: routes(stack),
      });
      return Template.fromStack(stack);
    };
    // GIVEN routes on the connector's topics THEN they are configured and the relay takes their response topic
    const config = configOf(connector(threeRoutes));
    expect(config.routes.map((r: any) => r.match.topics)).toEqual([['orders'], ['payments'], ['payments']]);
    expect(config.relay).toBeDefined();
    // GIVEN a route on another topic THEN synthesis fails
    expect(() => connector((s) => [{ topics: ['refunds'], target: fn(s, 'A') }])).toThrow(
      /routes\[0\].topics was "refunds": the connector reads \["orders","payments"\] only/,
    );
    // GIVEN a route answering to a source topic THEN synthesis fails (a loop)
    expect(() => connector((s) => [{ topics: ['orders'], target: fn(s, 'A'), responseTopic: 'payments' }])).toThrow(
      /routes\[0\].responseTopic was "payments": it is a source topic/,
    );
  });

  test('a routing stack passes cdk-nag AwsSolutions and cfn-lint with no error', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-routes-'));
    try {
      // GIVEN three routes with a relay, checked by the AwsSolutions pack
      const app = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
      const { stack } = setup(threeRoutes, (s) => ({ relay: relayProps(s) }), app);
      // The stand-in targets' basic execution roles are the test's, not the dispatcher's.
      for (const id of ['Orders', 'Refunds', 'Vips']) {
        acknowledgeFinding(stack.node.findChild(id), IAM4_BASIC_EXECUTION, "the test's stand-in target");
      }
      // WHEN synthesized
      const file = path.join(outdir, 'Routing.template.json');
      const { assembly, findings } = synthWithNag(app);
      expect(findings).toEqual([]);
      fs.writeFileSync(file, JSON.stringify(assembly!.getStackByName('Routing').template));
      // THEN cfn-lint reports no error
      expect(cfnLint([file]).filter((f) => f.Level === 'Error')).toEqual([]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { buildExampleStacks, EXAMPLE_ENV } from '../bin/stacks';
import {
  DispatcherErrorBehavior,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaTrigger,
  KafkaVpcEndpoints,
  LambdaSinkConnector,
  OnFailureDestination,
} from '../lib';
import { checkReachability } from './support/reachability';

const { writeTemplates } = require('../scripts/templates');

const MSK_ARN = 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/5a0b3c1d-1111-2222-3333-444455556666-2';

function stackWithVpc(nat = false) {
  const stack = new Stack(new App(), 'Stack', { env: EXAMPLE_ENV });
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: nat ? 1 : 0,
    subnetConfiguration: nat
      ? [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC },
          { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        ]
      : [{ name: 'brokers', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  const target = new lambda.Function(stack, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    timeout: Duration.minutes(1),
    code: lambda.Code.fromInline('exports.handler=async()=>[]'),
  });
  return { stack, vpc, target };
}

/** Each caller in a VPC with its failures; the callers must be at least `expectedCallers`. */
function reachability(stack: Stack) {
  return checkReachability(Template.fromStack(stack).toJSON());
}

function expectAllRoutes(stack: Stack, minCallers: number) {
  const reports = reachability(stack);
  expect(reports.flatMap((r) => r.failures)).toEqual([]);
  expect(reports.length).toBeGreaterThanOrEqual(minCallers);
  // A report with no calls would prove nothing.
  for (const r of reports) expect(r.calls.length).toBeGreaterThan(0);
  return reports;
}

describe('reachability from inside the VPC', () => {
  test('every example stack: each function and event source in a VPC reaches each AWS API it calls and the brokers', () => {
    // GIVEN the example app's topologies
    const stacks = buildExampleStacks(new App());
    // WHEN each template is checked THEN no call lacks a route
    const callers = stacks.flatMap((stack) => reachability(stack).map((r) => ({ stack: stack.stackName, ...r })));
    expect(callers.flatMap((c) => c.failures)).toEqual([]);
    // AND the VPC topologies were checked: both self-managed event sources, the MSK one, the connector's dispatcher and event
    // source, and a function with the pipeline inside
    expect(callers.map((c) => c.stack)).toEqual(
      expect.arrayContaining([
        'KafkaLambdaSelfManagedScram',
        'KafkaLambdaSelfManagedMtls',
        'KafkaLambdaMskIam',
        'KafkaLambdaSinkConnector',
        'KafkaLambdaInProcess',
      ]),
    );
    // AND the function with the pipeline inside reaches its table and the relay's secret
    const inProcess = callers.find((c) => c.stack === 'KafkaLambdaInProcess' && c.caller.startsWith('Orders') && c.calls.length)!;
    expect(inProcess.calls.join('\n')).toMatch(/dynamodb:BatchGetItem[\s\S]*secretsmanager:GetSecretValue/);
    const dispatcher = callers.find(
      (c) => c.stack === 'KafkaLambdaSinkConnector' && c.caller.startsWith('OrdersDispatcherFunction'),
    )!;
    expect(dispatcher.calls.join('\n')).toMatch(
      /lambda:InvokeFunction[\s\S]*dynamodb:BatchGetItem[\s\S]*secretsmanager:GetSecretValue/,
    );
  });

  test('the ready CloudFormation templates: their event sources in a VPC reach what they call', () => {
    // GIVEN the templates `npm run templates` writes
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-reach-'));
    try {
      const { templates } = writeTemplates({ templatesDir: path.join(dir, 't'), assetsDir: path.join(dir, 'a') });
      // WHEN each is checked THEN no call lacks a route, and the self-managed one was checked
      const reports = (templates as string[]).flatMap((f) => checkReachability(JSON.parse(fs.readFileSync(f, 'utf8'))));
      expect(reports.flatMap((r) => r.failures)).toEqual([]);
      expect(reports.length).toBeGreaterThan(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("the reviewer's topology: KafkaDispatcher in the trigger's VPC, SCRAM-256, created secrets, response and error topics", () => {
    // GIVEN a trigger and a dispatcher placed in the same isolated VPC, each with its own created SCRAM secret
    const { stack, vpc, target } = stackWithVpc();
    const brokers = new ec2.SecurityGroup(stack, 'Brokers', { vpc, allowAllOutbound: false });
    const cluster = KafkaCluster.selfManaged({ bootstrapServers: ['b-1.kafka.internal:9096'], vpc, securityGroups: [brokers] });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
      target,
      onError: DispatcherErrorBehavior.LOG,
      relay: { cluster, auth: KafkaAuth.scram256(), responseTopic: 'results', errorTopic: 'errors' },
    });
    new KafkaTrigger(stack, 'Trigger', {
      cluster,
      topics: ['orders'],
      auth: KafkaAuth.scram256(),
      target: dispatcher.function,
      onFailure: OnFailureDestination.sqs(),
    });
    // WHEN checked THEN the dispatcher invokes the target, reads its secret and writes its table through the endpoints, and reaches the brokers
    const reports = expectAllRoutes(stack, 2);
    const fn = reports.find((r) => r.caller.startsWith('DispatcherFunction'))!;
    expect(fn.calls.some((c) => c.startsWith('secretsmanager:GetSecretValue'))).toBe(true);
    // AND the DynamoDB gateway endpoint sits on the dispatcher's route tables
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      RouteTableIds: Match.arrayWith([{ Ref: Match.stringLikeRegexp('VpcbrokersSubnet1RouteTable') }]),
    });
  });

  test("MSK with IAM, the connector in the cluster's VPC: event source and relay reach the brokers' groups on 9098", () => {
    // GIVEN an MSK cluster with its security group and bootstrap servers, IAM auth
    const { stack, vpc, target } = stackWithVpc();
    const clusterSg = new ec2.SecurityGroup(stack, 'ClusterSg', { vpc, allowAllOutbound: false });
    const connector = new LambdaSinkConnector(stack, 'Clicks', {
      cluster: KafkaCluster.msk({
        clusterArn: MSK_ARN,
        vpc,
        securityGroups: [clusterSg],
        bootstrapServers: ['b-1.orders.kafka.us-east-1.amazonaws.com:9098'],
      }),
      topics: ['clicks'],
      target,
      responseTopic: 'click-results',
    });
    // WHEN checked THEN every route holds
    expectAllRoutes(stack, 2);
    // AND the relay's grants are IAM ones, no secret
    expect(connector.authSecret).toBeUndefined();
  });

  test('endpoints off in a VPC with a NAT gateway: calls route through the NAT, and each construct warns what must route', () => {
    // GIVEN the connector with KafkaVpcEndpoints.none() in a VPC whose private subnets route to a NAT gateway
    const { stack, vpc, target } = stackWithVpc(true);
    new LambdaSinkConnector(stack, 'Orders', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.kafka.internal:9096'], vpc }),
      topics: ['orders'],
      target,
      errorTopic: 'errors',
      vpcEndpoints: KafkaVpcEndpoints.none(),
    });
    // WHEN checked THEN every call has the NAT route
    expectAllRoutes(stack, 2);
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    const warnings = Annotations.fromStack(stack).findWarning(
      '*',
      Match.stringLikeRegexp('vpcEndpoints is KafkaVpcEndpoints.none\\(\\)'),
    );
    expect(warnings.map((w) => w.id).sort()).toEqual(['/Stack/Orders/Dispatcher', '/Stack/Orders/Trigger']);
  });

  test('fails, naming the function and the call, when endpoints are off and no NAT serves', () => {
    // GIVEN a dispatcher in an isolated VPC with no endpoints and no NAT
    const { stack, vpc, target } = stackWithVpc();
    new KafkaDispatcher(stack, 'Dispatcher', { target, vpc, vpcEndpoints: KafkaVpcEndpoints.none() });
    // WHEN checked: the construct recorded the NAT choice, so remove it to model a VPC where nobody made that choice
    const template = Template.fromStack(stack).toJSON();
    for (const r of Object.values<any>(template.Resources)) if (r.Metadata) delete r.Metadata['cdk-kafka-lambda:egress'];
    const failures = checkReachability(template).flatMap((r) => r.failures);
    // THEN the invoke and the table calls have no route
    expect(failures).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^DispatcherFunction\w+: lambda:InvokeFunction .*no lambda endpoint in its VPC and no NAT route/),
        expect.stringMatching(/^DispatcherFunction\w+: dynamodb:BatchGetItem .*no dynamodb endpoint/),
      ]),
    );
  });

  test.each([
    [
      'the endpoint security group takes no 443 from the dispatcher',
      (t: any) => {
        for (const [id, r] of Object.entries<any>(t.Resources)) {
          if (
            r.Type === 'AWS::EC2::SecurityGroupIngress' &&
            JSON.stringify(r.Properties.SourceSecurityGroupId).includes('DispatcherSecurityGroup')
          )
            delete t.Resources[id];
        }
      },
      /lambda:InvokeFunction .*security groups take no 443 from DispatcherSecurityGroup/,
    ],
    [
      'the Lambda endpoint policy admits only the Lambda service',
      (t: any) => {
        for (const r of Object.values<any>(t.Resources)) {
          if (r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.PolicyDocument) {
            r.Properties.PolicyDocument.Statement = r.Properties.PolicyDocument.Statement.filter(
              (s: any) => !JSON.stringify(s.Principal).includes('DispatcherServiceRole'),
            );
          }
        }
      },
      /lambda:InvokeFunction .*the policy of .*LambdaEndpoint\w* does not admit \{"role":"DispatcherServiceRole\w+"\}/,
    ],
    [
      "the gateway endpoint misses the dispatcher's route tables",
      (t: any) => {
        for (const r of Object.values<any>(t.Resources))
          if (r.Properties?.VpcEndpointType === 'Gateway') r.Properties.RouteTableIds = [];
      },
      /dynamodb:BatchWriteItem .*is not on the route tables of its subnets/,
    ],
    [
      "the brokers' group does not admit the dispatcher",
      (t: any) => {
        for (const [id, r] of Object.entries<any>(t.Resources)) {
          if (
            r.Type === 'AWS::EC2::SecurityGroupIngress' &&
            r.Properties.FromPort === 9096 &&
            JSON.stringify(r.Properties.SourceSecurityGroupId).includes('DispatcherSecurityGroup')
          )
            delete t.Resources[id];
        }
      },
      /brokers on 9096: \w*Brokers\w* takes nothing from DispatcherSecurityGroup/,
    ],
  ])('fails when %s', (_label, breakIt, message) => {
    // GIVEN the reviewer's topology, which has every route
    const { stack, vpc, target } = stackWithVpc();
    const brokers = new ec2.SecurityGroup(stack, 'Brokers', { vpc, allowAllOutbound: false });
    const cluster = KafkaCluster.selfManaged({ bootstrapServers: ['b-1.kafka.internal:9096'], vpc, securityGroups: [brokers] });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
      target,
      relay: { cluster, auth: KafkaAuth.scram256(), responseTopic: 'results' },
    });
    new KafkaTrigger(stack, 'Trigger', { cluster, topics: ['orders'], auth: KafkaAuth.scram256(), target: dispatcher.function });
    const template = Template.fromStack(stack).toJSON();
    expect(checkReachability(template).flatMap((r) => r.failures)).toEqual([]);
    // WHEN one rule or statement is taken away THEN the check names the call and what blocks it
    breakIt(template);
    expect(
      checkReachability(template)
        .flatMap((r) => r.failures)
        .join('\n'),
    ).toMatch(message);
  });
});

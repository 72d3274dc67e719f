import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaCluster, KafkaDispatcher, KafkaDispatcherProps, LambdaSinkConnector } from '../lib';
import { configOf } from './support/dispatcher-config';
import { checkReachability } from './support/reachability';
import { cfnLint } from './trigger/cfn-lint';
import { synthWithNag } from './support/nag';

/** The target's account (444455556666) and its function; the dispatcher's stack is in 111122223333. */
const REMOTE_FUNCTION = 'arn:aws:lambda:us-east-1:444455556666:function:orders-sink';
const REMOTE_ROLE = 'arn:aws:iam::444455556666:role/orders-sink-invoker';
/** The dispatcher's role ARN as a resolved template value. */
const DISPATCHER_ROLE = { 'Fn::GetAtt': [expect.stringMatching(/^DispatcherServiceRole/), 'Arn'] };

function setup(props: Partial<KafkaDispatcherProps> = {}, app = new App()) {
  const stack = new Stack(app, 'CrossAccount', { env: { account: '111122223333', region: 'us-east-1' } });
  const target = lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION);
  const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target, ...props });
  return { stack, dispatcher, template: () => Template.fromStack(stack) };
}

const withRole = (stack: Stack) => iam.Role.fromRoleArn(stack, 'TargetRole', REMOTE_ROLE);

/** The statements of the dispatcher's execution role. */
const roleStatements = (template: Template): any[] =>
  Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^DispatcherServiceRole') }] },
    }),
  ).flatMap((p: any) => p.Properties.PolicyDocument.Statement);

describe('KafkaDispatcher: a target imported by ARN into an environment-agnostic stack', () => {
  test('GIVEN a stack without an account THEN the dispatcher synthesizes, may invoke the function and its versions, and prints no owner policy', () => {
    // GIVEN a function imported by its ARN into a stack whose account is known only at deploy time
    const stack = new Stack(new App(), 'Agnostic');
    new KafkaDispatcher(stack, 'Dispatcher', { target: lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION) });
    // WHEN it synthesizes
    const template = Template.fromStack(stack);
    // THEN its role may invoke exactly the function (and its versions and aliases), and no output asks for more
    const invoke = roleStatements(template).filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    expect(invoke.flatMap((s) => [s.Resource].flat())).toEqual([REMOTE_FUNCTION, `${REMOTE_FUNCTION}:*`]);
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual([]);
  });
});

describe('KafkaDispatcher: a target in another account', () => {
  test('GIVEN targetRole with an external ID THEN the dispatcher may assume exactly that role, invokes nothing itself, and its configuration names the role', () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'CrossAccount', { env: { account: '111122223333', region: 'us-east-1' } });
    new KafkaDispatcher(stack, 'Dispatcher', {
      target: lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION),
      targetRole: withRole(stack),
      targetRoleExternalId: 'orders-sink-7',
    });
    const template = Template.fromStack(stack);
    // THEN
    const statements = roleStatements(template);
    expect(statements).toContainEqual({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: REMOTE_ROLE });
    expect(statements.flatMap((s) => [s.Action].flat())).not.toContain('lambda:InvokeFunction');
    expect(configOf(template).target).toMatchObject({
      functionName: REMOTE_FUNCTION,
      assumeRole: { roleArn: REMOTE_ROLE, externalId: 'orders-sink-7' },
    });
  });

  test("GIVEN targetRole THEN the trust policy the role's owner attaches admits the dispatcher's role with the external ID, and is a stack output", () => {
    // GIVEN
    const app = new App();
    const stack = new Stack(app, 'CrossAccount', { env: { account: '111122223333', region: 'us-east-1' } });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
      target: lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION),
      targetRole: withRole(stack),
      targetRoleExternalId: 'orders-sink-7',
    });
    // THEN
    const trust = {
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { AWS: DISPATCHER_ROLE },
      Condition: { StringEquals: { 'sts:ExternalId': 'orders-sink-7' } },
    };
    expect(stack.resolve(dispatcher.targetOwnerPolicy!.toJSON()).Statement).toEqual([trust]);
    const output = Template.fromStack(stack).findOutputs('*', {
      Description: Match.stringLikeRegexp('trust policy of the target role'),
    });
    expect(Object.keys(output)).toEqual([expect.stringMatching(/^DispatcherTargetOwnerPolicy/)]);
  });

  test("GIVEN a target in another account and no targetRole THEN the dispatcher's role is granted the invocation and the owner's resource policy statement is an output", () => {
    // GIVEN
    const { dispatcher, stack, template } = setup();
    // THEN
    expect(roleStatements(template())).toContainEqual({
      Effect: 'Allow',
      Action: 'lambda:InvokeFunction',
      Resource: [REMOTE_FUNCTION, `${REMOTE_FUNCTION}:*`],
    });
    expect(stack.resolve(dispatcher.targetOwnerPolicy!.toJSON()).Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'lambda:InvokeFunction',
        Resource: REMOTE_FUNCTION,
        Principal: { AWS: DISPATCHER_ROLE },
      },
    ]);
    template().hasOutput('*', { Description: Match.stringLikeRegexp('resource policy \\(aws lambda add-permission') });
    expect(configOf(template()).target.assumeRole).toBeUndefined();
  });

  test("GIVEN a target in the dispatcher's account THEN there is nothing for an owner to add", () => {
    // GIVEN
    const stack = new Stack(new App(), 'SameAccount', { env: { account: '111122223333', region: 'us-east-1' } });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
      target: lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION.replace('444455556666', '111122223333')),
    });
    // THEN
    expect(dispatcher.targetOwnerPolicy).toBeUndefined();
    expect(Object.keys(Template.fromStack(stack).findOutputs('*'))).toEqual([]);
  });

  test.each([
    [
      'an external ID without targetRole',
      () => ({ targetRoleExternalId: 'orders-sink-7' }),
      /targetRoleExternalId was "orders-sink-7": an external ID is for the role the dispatcher assumes: set targetRole/,
    ],
    [
      'an external ID with a space',
      (stack: Stack) => ({ targetRole: withRole(stack), targetRoleExternalId: 'orders sink' }),
      /targetRoleExternalId was "orders sink": use 2 to 1224 characters/,
    ],
  ])(
    'GIVEN %s THEN synthesis fails naming the prop, the value and the fix',
    (_label, props: (stack: Stack) => Partial<KafkaDispatcherProps>, message) => {
      const stack = new Stack(new App(), 'Bad', { env: { account: '111122223333', region: 'us-east-1' } });
      const target = lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION);
      expect(() => new KafkaDispatcher(stack, 'Dispatcher', { target, ...props(stack) })).toThrow(message);
    },
  );

  test("GIVEN targetRole in an isolated VPC THEN STS is reached through its endpoint, which admits the dispatcher, and Lambda's endpoint admits the assumed role", () => {
    // GIVEN
    const stack = new Stack(new App(), 'InVpc', { env: { account: '111122223333', region: 'us-east-1' } });
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
      target: lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION),
      targetRole: withRole(stack),
      vpc,
    });
    const template = Template.fromStack(stack);
    // THEN
    expect(Object.keys(dispatcher.vpcEndpoints).sort()).toEqual(['dynamoDb', 'lambda', 'sts']);
    const policyOf = (endpoint: ec2.VpcEndpoint) =>
      stack.resolve((endpoint.node.defaultChild as ec2.CfnVPCEndpoint).policyDocument).Statement;
    expect(policyOf(dispatcher.vpcEndpoints.sts)).toEqual([
      expect.objectContaining({ Action: 'sts:AssumeRole', Resource: REMOTE_ROLE, Principal: { AWS: DISPATCHER_ROLE } }),
    ]);
    expect(policyOf(dispatcher.vpcEndpoints.lambda)).toEqual([
      expect.objectContaining({ Action: 'lambda:InvokeFunction', Principal: { AWS: REMOTE_ROLE } }),
    ]);
    // AND every call the dispatcher's role may make has a route
    const reports = checkReachability(template.toJSON());
    expect(reports.flatMap((r) => r.failures)).toEqual([]);
    expect(reports.find((r) => r.caller.startsWith('DispatcherFunction'))!.calls.join('\n')).toContain('sts:AssumeRole');
  });

  test('GIVEN LambdaSinkConnector with targetRole THEN its dispatcher assumes the role', () => {
    // GIVEN
    const stack = new Stack(new App(), 'Connector', { env: { account: '111122223333', region: 'us-east-1' } });
    new LambdaSinkConnector(stack, 'Orders', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] }),
      topics: ['orders'],
      target: lambda.Function.fromFunctionArn(stack, 'Target', REMOTE_FUNCTION),
      targetRole: withRole(stack),
      targetRoleExternalId: 'orders-sink-7',
    });
    // THEN
    expect(configOf(Template.fromStack(stack)).target.assumeRole).toEqual({ roleArn: REMOTE_ROLE, externalId: 'orders-sink-7' });
  });

  test('the cross-account stacks pass cdk-nag AwsSolutions and cfn-lint with no error', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-xtarget-'));
    try {
      // GIVEN both ways to reach a target in another account, checked by the AwsSolutions pack
      const app = new App({ context: { '@aws-cdk/core:validateAgainstDefaultRules': true } });
      setup({}, app);
      const roleStack = new Stack(app, 'CrossAccountRole', { env: { account: '111122223333', region: 'us-east-1' } });
      new KafkaDispatcher(roleStack, 'Dispatcher', {
        target: lambda.Function.fromFunctionArn(roleStack, 'Target', REMOTE_FUNCTION),
        targetRole: withRole(roleStack),
        targetRoleExternalId: 'orders-sink-7',
      });
      // WHEN synthesized into templates
      const { assembly, findings } = synthWithNag(app);
      expect(findings).toEqual([]);
      const templates = ['CrossAccount', 'CrossAccountRole'].map((name) => {
        const file = path.join(outdir, `${name}.template.json`);
        fs.writeFileSync(file, JSON.stringify(assembly!.getStackByName(name).template));
        return file;
      });
      // THEN cfn-lint reports no error
      expect(cfnLint(templates).filter((f) => f.Level === 'Error')).toEqual([]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

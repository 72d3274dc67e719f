import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { KafkaAuth, KafkaCluster, KafkaTrigger, KafkaTriggerProps, MskClusterProps } from '../../lib';
import { IAM4_BASIC_EXECUTION, acknowledgeFinding } from '../../lib/private/nag';
import { cfnLint } from './cfn-lint';
import { testApp, testFunction, testStack } from './support';
import { synthWithNag } from '../support/nag';

/** The owner's cluster (account 444455556666) and this account's (111122223333) managed VPC connection to it. */
const REMOTE_CLUSTER = 'arn:aws:kafka:us-east-1:444455556666:cluster/orders/5a0b3c1d-1111-2222-3333-444455556666-2';
const VPC_CONNECTION =
  'arn:aws:kafka:us-east-1:111122223333:vpc-connection/444455556666/orders/7c1f2e3d-aaaa-bbbb-cccc-ddddeeeeffff-3';

function crossAccount(props: Partial<KafkaTriggerProps> = {}, cluster: Partial<MskClusterProps> = {}, stack = testStack()) {
  const trigger = new KafkaTrigger(stack, 'Trigger', {
    cluster: KafkaCluster.msk({ clusterArn: REMOTE_CLUSTER, vpcConnectionArn: VPC_CONNECTION, ...cluster }),
    topics: ['orders'],
    target: testFunction(stack),
    dryRunCheck: false,
    ...props,
  });
  return { stack, trigger, template: () => Template.fromStack(stack) };
}

const statementsOf = (template: Template): any[] =>
  Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { PolicyName: Match.stringLikeRegexp('TriggerSourceAccessPolicy') },
    }),
  ).flatMap((p: any) => p.Properties.PolicyDocument.Statement);

describe('KafkaTrigger: an MSK cluster in another account (multi-VPC private connectivity)', () => {
  test("IAM auth: the mapping reads through the VPC connection; the role may describe it and read the remote cluster's topic and group", () => {
    // GIVEN the remote cluster's ARN and this account's VPC connection to it, IAM auth by default
    const { trigger, template } = crossAccount();
    // THEN the mapping's event source is the VPC connection, with no SourceAccessConfigurations
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: VPC_CONNECTION,
      SourceAccessConfigurations: Match.absent(),
    });
    // AND the grants name the connection and the remote cluster's own resources, nothing wider
    const group = trigger.consumerGroupIds[0];
    expect(statementsOf(template())).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Action: 'kafka:DescribeVpcConnection', Resource: VPC_CONNECTION }),
        expect.objectContaining({
          Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
          Resource: REMOTE_CLUSTER,
        }),
        expect.objectContaining({
          Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
          Resource: REMOTE_CLUSTER.replace(':cluster/', ':topic/') + '/orders',
        }),
        expect.objectContaining({
          Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
          Resource: REMOTE_CLUSTER.replace(':cluster/', ':group/') + `/${group}`,
        }),
      ]),
    );
  });

  test("the cluster policy the owner attaches admits this account to the connection, the brokers and the mapping's topic and group, and is a stack output", () => {
    // GIVEN a cross-account trigger with IAM auth
    const { stack, trigger, template } = crossAccount();
    // THEN the owner's policy grants this account exactly what the mapping uses
    const policy = stack.resolve(trigger.ownerClusterPolicy!.toJSON());
    const thisAccount = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::111122223333:root']] };
    expect(policy.Statement).toEqual([
      {
        Effect: 'Allow',
        Principal: { AWS: thisAccount },
        Action: ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'],
        Resource: REMOTE_CLUSTER,
      },
      {
        Effect: 'Allow',
        Principal: { AWS: thisAccount },
        Action: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
        Resource: REMOTE_CLUSTER,
      },
      {
        Effect: 'Allow',
        Principal: { AWS: thisAccount },
        Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
        Resource: REMOTE_CLUSTER.replace(':cluster/', ':topic/') + '/orders',
      },
      {
        Effect: 'Allow',
        Principal: { AWS: thisAccount },
        Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
        Resource: REMOTE_CLUSTER.replace(':cluster/', ':group/') + `/${trigger.consumerGroupIds[0]}`,
      },
    ]);
    const outputs = Object.values(
      template().findOutputs('*', { Description: Match.stringLikeRegexp('cluster policy the MSK cluster owner attaches') }),
    );
    expect(outputs).toHaveLength(1);
    expect(JSON.stringify(outputs[0].Value)).toContain('kafka:CreateVpcConnection');
  });

  test("SASL/SCRAM with the owner's secret and mTLS keep their SourceAccessConfigurations; the owner's policy then has no kafka-cluster actions", () => {
    // GIVEN the owner's SCRAM secret, shared with this account, and its key
    const stack = testStack();
    const secret = secretsmanager.Secret.fromSecretAttributes(stack, 'Secret', {
      secretCompleteArn: 'arn:aws:secretsmanager:us-east-1:444455556666:secret:AmazonMSK_orders-AbCdEf',
      encryptionKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:444455556666:key/abc'),
    });
    const { trigger, template } = crossAccount({ auth: KafkaAuth.scram512({ secret }) }, {}, stack);
    // THEN the mapping authenticates with it and the role may read it
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: VPC_CONNECTION,
      SourceAccessConfigurations: [
        { Type: 'SASL_SCRAM_512_AUTH', URI: 'arn:aws:secretsmanager:us-east-1:444455556666:secret:AmazonMSK_orders-AbCdEf' },
      ],
    });
    expect(statementsOf(template())).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: expect.arrayContaining(['secretsmanager:GetSecretValue']),
          Resource: 'arn:aws:secretsmanager:us-east-1:444455556666:secret:AmazonMSK_orders-AbCdEf',
        }),
      ]),
    );
    expect(JSON.stringify(trigger.ownerClusterPolicy!.toJSON())).not.toContain('kafka-cluster:');
    // AND mTLS with a client certificate secret works the same way
    const mtls = crossAccount({
      auth: KafkaAuth.mtls({
        secret: secretsmanager.Secret.fromSecretCompleteArn(
          testStack(),
          'Cert',
          'arn:aws:secretsmanager:us-east-1:111122223333:secret:orders-client-AbCdEf',
        ),
      }),
    });
    mtls.template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: VPC_CONNECTION,
      SourceAccessConfigurations: [{ Type: 'CLIENT_CERTIFICATE_TLS_AUTH', URI: Match.anyValue() }],
    });
  });

  test.each([
    [
      'MSK Serverless',
      {},
      { serverless: true },
      /cluster.serverless was true: Lambda has no cross-account event source mappings for MSK Serverless/,
    ],
    [
      'no auth',
      { auth: KafkaAuth.none() },
      {},
      /auth was "KafkaAuth.none\(\)": multi-VPC private connectivity serves IAM, SASL\/SCRAM and mTLS clients only/,
    ],
    [
      'an ARN that is not a VPC connection',
      {},
      { vpcConnectionArn: REMOTE_CLUSTER },
      /cluster.vpcConnectionArn was ".*:cluster\/orders\/.*": use the managed VPC connection ARN/,
    ],
    [
      'a cluster ARN of another owner',
      {},
      { clusterArn: REMOTE_CLUSTER.replace('444455556666', '999988887777') },
      /cluster.clusterArn was .*: the VPC connection .* leads to cluster orders of account 444455556666 in us-east-1; give that cluster's ARN/,
    ],
  ])('fails with %s', (_, props, cluster, message) => {
    expect(() => crossAccount(props as Partial<KafkaTriggerProps>, cluster as Partial<MskClusterProps>)).toThrow(message);
  });

  test('fails when the cluster is a construct of this app', () => {
    const stack = testStack();
    const cluster = new msk.CfnCluster(stack, 'Cluster', {
      clusterName: 'orders',
      kafkaVersion: '3.9.x',
      numberOfBrokerNodes: 2,
      brokerNodeGroupInfo: { clientSubnets: ['subnet-1', 'subnet-2'], instanceType: 'kafka.m7g.large' },
    });
    expect(
      () =>
        new KafkaTrigger(stack, 'Trigger', {
          cluster: KafkaCluster.msk({ cluster, vpcConnectionArn: VPC_CONNECTION }),
          topics: ['orders'],
          target: testFunction(stack),
          dryRunCheck: false,
        }),
    ).toThrow(/cluster.cluster was .*: a cluster in another account is not a construct of this app; give its ARN as clusterArn/);
  });

  test('fails when an MSK Serverless cluster in this account is read with other than IAM', () => {
    expect(() => crossAccount({ auth: KafkaAuth.scram512() }, { serverless: true, vpcConnectionArn: undefined })).toThrow(
      /auth was .*: MSK Serverless takes IAM access control only; use KafkaAuth.iam\(\)/,
    );
  });

  test('the cross-account stack passes cdk-nag AwsSolutions and cfn-lint with no error', () => {
    // GIVEN a cross-account trigger checked by the AwsSolutions pack
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-xacct-'));
    try {
      const app = testApp();
      const stack = new Stack(app, 'CrossAccount', { env: { account: '111122223333', region: 'us-east-1' } });
      const { trigger } = crossAccount({}, {}, stack);
      // The stand-in target's basic execution role is the test's, not the trigger's.
      acknowledgeFinding(stack.node.findChild('Target'), IAM4_BASIC_EXECUTION, "the test's stand-in target");
      expect(trigger.ownerClusterPolicy).toBeDefined();
      // WHEN synthesized into a template
      const { assembly, findings } = synthWithNag(app);
      expect(findings).toEqual([]);
      const template = path.join(outdir, 'CrossAccount.template.json');
      fs.writeFileSync(template, JSON.stringify(assembly!.getStackByName('CrossAccount').template));
      // THEN cfn-lint reports no error
      expect(cfnLint([template]).filter((f) => f.Level === 'Error')).toEqual([]);
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});

import { CfnOutput, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { mskResourceArn } from './msk';

/**
 * The cluster policy the owner of an MSK cluster in another account attaches so that this account's event source
 * mapping reads through its managed VPC connection: the connection and the cluster's brokers, and for IAM auth the
 * read actions on exactly the mapping's topics and consumer groups. Also written as the output `OwnerClusterPolicy`.
 * @see https://docs.aws.amazon.com/msk/latest/developerguide/mvpc-cluster-owner-action-policy.html
 */
export function ownerClusterPolicy(
  scope: Construct,
  clusterArn: string,
  topics: readonly string[],
  groups: readonly string[],
  iamAuth: boolean,
): iam.PolicyDocument {
  const principal = new iam.AccountPrincipal(Stack.of(scope).account);
  const statement = (actions: string[], resources: string[]) =>
    new iam.PolicyStatement({ principals: [principal], actions, resources });
  const policy = new iam.PolicyDocument({
    statements: [
      statement(
        ['kafka:CreateVpcConnection', 'kafka:GetBootstrapBrokers', 'kafka:DescribeCluster', 'kafka:DescribeClusterV2'],
        [clusterArn],
      ),
      ...(iamAuth
        ? [
            statement(['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'], [clusterArn]),
            statement(
              ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'],
              topics.map((t) => mskResourceArn(clusterArn, 'topic', t)),
            ),
            statement(
              ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
              groups.map((g) => mskResourceArn(clusterArn, 'group', g)),
            ),
          ]
        : []),
    ],
  });
  new CfnOutput(scope, 'OwnerClusterPolicy', {
    description: 'The cluster policy the MSK cluster owner attaches (aws kafka put-cluster-policy) for this trigger',
    value: Stack.of(scope).toJsonString(policy.toJSON()),
  });
  return policy;
}

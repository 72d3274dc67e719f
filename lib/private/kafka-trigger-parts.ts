import { Annotations, Lazy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { KafkaCluster } from '../kafka-cluster';
import { Fail } from './kafka-auth-setup';

/** The function's role as a grantee whose grants land in one given policy. */
class PolicyPrincipal extends iam.PrincipalBase {
  public readonly assumeRoleAction: string;
  public readonly principalAccount: string | undefined;
  constructor(
    private readonly role: iam.IRole,
    private readonly policy: iam.Policy,
  ) {
    super();
    this.assumeRoleAction = role.assumeRoleAction;
    this.principalAccount = role.principalAccount;
  }

  public get policyFragment(): iam.PrincipalPolicyFragment {
    return this.role.policyFragment;
  }

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    this.policy.addStatements(statement);
    return { statementAdded: true, policyDependable: this.policy };
  }

  public dedupeString(): string | undefined {
    return undefined;
  }
}

/**
 * Binds an aws-cdk-lib schema registry for the trigger's mappings, its grants going to the source access policy.
 * aws-cdk-lib's registries read only the function from bind() (to grant it access), not the mapping.
 */
export function bindSchemaRegistry(
  scope: Construct,
  registry: lambda.ISchemaRegistry,
  target: lambda.IFunction,
  policy: iam.Policy,
  firstMappingId: () => string,
): lambda.CfnEventSourceMapping.SchemaRegistryConfigProperty {
  const mapping = lambda.EventSourceMapping.fromEventSourceMappingId(
    scope,
    'SchemaRegistryMapping',
    Lazy.string({ produce: firstMappingId }),
  );
  const principal = new PolicyPrincipal(target.role!, policy);
  const handler = new Proxy(target, {
    get: (fn, name, receiver) =>
      name === 'grantPrincipal'
        ? principal
        : name === 'addToRolePolicy'
          ? (statement: iam.PolicyStatement) => principal.addToPrincipalPolicy(statement)
          : Reflect.get(fn, name, receiver),
  });
  const config = registry.bind(mapping, handler);
  return {
    schemaRegistryUri: config.schemaRegistryUri,
    eventRecordFormat: config.eventRecordFormat.value,
    accessConfigs: config.accessConfigs?.map((a) => ({ type: a.type.type, uri: a.uri })),
    schemaValidationConfigs: config.schemaValidationConfigs.map((v) => ({ attribute: v.attribute.value })),
  };
}

/**
 * Invokes the target with InvocationType DryRun at deploy time, so a function that cannot be invoked fails the
 * deployment with Lambda's message instead of the first batch.
 */
export function createDryRunCheck(scope: Construct, target: lambda.IFunction): cr.AwsCustomResource {
  const call: cr.AwsSdkCall = {
    service: 'Lambda',
    action: 'invoke',
    parameters: { FunctionName: target.functionArn, InvocationType: 'DryRun' },
    physicalResourceId: cr.PhysicalResourceId.of(`dry-run-${scope.node.addr}`),
    outputPaths: ['StatusCode'],
  };
  return new cr.AwsCustomResource(scope, 'DryRunCheck', {
    onCreate: call,
    onUpdate: call,
    installLatestAwsSdk: false,
    policy: cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [target.functionArn] }),
    ]),
  });
}

/**
 * The event source's subnets and security groups, with the rules Lambda documents on created and given groups alike:
 * broker port in from the event source's groups and out to them, 443 out to all.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
 */
export function eventSourceNetwork(
  scope: Construct,
  cluster: KafkaCluster,
  brokerPorts: number[],
  fail: Fail,
): { securityGroups: ec2.ISecurityGroup[]; subnets: ec2.ISubnet[]; createdSecurityGroup?: ec2.SecurityGroup } {
  const vpc = cluster.vpc;
  const sm = cluster.selfManagedProps;
  const mp = cluster.mskProps;
  if (!vpc) {
    if (sm?.subnets || sm?.securityGroups)
      fail('cluster.vpc', undefined, 'subnets and securityGroups place the event source in a VPC; give the vpc too');
    return { securityGroups: mp?.securityGroups ?? [], subnets: [] };
  }
  let subnets: ec2.ISubnet[] = [];
  try {
    subnets = vpc.selectSubnets((sm ?? mp)!.subnets ?? {}).subnets;
  } catch {
    // selectSubnets throws for a subnet type the VPC lacks; report it like an empty selection.
  }
  if (subnets.length === 0) {
    fail(
      'cluster.subnets',
      (sm ?? mp)!.subnets ?? 'the private subnets of the VPC',
      'the selection matches no subnet of the VPC; select subnets that exist (e.g. { subnetType: ec2.SubnetType.PRIVATE_ISOLATED })',
    );
  }
  let created: ec2.SecurityGroup | undefined;
  let groups = (sm ?? mp)!.securityGroups ?? [];
  if (sm && groups.length === 0) {
    created = new ec2.SecurityGroup(scope, 'SecurityGroup', {
      vpc,
      description: `Kafka event source of ${scope.node.path}`,
      allowAllOutbound: false,
    });
    groups = [created];
  }
  if (brokerPorts.length === 0) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:brokerPortsUnknown',
      'The bootstrap servers are only known at deploy time, so are the broker ports: no broker port rules are added. ' +
        "The event source's security groups must allow the broker port in from and out to themselves.",
    );
  }
  for (const group of groups) {
    for (const port of brokerPorts) {
      group.addIngressRule(group, ec2.Port.tcp(port), `Kafka broker port ${port} from the event source`);
      group.addEgressRule(group, ec2.Port.tcp(port), `Kafka broker port ${port} to the event source`);
    }
    group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Lambda, STS, Secrets Manager and the destination');
  }
  return { securityGroups: groups, subnets, createdSecurityGroup: created };
}

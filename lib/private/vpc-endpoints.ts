import { Annotations, Lazy, Names, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { KafkaVpcEndpoints, KafkaVpcEndpointsMode } from '../vpc-endpoints';

/** A service the functions or event sources of this library call from a VPC, and the endpoint it needs. */
export interface EndpointNeed {
  /** Key of the endpoint in `ExistingKafkaVpcEndpoints` and in the returned map. */
  readonly key: 'lambda' | 'sts' | 'secretsManager' | 'sqs' | 'sns' | 's3' | 'glue' | 'dynamoDb';
  /** What a warning calls the service. */
  readonly label: string;
  /** Endpoint policy statements: the caller, its actions, its resources. */
  readonly statements: iam.PolicyStatement[];
}

/** Where the callers sit and how they reach the services. */
export interface EndpointRequest {
  readonly vpc: ec2.IVpc;
  /** Create, none or existing. */
  readonly endpoints: KafkaVpcEndpoints;
  /** The callers' subnets: gateway endpoints are added to their route tables; interface endpoints go to one per AZ of them. */
  readonly subnets: ec2.ISubnet[];
  /** The callers' security groups, admitted on 443; none known → the VPC's CIDR is. */
  readonly callerGroups: ec2.ISecurityGroup[];
  /** Who calls, for warnings (e.g. "the event source", "the dispatcher"). */
  readonly caller: string;
  readonly needs: EndpointNeed[];
}

const INTERFACE_SERVICES: { [key: string]: [string, ec2.InterfaceVpcEndpointAwsService] } = {
  lambda: ['Lambda', ec2.InterfaceVpcEndpointAwsService.LAMBDA],
  sts: ['Sts', ec2.InterfaceVpcEndpointAwsService.STS],
  secretsManager: ['SecretsManager', ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER],
  sqs: ['Sqs', ec2.InterfaceVpcEndpointAwsService.SQS],
  sns: ['Sns', ec2.InterfaceVpcEndpointAwsService.SNS],
  s3: ['S3', ec2.InterfaceVpcEndpointAwsService.S3],
  glue: ['Glue', ec2.InterfaceVpcEndpointAwsService.GLUE],
};

/**
 * The network interface actions Lambda needs on the execution role of a function or event source in a VPC: the
 * interfaces' ids are unknown before creation and ec2:Describe* has no resource-level permissions.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
 */
export const ENI_ACTIONS = [
  'ec2:CreateNetworkInterface',
  'ec2:DescribeNetworkInterfaces',
  'ec2:DescribeVpcs',
  'ec2:DeleteNetworkInterface',
  'ec2:DescribeSubnets',
  'ec2:DescribeSecurityGroups',
];

/** The network interface actions, on all resources. */
export function eniStatement(): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: ENI_ACTIONS, resources: ['*'] });
}

/** Metadata key on an MSK mapping: the cluster's security groups, which its network interfaces use. */
export const EVENT_SOURCE_GROUPS_METADATA = 'cdk-kafka-lambda:securityGroups';

/** Metadata key on a dispatcher with a relay: the broker ports and the brokers' security groups it was connected to. */
export const RELAY_BROKERS_METADATA = 'cdk-kafka-lambda:relayBrokers';

/** Metadata key on a function or mapping whose VPC endpoints were turned off: its calls route through a NAT gateway. */
export const NAT_EGRESS_METADATA = 'cdk-kafka-lambda:egress';

/**
 * Gives the callers a route to each service they need: creates (once per VPC and stack) or reuses the
 * endpoints, adds the callers' policy statements and admits their security groups on 443. Returns the
 * endpoints created or used, by key; none when endpoints are off (a warning then names what must route).
 */
export function provideEndpoints(
  scope: Construct,
  request: EndpointRequest,
): {
  endpoints: { [key: string]: ec2.VpcEndpoint };
  securityGroup?: ec2.SecurityGroup;
} {
  const { vpc } = request;
  const needs = byService(request.needs);
  const mode = request.endpoints.mode;
  if (needs.length === 0) return { endpoints: {} };
  if (mode === KafkaVpcEndpointsMode.NONE) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:noVpcEndpoints',
      `vpcEndpoints is KafkaVpcEndpoints.none(): ${request.caller} calls ${needs.map((n) => n.label).join(', ')} from the VPC; ` +
        'its subnets must route 0.0.0.0/0 to a NAT gateway (or endpoints made elsewhere must admit it), or those calls time out.',
    );
    return { endpoints: {} };
  }
  if (mode === KafkaVpcEndpointsMode.EXISTING) {
    const endpoints: { [key: string]: ec2.VpcEndpoint } = {};
    for (const need of needs) {
      const endpoint: ec2.VpcEndpoint | undefined = request.endpoints.endpoints?.[need.key];
      if (!endpoint) {
        Annotations.of(scope).addWarningV2(
          `cdk-kafka-lambda:missingEndpoint:${need.key}`,
          `vpcEndpoints.existing() has no ${need.key} endpoint; ${request.caller} needs one (or a NAT gateway) to reach ${need.label}.`,
        );
        continue;
      }
      need.statements.forEach((s) => endpoint.addToPolicy(s));
      if (endpoint instanceof ec2.InterfaceVpcEndpoint) admit(endpoint.connections.securityGroups, request, vpc);
      endpoints[need.key] = endpoint;
    }
    return { endpoints };
  }

  // One set of endpoints per VPC and stack, shared by every construct in it: a second interface endpoint with
  // private DNS for the same service in a VPC fails to deploy.
  const stack = Stack.of(scope);
  const sharedId = `KafkaTriggerVpcEndpoints${Names.nodeUniqueId(vpc.node)}`;
  warnOnEndpointsInOtherStacks(scope, sharedId);
  const shared = (stack.node.tryFindChild(sharedId) as Construct | undefined) ?? new Construct(stack, sharedId);
  const securityGroup =
    (shared.node.tryFindChild('SecurityGroup') as ec2.SecurityGroup | undefined) ??
    new ec2.SecurityGroup(shared, 'SecurityGroup', {
      vpc,
      description: 'VPC endpoints of the Kafka event sources and dispatchers (cdk-kafka-lambda)',
      allowAllOutbound: false,
    });
  admit([securityGroup], request, vpc);
  const subnets = vpc.selectSubnets({ subnets: request.subnets.length ? request.subnets : undefined, onePerAz: true });
  const endpoints: { [key: string]: ec2.VpcEndpoint } = {};
  for (const need of needs) {
    const endpoint =
      need.key === 'dynamoDb'
        ? dynamoDbEndpoint(shared, vpc, request.subnets)
        : interfaceEndpoint(shared, vpc, need.key, subnets.subnets, securityGroup);
    need.statements.forEach((s) => endpoint.addToPolicy(s));
    endpoints[need.key] = endpoint;
  }
  return { endpoints, securityGroup };
}

/** One need per service, with the statements of all (e.g. several targets' invocations). */
function byService(needs: readonly EndpointNeed[]): EndpointNeed[] {
  const merged = new Map<string, EndpointNeed>();
  for (const need of needs) {
    const seen = merged.get(need.key);
    merged.set(need.key, seen ? { ...seen, statements: [...seen.statements, ...need.statements] } : need);
  }
  return [...merged.values()];
}

function interfaceEndpoint(
  shared: Construct,
  vpc: ec2.IVpc,
  key: string,
  subnets: ec2.ISubnet[],
  securityGroup: ec2.ISecurityGroup,
): ec2.InterfaceVpcEndpoint {
  const [name, service] = INTERFACE_SERVICES[key];
  const id = `${name}Endpoint`;
  return (
    (shared.node.tryFindChild(id) as ec2.InterfaceVpcEndpoint | undefined) ??
    new ec2.InterfaceVpcEndpoint(shared, id, {
      vpc,
      service,
      subnets: { subnets },
      securityGroups: [securityGroup],
      privateDnsEnabled: true,
      open: false,
    })
  );
}

/** Route tables of the created gateway endpoints, filled by every caller before synthesis. */
const GATEWAY_ROUTE_TABLES = new WeakMap<ec2.GatewayVpcEndpoint, Set<string>>();

/**
 * The DynamoDB gateway endpoint, on the route tables of every caller's subnets. A route table holds one route
 * per prefix list, so a DynamoDB gateway endpoint the VPC construct already has is reused.
 */
function dynamoDbEndpoint(shared: Construct, vpc: ec2.IVpc, subnets: ec2.ISubnet[]): ec2.GatewayVpcEndpoint {
  const routeTables = subnets.map((s) => s.routeTable.routeTableId);
  const own = vpc.node.children.find(
    (c): c is ec2.GatewayVpcEndpoint =>
      c instanceof ec2.GatewayVpcEndpoint &&
      JSON.stringify(Stack.of(c).resolve((c.node.defaultChild as ec2.CfnVPCEndpoint).serviceName)).includes('.dynamodb'),
  );
  if (own) return own;
  let endpoint = shared.node.tryFindChild('DynamoDbEndpoint') as ec2.GatewayVpcEndpoint | undefined;
  if (!endpoint) {
    endpoint = new ec2.GatewayVpcEndpoint(shared, 'DynamoDbEndpoint', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
    });
    const tables = new Set<string>();
    GATEWAY_ROUTE_TABLES.set(endpoint, tables);
    (endpoint.node.defaultChild as ec2.CfnVPCEndpoint).routeTableIds = Lazy.list({ produce: () => [...tables] });
  }
  routeTables.forEach((t) => GATEWAY_ROUTE_TABLES.get(endpoint!)!.add(t));
  return endpoint;
}

/** 443 in from the callers (their own groups send 443 out to anywhere, which the gateway endpoints need too). */
function admit(endpointGroups: ec2.ISecurityGroup[], request: EndpointRequest, vpc: ec2.IVpc): void {
  for (const group of endpointGroups) {
    if (request.callerGroups.length) {
      for (const caller of request.callerGroups) group.addIngressRule(caller, ec2.Port.tcp(443), `HTTPS from ${request.caller}`);
    } else {
      group.addIngressRule(
        ec2.Peer.ipv4(vpc.vpcCidrBlock),
        ec2.Port.tcp(443),
        `HTTPS from the VPC (the security groups of ${request.caller} are not known)`,
      );
    }
  }
}

function warnOnEndpointsInOtherStacks(scope: Construct, sharedId: string): void {
  const stack = Stack.of(scope);
  const others = scope.node.root.node
    .findAll()
    .filter((c) => c.node.id === sharedId && Stack.of(c) !== stack)
    .map((c) => Stack.of(c).node.path);
  if (others.length) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:endpointsInOtherStack',
      `Stack ${others.join(', ')} already creates VPC endpoints with private DNS in this VPC; two such endpoints for one service cannot coexist. ` +
        'Pass vpcEndpoints: KafkaVpcEndpoints.existing(...) or KafkaVpcEndpoints.none() in all but one stack.',
    );
  }
}

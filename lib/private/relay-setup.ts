import { Annotations, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DispatcherErrorBehavior, DispatcherInvocationType, KafkaRelayProps } from '../dispatcher-props';
import { KafkaAuthMethod } from '../kafka-auth';
import { KafkaCluster } from '../kafka-cluster';
import { BOUNDS, DEFAULTS, DispatcherConfig, HOST_PORT, RelayAuthName } from '../../contract/dispatcher-config';
import { Fail, KafkaAuthSetup, secretArnPattern } from './kafka-auth-setup';
import { mskResourceArn } from './msk';
import { RELAY_BROKERS_METADATA } from './vpc-endpoints';

/** The relay's name for each auth method, in the dispatcher configuration. */
const RELAY_AUTH: { [method: string]: RelayAuthName } = {
  [KafkaAuthMethod.NONE]: 'none',
  [KafkaAuthMethod.SASL_SCRAM_256]: 'scram-sha-256',
  [KafkaAuthMethod.SASL_SCRAM_512]: 'scram-sha-512',
  [KafkaAuthMethod.SASL_PLAIN]: 'plain',
  [KafkaAuthMethod.MTLS]: 'mtls',
  [KafkaAuthMethod.IAM]: 'msk-iam',
};

/** A key grant that holds only through the service that uses the key on the caller's behalf. */
export function grantKeyVia(role: iam.IRole, key: kms.IKey, service: string, actions: string[]): void {
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions,
      resources: [key.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `${service}.${Stack.of(role).region}.amazonaws.com` } },
    }),
  );
}

/**
 * The relay's configuration, secrets (created when the auth names none) and grants: GetSecretValue on its secrets and
 * their keys' Decrypt through Secrets Manager only; for MSK IAM, Connect and idempotent writes on the cluster,
 * DescribeTopic and WriteData on the relay topics only.
 */
export function relaySetup(
  scope: Construct,
  role: iam.IRole,
  relay: KafkaRelayProps,
  invocationType: DispatcherInvocationType,
  onError: DispatcherErrorBehavior,
  failOn: Fail,
  routeResponseTopics: readonly string[] = [],
): {
  config: DispatcherConfig['relay'];
  secret?: secretsmanager.ISecret;
  secretArns: string[];
  brokerPorts: number[];
} {
  const fail: Fail = (prop, value, fix) => failOn(`relay.${prop}`, value, fix);
  const cluster = relay.cluster;
  const setup = new KafkaAuthSetup(scope, relay.auth, cluster, fail);
  setup.validate();
  const servers = validateBootstrapServers(cluster.bootstrapServers, fail);
  validateRelayTopics(scope, relay, invocationType, onError, routeResponseTopics, fail);
  const secrets = setup.createSecrets();
  const secretArns = grantSecrets(role, [secrets.authSecret, secrets.rootCaSecret]);
  const maxBytes = relay.errorTopicMaxMessageBytes;
  if (relay.auth.method === KafkaAuthMethod.IAM) {
    // Without errorTopicMaxMessageBytes the relay reads the error topic's max.message.bytes (DescribeConfigs).
    grantMskIam(
      role,
      setup.mskClusterArn(),
      [relay.responseTopic, relay.errorTopic, ...routeResponseTopics],
      maxBytes === undefined ? relay.errorTopic : undefined,
    );
  }
  return {
    secret: secrets.authSecret,
    secretArns,
    brokerPorts: setup.brokerPorts(),
    config: {
      bootstrapServers: servers,
      auth: RELAY_AUTH[relay.auth.method],
      secretArn: secrets.authSecret?.secretArn,
      rootCaSecretArn: secrets.rootCaSecret?.secretArn,
      tls: cluster.tls,
      responseTopic: relay.responseTopic,
      errorTopic: relay.errorTopic,
      errorTopicMaxMessageBytes: maxBytes,
      clientId: relay.clientId ?? DEFAULTS.relayClientId,
    },
  };
}

/** The relay's brokers: known at synth, each "host:port". */
function validateBootstrapServers(servers: string[] | undefined, fail: Fail): string[] {
  if (servers === undefined) {
    fail(
      'cluster.bootstrapServers',
      undefined,
      'the relay connects to the brokers as a Kafka client; give them in KafkaCluster.msk({ ..., bootstrapServers }) (aws kafka get-bootstrap-brokers)',
    );
  }
  if (!Token.isUnresolved(servers)) {
    if (servers.length === 0) fail('cluster.bootstrapServers', servers, 'give at least one "host:port"');
    for (const server of servers) {
      if (!Token.isUnresolved(server) && !HOST_PORT.test(server))
        fail('cluster.bootstrapServers', server, 'give each broker as "host:port"');
    }
  }
  return servers;
}

/** The topics the relay writes, and the error topic's record size. */
function validateRelayTopics(
  scope: Construct,
  relay: KafkaRelayProps,
  invocationType: DispatcherInvocationType,
  onError: DispatcherErrorBehavior,
  routeResponseTopics: readonly string[],
  fail: Fail,
): void {
  if (relay.responseTopic === undefined && relay.errorTopic === undefined && routeResponseTopics.length === 0) {
    fail(
      'responseTopic',
      undefined,
      'a relay needs responseTopic or errorTopic (or both, or routes with a responseTopic): without them there is nothing to relay',
    );
  }
  if (relay.responseTopic !== undefined && relay.responseTopic === relay.errorTopic) {
    fail('errorTopic', relay.errorTopic, 'results and failures need different topics; name another error topic');
  }
  if (relay.responseTopic !== undefined && invocationType === DispatcherInvocationType.EVENT) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:dispatcherAsyncResponseTopic',
      'relay.responseTopic is set but invocationType is EVENT: asynchronous invocations return no response, nothing is relayed there.',
    );
  }
  const maxBytes = relay.errorTopicMaxMessageBytes;
  if (maxBytes !== undefined && !Token.isUnresolved(maxBytes)) {
    const [min, max] = BOUNDS.errorTopicMaxMessageBytes;
    if (!Number.isInteger(maxBytes) || maxBytes < min || maxBytes > max) {
      fail(
        'errorTopicMaxMessageBytes',
        maxBytes,
        `use the error topic's max.message.bytes, an integer from ${min} to ${max} (Kafka's default is 1048576)`,
      );
    }
  }
  if (maxBytes !== undefined && relay.errorTopic === undefined) {
    fail('errorTopicMaxMessageBytes', maxBytes, "it sizes the error topic's records: set relay.errorTopic too, or remove it");
  }
  if (relay.errorTopic !== undefined && onError !== DispatcherErrorBehavior.LOG) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:dispatcherErrorTopicUnused',
      `relay.errorTopic is set but onError is ${onError.toUpperCase()}: only LOG writes to the error topic.`,
    );
  }
}

/** GetSecretValue on the relay's secrets, and their keys' Decrypt through Secrets Manager only. */
function grantSecrets(role: iam.IRole, secrets: readonly (secretsmanager.ISecret | undefined)[]): string[] {
  const secretArns: string[] = [];
  for (const secret of secrets) {
    if (secret === undefined) continue;
    secretArns.push(secretArnPattern(secret));
    if (secret.encryptionKey) grantKeyVia(role, secret.encryptionKey, 'secretsmanager', ['kms:Decrypt']);
  }
  if (secretArns.length) {
    role.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: secretArns }));
  }
  return secretArns;
}

/**
 * The broker ports out to the relay cluster's security groups and in from this dispatcher's; without known groups,
 * out to the VPC and a warning naming the rule the brokers need.
 */
export function connectToBrokers(
  scope: Construct,
  fn: lambda.Function,
  cluster: KafkaCluster,
  ports: number[],
  vpc: ec2.IVpc,
): void {
  const brokerGroups = cluster.securityGroups ?? [];
  if (ports.length === 0) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:relayBrokerPortsUnknown',
      "relay.cluster's bootstrap servers are only known at deploy time, so are the broker ports: no rules to the brokers are added. " +
        "Allow the dispatcher's security group out to the brokers on their port, and the brokers' group in from it.",
    );
  }
  for (const port of ports) {
    for (const group of brokerGroups) {
      fn.connections.allowTo(group, ec2.Port.tcp(port), `Kafka broker port ${port}: the relay`);
    }
    if (brokerGroups.length === 0)
      fn.connections.allowTo(
        ec2.Peer.ipv4(vpc.vpcCidrBlock),
        ec2.Port.tcp(port),
        `Kafka broker port ${port} in the VPC: the relay`,
      );
  }
  if (brokerGroups.length === 0) {
    Annotations.of(scope).addWarningV2(
      'cdk-kafka-lambda:relayBrokerGroupsUnknown',
      `relay.cluster names no securityGroups: the brokers' security group must admit the dispatcher's security group on port ${ports.join(', ')}; ` +
        "give the brokers' groups in the cluster (KafkaCluster.selfManaged/msk({ securityGroups })) and the rules are added.",
    );
  }
  (fn.node.defaultChild as lambda.CfnFunction).addMetadata(RELAY_BROKERS_METADATA, {
    ports,
    securityGroupIds: brokerGroups.map((g) => g.securityGroupId),
  });
}

/**
 * kafka-cluster:Connect and idempotent writes on the cluster; DescribeTopic and WriteData on the relay topics only;
 * DescribeTopicDynamicConfiguration on the error topic whose max.message.bytes the relay reads.
 */
function grantMskIam(role: iam.IRole, clusterArn: string, topics: (string | undefined)[], describedTopic?: string): void {
  const topicArns = topics.filter((t): t is string => t !== undefined).map((topic) => mskResourceArn(clusterArn, 'topic', topic));
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kafka-cluster:Connect', 'kafka-cluster:WriteDataIdempotently'],
      resources: [clusterArn],
    }),
  );
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['kafka-cluster:DescribeTopic', 'kafka-cluster:WriteData'],
      resources: topicArns,
    }),
  );
  if (describedTopic !== undefined) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kafka-cluster:DescribeTopicDynamicConfiguration'],
        resources: [mskResourceArn(clusterArn, 'topic', describedTopic)],
      }),
    );
  }
}

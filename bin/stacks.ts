import * as fs from 'fs';
import * as path from 'path';
import { App, Duration, SecretValue, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ConfluentSchemaRegistry } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  InProcessDispatcher,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaTrigger,
  KinesisTrigger,
  LambdaSinkConnector,
  OnFailureDestination,
  RecordSchemaRegistry,
} from '../lib';

/** Fixed environment so the app synthesizes without credentials or lookups. */
export const EXAMPLE_ENV = { account: '111122223333', region: 'us-east-1' };

/** A public example root CA certificate (its private key was never kept). */
const EXAMPLE_ROOT_CA_PEM = fs.readFileSync(path.join(__dirname, 'fixtures', 'example-root-ca.pem'), 'utf8');

const MSK_CLUSTER_ARN = 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/5a0b3c1d-1111-2222-3333-444455556666-2';

/**
 * A stand-in for the user's own function. Its role may write its own log group and nothing else (no AWS managed
 * policy), so cdk-nag has nothing to report on it.
 */
function exampleTarget(scope: Construct): lambda.Function {
  const logGroup = new logs.LogGroup(scope, 'TargetLogs', { retention: logs.RetentionDays.ONE_MONTH });
  const role = new iam.Role(scope, 'TargetRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  logGroup.grantWrite(role);
  return new lambda.Function(scope, 'Target', {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: 'index.handler',
    timeout: Duration.minutes(1),
    code: lambda.Code.fromInline(
      'exports.handler = async (batch) => batch.map(({ payload }) => ({ payload: { ...payload, result: "ok" } }));',
    ),
    role,
    logGroup,
  });
}

/** A VPC without NAT: the event source reaches AWS APIs through the trigger's VPC endpoints. */
function isolatedVpc(scope: Construct): ec2.Vpc {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    natGateways: 0,
    maxAzs: 2,
    subnetConfiguration: [{ name: 'brokers', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
  vpc.addFlowLog('FlowLog');
  return vpc;
}

/** Fixed availability zones, so a VPC needs no context lookup and the app synthesizes offline. */
abstract class ExampleStack extends Stack {
  public get availabilityZones(): string[] {
    return ['us-east-1a', 'us-east-1b'];
  }
}

/** Self-managed Kafka in a VPC, SASL/SCRAM-512 (secret created), VPC endpoints created, SQS destination → dispatcher. */
export class SelfManagedScramStack extends ExampleStack {
  public readonly trigger: KafkaTrigger;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const target = exampleTarget(this);
    const dispatcher = new KafkaDispatcher(this, 'Dispatcher', { target });
    this.trigger = new KafkaTrigger(this, 'Orders', {
      cluster: KafkaCluster.selfManaged({
        bootstrapServers: ['b-1.kafka.example.internal:9096', 'b-2.kafka.example.internal:9096'],
        vpc: isolatedVpc(this),
      }),
      topics: ['orders'],
      target: dispatcher.function,
      auth: KafkaAuth.scram512(),
      onFailure: OnFailureDestination.sqs(),
    });
  }
}

/** Self-managed Kafka with mTLS and a private root CA, S3 destination (bucket created). */
export class SelfManagedMtlsStack extends ExampleStack {
  public readonly trigger: KafkaTrigger;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const key = kms.Key.fromKeyArn(
      this,
      'ClientCertKey',
      'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555',
    );
    this.trigger = new KafkaTrigger(this, 'Payments', {
      cluster: KafkaCluster.selfManaged({
        bootstrapServers: ['kafka-1.payments.example.internal:9094'],
        vpc: isolatedVpc(this),
        rootCaCertificatePem: EXAMPLE_ROOT_CA_PEM,
      }),
      topics: ['payments', 'refunds'],
      target: exampleTarget(this),
      auth: KafkaAuth.mtls({
        secret: secretsmanager.Secret.fromSecretAttributes(this, 'ClientCert', {
          secretCompleteArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:kafka-client-cert-AbCdEf',
          encryptionKey: key,
        }),
      }),
      onFailure: OnFailureDestination.s3(),
    });
  }
}

/** MSK with IAM access control, provisioned pollers and a Kafka-topic destination, endpoints in the cluster's VPC. */
export class MskIamStack extends ExampleStack {
  public readonly trigger: KafkaTrigger;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = isolatedVpc(this);
    // Stands in for the MSK cluster's security group.
    const clusterSg = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc,
      allowAllOutbound: false,
      description: 'MSK brokers',
    });
    this.trigger = new KafkaTrigger(this, 'Clicks', {
      cluster: KafkaCluster.msk({ clusterArn: MSK_CLUSTER_ARN, vpc, securityGroups: [clusterSg] }),
      topics: ['clicks'],
      target: exampleTarget(this),
      auth: KafkaAuth.iam(),
      provisionedPollers: { minimumPollers: 1, maximumPollers: 4 },
      onFailure: OnFailureDestination.kafkaTopic('clicks-dead-letters'),
    });
  }
}

/** MSK with mTLS (existing client certificate secret), reached through a NAT gateway, SNS destination. */
export class MskMtlsStack extends ExampleStack {
  public readonly trigger: KafkaTrigger;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const alerts = new sns.Topic(this, 'FailedBatches', {
      masterKey: new kms.Key(this, 'FailedBatchesKey', { enableKeyRotation: true }),
      enforceSSL: true,
    });
    this.trigger = new KafkaTrigger(this, 'Inventory', {
      cluster: KafkaCluster.msk({ clusterArn: MSK_CLUSTER_ARN }),
      topics: ['inventory'],
      target: exampleTarget(this),
      auth: KafkaAuth.mtls({
        secret: secretsmanager.Secret.fromSecretAttributes(this, 'ClientCert', {
          secretCompleteArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:msk-client-cert-AbCdEf',
          encryptionKey: kms.Key.fromKeyArn(
            this,
            'ClientCertKey',
            'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555',
          ),
        }),
      }),
      onFailure: OnFailureDestination.sns(alerts),
    });
  }
}

/**
 * A cluster on the internet (e.g. Confluent Cloud), SASL/PLAIN over TLS, provisioned pollers with a poller
 * group, a Confluent schema registry, ESM metrics and logs, error handling controls and a filter.
 */
export class ProvisionedSchemaRegistryStack extends ExampleStack {
  public readonly trigger: KafkaTrigger;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const registrySecret = new secretsmanager.Secret(this, 'RegistryCredentials', {
      encryptionKey: new kms.Key(this, 'RegistryCredentialsKey', { enableKeyRotation: true }),
      secretObjectValue: {
        username: SecretValue.unsafePlainText('registry-api-key'),
        password: SecretValue.unsafePlainText('replace-me'),
      },
    });
    Validations.of(registrySecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Schema registry API keys are rotated in Confluent Cloud, which has no Secrets Manager rotation function.',
    });
    this.trigger = new KafkaTrigger(this, 'Telemetry', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: ['pkc-12345.us-east-1.aws.confluent.cloud:9092'] }),
      topics: ['telemetry'],
      target: exampleTarget(this),
      auth: KafkaAuth.plain(),
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(5),
      provisionedPollers: { minimumPollers: 2, maximumPollers: 20, pollerGroupName: 'telemetry-pollers' },
      schemaRegistry: new ConfluentSchemaRegistry({
        schemaRegistryUri: 'https://psrc-12345.us-east-1.aws.confluent.cloud',
        authenticationType: lambda.KafkaSchemaRegistryAccessConfigType.BASIC_AUTH,
        secret: registrySecret,
        eventRecordFormat: lambda.EventRecordFormat.JSON,
        schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
      }),
      metrics: [lambda.MetricType.EVENT_COUNT, lambda.MetricType.ERROR_COUNT, lambda.MetricType.KAFKA_METRICS],
      systemLogLevel: lambda.EventSourceMappingLogLevel.WARN,
      retryAttempts: 3,
      bisectBatchOnError: true,
      maxRecordAge: Duration.hours(6),
      reportBatchItemFailures: true,
      filters: [lambda.FilterCriteria.filter({ value: { type: lambda.FilterRule.isEqual('reading') } })],
      onFailure: OnFailureDestination.sqs(),
    });
  }
}

/**
 * A Kinesis stream created by the trigger, read through an enhanced fan-out consumer with two batches per
 * shard, bounded retries and record age, and the default on-failure queue; the dispatcher invokes the target
 * once per record (idempotency by stream-shard-sequence number) and answers with partial batch responses.
 */
export class KinesisStack extends ExampleStack {
  public readonly trigger: KinesisTrigger;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const target = exampleTarget(this);
    const dispatcher = new KafkaDispatcher(this, 'Dispatcher', { target, reportBatchItemFailures: true });
    this.trigger = new KinesisTrigger(this, 'Clicks', {
      target: dispatcher.function,
      batchSize: 500,
      maxBatchingWindow: Duration.seconds(1),
      enhancedFanOut: true,
      parallelizationFactor: 2,
      retryAttempts: 5,
      maxRecordAge: Duration.hours(6),
      reportBatchItemFailures: true,
    });
    // IteratorAge, the dispatcher's records, the target's errors, the on-failure queue and the mapping's health.
    this.trigger.dashboard();
  }
}

/**
 * The whole path in one construct, inside the cluster's VPC: self-managed Kafka with SASL/SCRAM-256 (one created
 * secret for the event source and the relay), values in the Glue Schema Registry's wire format decoded to JSON,
 * results and failures relayed to Kafka topics, an SQS destination. The dispatcher runs in the VPC and reaches
 * Lambda, Secrets Manager, Glue and DynamoDB through the shared endpoints.
 */
export class SinkConnectorStack extends ExampleStack {
  public readonly connector: LambdaSinkConnector;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    this.connector = new LambdaSinkConnector(this, 'Orders', {
      cluster: KafkaCluster.selfManaged({
        bootstrapServers: ['b-1.kafka.example.internal:9096', 'b-2.kafka.example.internal:9096'],
        vpc: isolatedVpc(this),
      }),
      topics: ['orders'],
      auth: KafkaAuth.scram256(),
      target: exampleTarget(this),
      responseTopic: 'orders-results',
      errorTopic: 'orders-errors',
      onFailure: OnFailureDestination.sqs(),
      // Values written by the Glue Schema Registry's serializers reach the target as JSON.
      schemas: {
        registry: RecordSchemaRegistry.glue({ registryArn: new glue.CfnRegistry(this, 'Schemas', { name: 'orders' }).attrArn }),
      },
    });
    this.connector.dashboard();
  }
}

/**
 * The mapping straight on the user's function, the pipeline inside it: self-managed Kafka in a VPC with SASL/SCRAM-512,
 * the function's handler wraps its code with inProcessRecordHandler (the runtime library comes as a layer), results and
 * failures relayed to Kafka topics; a retried batch skips what is done. One function billed per batch.
 */
export class InProcessStack extends ExampleStack {
  public readonly dispatcher: InProcessDispatcher;

  constructor(scope: Construct, id: string, props?: StackProps) {
    super(scope, id, props);
    const vpc = isolatedVpc(this);
    const logGroup = new logs.LogGroup(this, 'OrdersLogs', { retention: logs.RetentionDays.ONE_MONTH });
    const role = new iam.Role(this, 'OrdersRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    logGroup.grantWrite(role);
    const eni = new iam.Policy(this, 'OrdersNetworkInterfaces', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DeleteNetworkInterface'],
          resources: ['*'],
        }),
      ],
    });
    Validations.of(eni).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: "Lambda manages the function's network interfaces: their ids are unknown before creation.",
    });
    const fn = new lambda.Function(this, 'Orders', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      timeout: Duration.minutes(1),
      code: lambda.Code.fromInline(
        [
          "const { FieldAs, inProcessRecordHandler } = require('cdk-kafka-lambda/runtime');",
          'exports.handler = inProcessRecordHandler(async (order) => ({ orderId: order.value.id, status: "accepted" }), {',
          '  value: FieldAs.json(),',
          '});',
        ].join('\n'),
      ),
      role,
      logGroup,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    });
    fn.node.addDependency(eni);
    // The brokers' security group: the relay (in the function) and the event source get rules to and from it.
    const brokers = new ec2.SecurityGroup(this, 'Brokers', { vpc, description: 'Kafka brokers', allowAllOutbound: false });
    const cluster = KafkaCluster.selfManaged({
      bootstrapServers: ['b-1.kafka.example.internal:9096', 'b-2.kafka.example.internal:9096'],
      vpc,
      securityGroups: [brokers],
    });
    // The dispatcher first: a trigger that targets the function binds to it.
    this.dispatcher = new InProcessDispatcher(this, 'Exactly', {
      function: fn,
      relay: { cluster, auth: KafkaAuth.scram512(), responseTopic: 'orders-results', errorTopic: 'orders-errors' },
    });
    new KafkaTrigger(this, 'OrdersTopic', {
      cluster,
      topics: ['orders'],
      target: fn,
      auth: KafkaAuth.scram512({ secret: this.dispatcher.relaySecret }),
      onFailure: OnFailureDestination.sqs(),
    });
  }
}

/** Every example stack of the app, in one place so tests can synthesize the same set. */
export function buildExampleStacks(app: App): Stack[] {
  return [
    new SelfManagedScramStack(app, 'KafkaLambdaSelfManagedScram', { env: EXAMPLE_ENV }),
    new SelfManagedMtlsStack(app, 'KafkaLambdaSelfManagedMtls', { env: EXAMPLE_ENV }),
    new MskIamStack(app, 'KafkaLambdaMskIam', { env: EXAMPLE_ENV }),
    new MskMtlsStack(app, 'KafkaLambdaMskMtls', { env: EXAMPLE_ENV }),
    new ProvisionedSchemaRegistryStack(app, 'KafkaLambdaProvisionedSchemaRegistry', { env: EXAMPLE_ENV }),
    new KinesisStack(app, 'KafkaLambdaKinesis', { env: EXAMPLE_ENV }),
    new SinkConnectorStack(app, 'KafkaLambdaSinkConnector', { env: EXAMPLE_ENV }),
    new InProcessStack(app, 'KafkaLambdaInProcess', { env: EXAMPLE_ENV }),
  ];
}

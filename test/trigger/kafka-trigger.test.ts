import { CfnParameter, Duration, Stack, Tags } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ConfluentSchemaRegistry, GlueSchemaRegistry } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import {
  DispatcherErrorBehavior,
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaConsumptionMode,
  KafkaTrigger,
  KafkaTriggerProps,
  KafkaVpcEndpoints,
  OnFailureDestination,
} from '../../lib';
import { MSK_ARN, testApp, testFunction, testStack } from './support';

const SERVERS = ['b-1.kafka.example.com:9096', 'b-2.kafka.example.com:9096'];

function isolatedVpc(stack: Stack): ec2.Vpc {
  return new ec2.Vpc(stack, 'Vpc', {
    natGateways: 0,
    maxAzs: 2,
    subnetConfiguration: [{ name: 'brokers', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
  });
}

/** A trigger in a fresh stack; `props` override the self-managed defaults. */
function trigger(
  props: Partial<KafkaTriggerProps> = {},
  stack = testStack(),
): { stack: Stack; trigger: KafkaTrigger; template: () => Template } {
  const t = new KafkaTrigger(stack, 'Trigger', {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
    topics: ['orders'],
    target: testFunction(stack),
    ...props,
  });
  return { stack, trigger: t, template: () => Template.fromStack(stack) };
}

function policyStatements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { PolicyName: Match.stringLikeRegexp('TriggerSourceAccessPolicy') },
  });
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(template: Template): string[] {
  return policyStatements(template)
    .flatMap((s) => [s.Action].flat())
    .sort();
}

describe('KafkaTrigger: event source mapping', () => {
  test('a self-managed cluster, topics and a function give a SCRAM-512 mapping from the oldest record with a created secret', () => {
    // GIVEN only a cluster, topics and a function
    const { template } = trigger();
    // THEN the mapping reads from TRIM_HORIZON with SASL/SCRAM-512 and a deterministic consumer group
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['orders'],
      StartingPosition: 'TRIM_HORIZON',
      SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: SERVERS } },
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: Match.stringLikeRegexp('^TestStack-Trigger-[0-9A-F]{8}$') },
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: { Ref: Match.stringLikeRegexp('TriggerSaslSecret') } }],
    });
    // AND the secret holds a username and a generated password, encrypted with a rotating CMK
    template().hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: {
        SecretStringTemplate: '{"username":"lambda-esm"}',
        GenerateStringKey: 'password',
        PasswordLength: 32,
      },
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerSecretsKey'), 'Arn'] },
    });
    template().hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  test('a created SASL secret is announced with what to do on the brokers', () => {
    // GIVEN a trigger that creates its secret
    const { stack } = trigger();
    // THEN a warning says to create the user on the brokers
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Trigger',
      Match.stringLikeRegexp("create user lambda-esm on the brokers .*--add-config 'SCRAM-SHA-512="),
    );
  });

  test('every ESM option reaches the mapping', () => {
    // GIVEN a trigger with every option set
    const stack = testStack();
    const key = new kms.Key(stack, 'FilterKey');
    const { trigger: t, template } = trigger(
      {
        batchSize: 500,
        maxBatchingWindow: Duration.seconds(10),
        startingPosition: lambda.StartingPosition.AT_TIMESTAMP,
        startingPositionTimestamp: 1700000000,
        consumerGroupId: 'orders-consumers.v2@team:a/b*c+d=e',
        filters: [lambda.FilterCriteria.filter({ value: { type: lambda.FilterRule.isEqual('order') } })],
        filterEncryption: key,
        enabled: false,
        provisionedPollers: { minimumPollers: 2, maximumPollers: 20, pollerGroupName: 'orders-group' },
        metrics: [lambda.MetricType.EVENT_COUNT, lambda.MetricType.ERROR_COUNT, lambda.MetricType.KAFKA_METRICS],
        systemLogLevel: lambda.EventSourceMappingLogLevel.DEBUG,
        retryAttempts: 5,
        bisectBatchOnError: true,
        maxRecordAge: Duration.hours(1),
        reportBatchItemFailures: true,
      },
      stack,
    );
    Tags.of(t).add('team', 'payments');
    // THEN each lands in the CloudFormation property AWS documents
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 10,
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: 1700000000,
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-consumers.v2@team:a/b*c+d=e' },
      FilterCriteria: { Filters: [{ Pattern: '{"value":{"type":["order"]}}' }] },
      KmsKeyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('FilterKey'), 'Arn'] },
      Enabled: false,
      ProvisionedPollerConfig: { MinimumPollers: 2, MaximumPollers: 20, PollerGroupName: 'orders-group' },
      MetricsConfig: { Metrics: ['EventCount', 'ErrorCount', 'KafkaMetrics'] },
      LoggingConfig: { SystemLogLevel: 'DEBUG' },
      MaximumRetryAttempts: 5,
      BisectBatchOnFunctionError: true,
      MaximumRecordAgeInSeconds: 3600,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      Tags: [{ Key: 'team', Value: 'payments' }],
    });
    // AND Lambda may decrypt the filter criteria
    template().hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Principal: { Service: 'lambda.amazonaws.com' } })]),
      },
    });
  });

  test('several topics make one mapping each, with its own consumer group; ids and ARNs are exposed', () => {
    // GIVEN two topics
    const { trigger: t, template } = trigger({ topics: ['orders', 'refunds'] });
    // THEN two mappings, one topic and one group each
    template().resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: ['refunds'],
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: Match.stringLikeRegexp('-refunds$') },
    });
    expect(new Set(t.consumerGroupIds).size).toBe(2);
    expect(t.eventSourceMappingIds).toHaveLength(2);
    expect(t.eventSourceMappingArns).toHaveLength(2);
    expect(Stack.of(t).resolve(t.eventSourceMappingIds[1])).toEqual({
      Ref: expect.stringMatching(/^TriggerEventSourceMappingrefunds/),
    });
  });

  test('a Glue schema registry is configured on the MSK mapping and its reads are granted', () => {
    // GIVEN MSK with provisioned pollers and a Glue registry
    const { template } = trigger({
      cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }),
      provisionedPollers: { minimumPollers: 1 },
      schemaRegistry: new GlueSchemaRegistry({
        schemaRegistryArn: 'arn:aws:glue:us-east-1:111122223333:registry/orders',
        eventRecordFormat: lambda.EventRecordFormat.JSON,
        schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
      }),
    });
    // THEN the registry is part of the MSK event source config
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      AmazonManagedKafkaEventSourceConfig: {
        SchemaRegistryConfig: {
          SchemaRegistryURI: 'arn:aws:glue:us-east-1:111122223333:registry/orders',
          EventRecordFormat: 'JSON',
          SchemaValidationConfigs: [{ Attribute: 'VALUE' }],
        },
      },
    });
    // AND its reads are in the one source access policy, not the function's default policy
    expect(actionsOf(template())).toEqual(expect.arrayContaining(['glue:GetRegistry', 'glue:GetSchemaVersion']));
    const others = Object.entries(template().findResources('AWS::IAM::Policy')).filter(
      ([id]) => !id.startsWith('TriggerSourceAccessPolicy'),
    );
    expect(JSON.stringify(others)).not.toMatch(/glue:/);
  });

  test("a Confluent schema registry's secret read is in the source access policy", () => {
    // GIVEN a Confluent registry with basic auth credentials
    const stack = testStack();
    const secret = new secretsmanager.Secret(stack, 'RegistrySecret');
    const { template } = trigger(
      {
        provisionedPollers: { minimumPollers: 1 },
        schemaRegistry: new ConfluentSchemaRegistry({
          schemaRegistryUri: 'https://registry.example.com',
          authenticationType: lambda.KafkaSchemaRegistryAccessConfigType.BASIC_AUTH,
          secret,
          eventRecordFormat: lambda.EventRecordFormat.JSON,
          schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.VALUE }],
        }),
      },
      stack,
    );
    // THEN GetSecretValue on it is granted there and nowhere else
    const reads = policyStatements(template()).filter((st) => [st.Action].flat().includes('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(reads)).toMatch(/RegistrySecret/);
    const others = Object.entries(template().findResources('AWS::IAM::Policy')).filter(
      ([id]) => !id.startsWith('TriggerSourceAccessPolicy'),
    );
    expect(JSON.stringify(others)).not.toMatch(/RegistrySecret/);
  });

  test('Queue consumption mode uses a share group and sends no starting position', () => {
    // GIVEN a self-managed cluster read in Queue mode
    const { template } = trigger({ consumptionMode: KafkaConsumptionMode.QUEUE });
    // THEN the mode is set and StartingPosition, which does not apply, is absent
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedKafkaEventSourceConfig: { ConsumptionMode: 'Queue' },
      StartingPosition: Match.absent(),
    });
  });

  test('the mappings are created after the grants and the dry-run check', () => {
    // GIVEN a trigger
    const { template } = trigger();
    // THEN the mapping depends on the policy and on the dry-run custom resource
    const mapping = Object.values(template().findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    expect(mapping.DependsOn).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^TriggerSourceAccessPolicy/),
        expect.stringMatching(/^TriggerDryRunCheck[0-9A-F]{8}$/),
      ]),
    );
  });

  test.each([
    ['batchSize', 1],
    ['batchSize', 10000],
    ['maxBatchingWindow', Duration.seconds(300)],
    ['retryAttempts', -1],
    ['retryAttempts', 0],
    ['retryAttempts', 10000],
    ['maxRecordAge', Duration.seconds(60)],
    ['maxRecordAge', Duration.days(7)],
  ])('%s at its boundary %p synthesizes', (prop, value) => {
    // GIVEN a boundary value (provisioned mode for the options that need it)
    const { template } = trigger({ [prop]: value, provisionedPollers: { minimumPollers: 1 } });
    // THEN the mapping is created
    template().resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  test('unresolved tokens are passed through unchecked', () => {
    // GIVEN values only known at deploy time
    const stack = testStack();
    const { template } = trigger(
      {
        batchSize: new CfnParameter(stack, 'BatchSize', { type: 'Number' }).valueAsNumber,
        consumerGroupId: new CfnParameter(stack, 'Group').valueAsString,
        topics: [new CfnParameter(stack, 'Topic').valueAsString],
      },
      stack,
    );
    // THEN synthesis keeps the references
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: { Ref: 'BatchSize' },
      Topics: [{ Ref: 'Topic' }],
    });
  });
});

describe('KafkaTrigger: validation', () => {
  const provisioned = { provisionedPollers: { minimumPollers: 1, maximumPollers: 2 } };
  test.each<[string, Partial<KafkaTriggerProps>, RegExp]>([
    ['fails on batchSize 0', { batchSize: 0 }, /batchSize was 0: use an integer from 1 to 10000/],
    ['fails on batchSize 10001', { batchSize: 10001 }, /batchSize was 10001/],
    ['fails on a fractional batchSize', { batchSize: 1.5 }, /batchSize was 1.5/],
    [
      'fails on a batching window over 300 s',
      { maxBatchingWindow: Duration.seconds(301) },
      /maxBatchingWindow was "301 seconds": use at most Duration.seconds\(300\)/,
    ],
    [
      'fails on AT_TIMESTAMP without a timestamp',
      { startingPosition: lambda.StartingPosition.AT_TIMESTAMP },
      /startingPositionTimestamp is not set: AT_TIMESTAMP needs/,
    ],
    [
      'fails on a timestamp without AT_TIMESTAMP',
      { startingPositionTimestamp: 1700000000 },
      /startingPositionTimestamp was 1700000000: it applies to AT_TIMESTAMP only/,
    ],
    [
      'fails on a consumer group id with a space',
      { consumerGroupId: 'my group' },
      /consumerGroupId was "my group": use 1–200 characters/,
    ],
    ['fails on a consumer group id of 201 characters', { consumerGroupId: 'g'.repeat(201) }, /consumerGroupId was "g{10}/],
    [
      'fails on a consumer group id shared by two topics',
      { consumerGroupId: 'g', topics: ['orders', 'refunds'] },
      /must be unique per event source mapping/,
    ],
    ['fails on no topic', { topics: [] }, /topics was \[\]: give at least one topic/],
    ['fails on a duplicate topic', { topics: ['orders', 'orders'] }, /list each topic once/],
    ['fails on a topic starting with a dot', { topics: ['.orders'] }, /topics was ".orders"/],
    [
      'fails on filter encryption without filters',
      { filterEncryption: kms.Key.fromKeyArn(testStack(), 'K', 'arn:aws:kms:us-east-1:111122223333:key/k') },
      /filterEncryption was .*: it encrypts filters/,
    ],
    [
      'fails on minimumPollers 0',
      { provisionedPollers: { minimumPollers: 0 } },
      /provisionedPollers.minimumPollers was 0: use an integer from 1 to 200/,
    ],
    [
      'fails on maximumPollers 10001',
      { provisionedPollers: { maximumPollers: 10001 } },
      /provisionedPollers.maximumPollers was 10001: use an integer from 1 to 10000/,
    ],
    [
      'fails on a poller group name with a dot',
      { provisionedPollers: { pollerGroupName: 'orders.group' } },
      /provisionedPollers.pollerGroupName was "orders.group": use 1–128 characters of \[a-zA-Z0-9_-\]/,
    ],
    [
      'fails on minimumPollers above maximumPollers',
      { provisionedPollers: { minimumPollers: 5, maximumPollers: 2 } },
      /minimumPollers must not exceed maximumPollers/,
    ],
    [
      'fails on retryAttempts -2',
      { ...provisioned, retryAttempts: -2 },
      /retryAttempts was -2: use an integer from 0 to 10000, or -1 for infinite/,
    ],
    ['fails on retryAttempts 10001', { ...provisioned, retryAttempts: 10001 }, /retryAttempts was 10001/],
    ['fails on maxRecordAge under 60 s', { ...provisioned, maxRecordAge: Duration.seconds(59) }, /maxRecordAge was "59 seconds"/],
    [
      'fails on maxRecordAge over 7 days',
      { ...provisioned, maxRecordAge: Duration.days(8) },
      /maxRecordAge was "691200 seconds"/,
    ],
    [
      'fails on a Kafka destination equal to the source topic',
      { ...provisioned, onFailure: OnFailureDestination.kafkaTopic('orders') },
      /onFailure was "kafka:\/\/orders": the destination topic must differ/,
    ],
    [
      'fails on Queue mode with a starting position',
      { consumptionMode: KafkaConsumptionMode.QUEUE, startingPosition: lambda.StartingPosition.LATEST },
      /startingPosition was "LATEST": it does not apply in Queue consumption mode/,
    ],
    [
      'fails on Queue mode with a batching window',
      { consumptionMode: KafkaConsumptionMode.QUEUE, maxBatchingWindow: Duration.seconds(1) },
      /maxBatchingWindow was "1 second": it does not apply in Queue/,
    ],
    [
      'fails on Queue mode with MSK',
      { consumptionMode: KafkaConsumptionMode.QUEUE, cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }) },
      /consumptionMode was "Queue": Queue mode exists for self-managed Kafka only/,
    ],
    [
      'fails on a Kafka destination CloudFormation cannot hold',
      { ...provisioned, onFailure: OnFailureDestination.kafkaTopic('dlt') },
      /at least 12 characters/,
    ],
  ])('%s', (_name, props, message) => {
    // WHEN the trigger is built with the bad value THEN the error names the prop, the value and the fix
    expect(() => trigger(props)).toThrow(message);
  });

  test.each<[string, Partial<KafkaTriggerProps>]>([
    [
      'schemaRegistry',
      {
        schemaRegistry: new GlueSchemaRegistry({
          schemaRegistryArn: 'arn:aws:glue:us-east-1:111122223333:registry/r',
          eventRecordFormat: lambda.EventRecordFormat.JSON,
          schemaValidationConfigs: [],
        }),
      },
    ],
    ['systemLogLevel', { systemLogLevel: lambda.EventSourceMappingLogLevel.INFO }],
    ['retryAttempts', { retryAttempts: 3 }],
    ['bisectBatchOnError', { bisectBatchOnError: true }],
    ['maxRecordAge', { maxRecordAge: Duration.hours(1) }],
    ['reportBatchItemFailures', { reportBatchItemFailures: true }],
    ['onFailure', { onFailure: OnFailureDestination.kafkaTopic('orders-dlt') }],
  ])('fails on %s without provisioned pollers', (prop, props) => {
    // WHEN a provisioned-only option is set in on-demand mode THEN the error says to add provisioned pollers
    expect(() => trigger(props)).toThrow(
      new RegExp(`${prop} was .*: Lambda supports it for Kafka in provisioned mode only; set provisionedPollers`),
    );
  });

  test.each<[string, () => Partial<KafkaTriggerProps>, RegExp]>([
    [
      'fails on SCRAM without TLS',
      () => ({ cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, tls: false }), auth: KafkaAuth.scram512() }),
      /cluster.tls was false: SASL_SCRAM_512_AUTH needs a TLS listener/,
    ],
    [
      'fails on SASL/PLAIN without TLS',
      () => ({ cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, tls: false }), auth: KafkaAuth.plain() }),
      /BASIC_AUTH needs a TLS listener/,
    ],
    [
      'fails on SASL/PLAIN with MSK',
      () => ({ cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }), auth: KafkaAuth.plain() }),
      /auth was "KafkaAuth.plain\(\)": Amazon MSK does not support SASL\/PLAIN/,
    ],
    [
      'fails on SCRAM-256 with MSK',
      () => ({ cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }), auth: KafkaAuth.scram256() }),
      /Amazon MSK supports SASL\/SCRAM-SHA-512 only/,
    ],
    [
      'fails on IAM auth with a self-managed cluster',
      () => ({ auth: KafkaAuth.iam() }),
      /IAM access control exists for Amazon MSK only/,
    ],
    [
      'fails on an MSK SCRAM secret without the AmazonMSK_ prefix',
      () => {
        const stack = testStack();
        return {
          cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }),
          auth: KafkaAuth.scram512({
            secret: secretsmanager.Secret.fromSecretAttributes(stack, 'S', {
              secretCompleteArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:kafka-user-AbCdEf',
              encryptionKey: new kms.Key(stack, 'K'),
            }),
          }),
        };
      },
      /auth.secret was "kafka-user": Amazon MSK only associates SCRAM secrets whose name starts with "AmazonMSK_"/,
    ],
    [
      'fails on an MSK SCRAM secret with the AWS managed key',
      () => ({
        cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }),
        auth: KafkaAuth.scram512({
          secret: secretsmanager.Secret.fromSecretCompleteArn(
            testStack(),
            'S',
            'arn:aws:secretsmanager:us-east-1:111122223333:secret:AmazonMSK_user-AbCdEf',
          ),
        }),
      }),
      /auth.secret.encryptionKey is not set: Amazon MSK refuses SCRAM secrets encrypted with the AWS managed key/,
    ],
    [
      'fails on a VPC subnet selection that matches no subnet',
      () => {
        const stack = testStack();
        return {
          cluster: KafkaCluster.selfManaged({
            bootstrapServers: SERVERS,
            vpc: isolatedVpc(stack),
            subnets: { subnetType: ec2.SubnetType.PUBLIC },
          }),
        };
      },
      /cluster.subnets was .*: the selection matches no subnet of the VPC/,
    ],
    [
      'fails on subnets without a VPC',
      () => ({
        cluster: KafkaCluster.selfManaged({
          bootstrapServers: SERVERS,
          subnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        }),
      }),
      /cluster.vpc is not set: subnets and securityGroups place the event source in a VPC/,
    ],
    [
      'fails on a bootstrap server without a port',
      () => ({ cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.kafka.example.com'] }) }),
      /cluster.bootstrapServers was "b-1.kafka.example.com": give each broker as host:port/,
    ],
    [
      'fails on no bootstrap server',
      () => ({ cluster: KafkaCluster.selfManaged({ bootstrapServers: [] }) }),
      /cluster.bootstrapServers was \[\]/,
    ],
    [
      'fails on MSK without an ARN or cluster',
      () => ({ cluster: KafkaCluster.msk({}) }),
      /cluster is not set: KafkaCluster.msk\(\) needs clusterArn or cluster/,
    ],
    [
      'fails on a malformed MSK ARN',
      () => ({ cluster: KafkaCluster.msk({ clusterArn: 'arn:aws:kafka:us-east-1:111122223333:orders' }) }),
      /cluster.clusterArn was "arn:aws:kafka:us-east-1:111122223333:orders": use the cluster ARN/,
    ],
    [
      'fails on mTLS without PEM or secret',
      () => ({ auth: KafkaAuth.mtls({}) }),
      /auth.certificateChainPem is not set: KafkaAuth.mtls\(\) needs secret/,
    ],
    [
      'fails on mTLS with both a secret and PEM',
      () => ({
        auth: KafkaAuth.mtls({
          secret: secretsmanager.Secret.fromSecretCompleteArn(
            testStack(),
            'S',
            'arn:aws:secretsmanager:us-east-1:111122223333:secret:c-AbCdEf',
          ),
          certificateChainPem: 'x',
        }),
      }),
      /auth.secret was .*: give either secret or certificateChainPem/,
    ],
    [
      'fails on a root CA with a plaintext listener',
      () => ({
        cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, tls: false, rootCaCertificatePem: 'x' }),
        auth: KafkaAuth.none(),
      }),
      /a root CA certificate is for TLS listeners/,
    ],
  ])('%s', (_name, props, message) => {
    expect(() => trigger(props())).toThrow(message);
  });

  test('fails on a target whose timeout exceeds 14 minutes', () => {
    // GIVEN a 15-minute function
    const stack = testStack();
    const fn = new lambda.Function(stack, 'Slow', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('x'),
      timeout: Duration.minutes(15),
    });
    // THEN the trigger refuses it
    expect(() => trigger({ target: fn }, stack)).toThrow(
      /target.timeout was "900 seconds": Kafka event source mappings support functions with a timeout of at most 14 minutes/,
    );
  });

  test('fails on a target imported without its role', () => {
    // GIVEN a function imported by ARN only
    const stack = testStack();
    const fn = lambda.Function.fromFunctionArn(stack, 'Imported', 'arn:aws:lambda:us-east-1:111122223333:function:f');
    // THEN the trigger asks for the role
    expect(() => trigger({ target: fn }, stack)).toThrow(/target.role is not set: .*fromFunctionAttributes/);
  });
});

describe('KafkaTrigger: auth and secrets', () => {
  test('MSK defaults to IAM: kafka-cluster actions scoped to the cluster, topic and consumer group ARNs', () => {
    // GIVEN an MSK cluster and nothing else
    const { trigger: t, template } = trigger({ cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }) });
    // THEN the mapping has no secret and the role gets the actions the Lambda MSK guide lists, on exact ARNs
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: MSK_ARN,
      AmazonManagedKafkaEventSourceConfig: { ConsumerGroupId: t.consumerGroupIds[0] },
      SourceAccessConfigurations: Match.absent(),
    });
    const statements = policyStatements(template());
    const topicArn = MSK_ARN.replace(':cluster/', ':topic/') + '/orders';
    const groupArn = MSK_ARN.replace(':cluster/', ':group/') + `/${t.consumerGroupIds[0]}`;
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['kafka-cluster:Connect', 'kafka-cluster:DescribeClusterDynamicConfiguration'],
          Resource: MSK_ARN,
        }),
        expect.objectContaining({ Action: ['kafka-cluster:DescribeTopic', 'kafka-cluster:ReadData'], Resource: topicArn }),
        expect.objectContaining({ Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'], Resource: groupArn }),
        expect.objectContaining({
          Action: ['kafka:DescribeCluster', 'kafka:DescribeClusterV2', 'kafka:GetBootstrapBrokers'],
          Resource: MSK_ARN,
        }),
      ]),
    );
    template().resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test('an MSK cluster construct gives topic and group ARNs built from its ARN attribute', () => {
    // GIVEN a CfnCluster in the same stack
    const stack = testStack();
    const cluster = new msk.CfnCluster(stack, 'Cluster', {
      clusterName: 'orders',
      kafkaVersion: '3.9.x',
      numberOfBrokerNodes: 2,
      brokerNodeGroupInfo: { clientSubnets: ['subnet-1', 'subnet-2'], instanceType: 'kafka.m7g.large' },
    });
    const { template } = trigger({ cluster: KafkaCluster.msk({ cluster }) }, stack);
    // THEN the topic ARN swaps the resource type of the cluster ARN at deploy time
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: { 'Fn::GetAtt': ['Cluster', 'Arn'] } });
    const topic = policyStatements(template()).find((s) => [s.Action].flat().includes('kafka-cluster:ReadData'));
    expect(JSON.stringify(topic.Resource)).toContain(':topic/');
    expect(JSON.stringify(topic.Resource)).toContain('Fn::Split');
  });

  test('an MSK SCRAM secret is created with the AmazonMSK_ prefix and a customer managed key', () => {
    // GIVEN MSK with SCRAM and no secret
    const { template } = trigger({
      cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }),
      auth: KafkaAuth.scram512({ username: 'orders-reader' }),
    });
    // THEN the secret name carries the prefix MSK requires, and a CMK encrypts it
    template().hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: Match.stringLikeRegexp('^AmazonMSK_'),
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerSecretsKey'), 'Arn'] },
      GenerateSecretString: { SecretStringTemplate: '{"username":"orders-reader"}' },
    });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: Match.anyValue() }],
    });
  });

  test('an existing MSK SCRAM secret is read with its customer managed key', () => {
    // GIVEN an imported AmazonMSK_ secret with its key
    const stack = testStack();
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111122223333:key/abc');
    const secret = secretsmanager.Secret.fromSecretAttributes(stack, 'Secret', {
      secretCompleteArn: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:AmazonMSK_orders-AbCdEf',
      encryptionKey: key,
    });
    const { template } = trigger(
      { cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }), auth: KafkaAuth.scram512({ secret }) },
      stack,
    );
    // THEN the role reads that secret and decrypts through Secrets Manager only
    expect(policyStatements(template())).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:AmazonMSK_orders-AbCdEf',
        }),
        expect.objectContaining({
          Action: 'kms:Decrypt',
          Resource: 'arn:aws:kms:us-east-1:111122223333:key/abc',
          Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } },
        }),
      ]),
    );
    template().resourceCountIs('AWS::SecretsManager::Secret', 0);
  });

  test.each([
    ['scram256', 'SASL_SCRAM_256_AUTH', KafkaAuth.scram256()],
    ['plain', 'BASIC_AUTH', KafkaAuth.plain()],
  ])('KafkaAuth.%s() on a self-managed cluster uses %s', (_n, type, auth) => {
    const { template } = trigger({ auth });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: [{ Type: type, URI: Match.anyValue() }],
    });
  });

  test('KafkaAuth.none() uses no secret and no source access configuration', () => {
    const { template } = trigger({ auth: KafkaAuth.none() });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', { SourceAccessConfigurations: Match.absent() });
    template().resourceCountIs('AWS::SecretsManager::Secret', 0);
  });
});

describe('KafkaTrigger: network', () => {
  test('a self-managed cluster in a VPC gets the security group the Lambda Kafka network guide prescribes, subnets and ENI permissions', () => {
    // GIVEN a VPC with two isolated subnets
    const stack = testStack();
    const { trigger: t, template } = trigger(
      { cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc: isolatedVpc(stack) }) },
      stack,
    );
    // THEN the created group allows the broker port from and to itself and 443 out
    template().hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      IpProtocol: 'tcp',
      FromPort: 9096,
      ToPort: 9096,
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerSecurityGroup'), 'GroupId'] },
    });
    template().hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      IpProtocol: 'tcp',
      FromPort: 9096,
      ToPort: 9096,
      DestinationSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerSecurityGroup'), 'GroupId'] },
    });
    template().hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Kafka event source of TestStack/Trigger',
      SecurityGroupEgress: [{ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' }],
    });
    // AND the mapping names both subnets and the group
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SourceAccessConfigurations: Match.arrayWith([
        { Type: 'VPC_SUBNET', URI: { 'Fn::Join': ['', ['subnet:', { Ref: Match.stringLikeRegexp('VpcbrokersSubnet1') }]] } },
        { Type: 'VPC_SUBNET', URI: { 'Fn::Join': ['', ['subnet:', { Ref: Match.stringLikeRegexp('VpcbrokersSubnet2') }]] } },
        {
          Type: 'VPC_SECURITY_GROUP',
          URI: {
            'Fn::Join': ['', ['security_group:', { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerSecurityGroup'), 'GroupId'] }]],
          },
        },
      ]),
    });
    expect(actionsOf(template())).toEqual(
      expect.arrayContaining(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface', 'ec2:DescribeNetworkInterfaces']),
    );
    expect(t.connections.securityGroups).toHaveLength(1);
    expect(t.brokerPorts).toEqual([9096]);
  });

  test('VPC endpoints are created with private DNS and the restricted policies the Lambda Kafka network guide gives', () => {
    // GIVEN a VPC, SCRAM (a secret) and an SQS destination
    const stack = testStack();
    const { template } = trigger(
      {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc: isolatedVpc(stack) }),
        onFailure: OnFailureDestination.sqs(),
      },
      stack,
    );
    // THEN Lambda, STS, Secrets Manager and SQS endpoints exist
    template().resourceCountIs('AWS::EC2::VPCEndpoint', 4);
    const role = { 'Fn::GetAtt': [Match.stringLikeRegexp('TargetServiceRole'), 'Arn'] };
    template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.sts',
      PrivateDnsEnabled: true,
      PolicyDocument: {
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Resource: '*' }],
      },
    });
    template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.lambda',
      PrivateDnsEnabled: true,
      PolicyDocument: {
        Statement: [
          {
            Action: 'lambda:InvokeFunction',
            Effect: 'Allow',
            Principal: { Service: 'lambda.amazonaws.com' },
            Resource: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('Target'), 'Arn'] }]),
          },
        ],
      },
    });
    template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.secretsmanager',
      PolicyDocument: {
        Statement: [
          {
            Action: 'secretsmanager:GetSecretValue',
            Effect: 'Allow',
            Principal: { AWS: role },
            Resource: { Ref: Match.stringLikeRegexp('TriggerSaslSecret') },
          },
        ],
      },
    });
    template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.sqs',
      PolicyDocument: {
        Statement: [{ Action: 'sqs:SendMessage', Effect: 'Allow', Principal: { AWS: role }, Resource: Match.anyValue() }],
      },
    });
    // AND the endpoints' group admits 443 from the event source's group
    template().hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 443,
      ToPort: 443,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^KafkaTriggerVpcEndpoints.*SecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerSecurityGroup'), 'GroupId'] },
    });
  });

  test('two triggers in one VPC share one set of endpoints, each adding its statements', () => {
    // GIVEN two triggers in the same VPC and stack
    const stack = testStack();
    const vpc = isolatedVpc(stack);
    trigger({ cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }) }, stack);
    new KafkaTrigger(stack, 'Second', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }),
      topics: ['refunds'],
      target: testFunction(stack, 'Other'),
    });
    // THEN Lambda, STS and Secrets Manager endpoints exist once, and the Lambda one allows both functions
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 3);
    const lambdaEndpoint = Object.values(
      template.findResources('AWS::EC2::VPCEndpoint', { Properties: { ServiceName: 'com.amazonaws.us-east-1.lambda' } }),
    )[0] as any;
    const resources = JSON.stringify(lambdaEndpoint.Properties.PolicyDocument.Statement);
    expect(resources).toContain('Target');
    expect(resources).toContain('Other');
  });

  test('a second stack creating endpoints in the same VPC is warned about', () => {
    // GIVEN a VPC in one stack and triggers in two stacks
    const app = testApp();
    const network = new Stack(app, 'Network', { env: { account: '111122223333', region: 'us-east-1' } });
    const vpc = isolatedVpc(network);
    const [a, b] = ['A', 'B'].map((id) => new Stack(app, id, { env: { account: '111122223333', region: 'us-east-1' } }));
    trigger({ cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }) }, a);
    trigger({ cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }) }, b);
    // THEN the second one says to reuse or skip endpoints
    Annotations.fromStack(b).hasWarning(
      '/B/Trigger',
      Match.stringLikeRegexp('already creates VPC endpoints with private DNS in this VPC'),
    );
  });

  test("a Confluent schema registry's secret is readable through the Secrets Manager endpoint and configured on the mapping", () => {
    // GIVEN a VPC, no auth secret, and a Confluent registry with basic-auth credentials
    const stack = testStack();
    const registrySecret = new secretsmanager.Secret(stack, 'RegistrySecret');
    const { template } = trigger(
      {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc: isolatedVpc(stack) }),
        auth: KafkaAuth.none(),
        provisionedPollers: { minimumPollers: 1 },
        schemaRegistry: new ConfluentSchemaRegistry({
          schemaRegistryUri: 'https://registry.example.internal',
          authenticationType: lambda.KafkaSchemaRegistryAccessConfigType.BASIC_AUTH,
          secret: registrySecret,
          eventRecordFormat: lambda.EventRecordFormat.SOURCE,
          schemaValidationConfigs: [{ attribute: lambda.KafkaSchemaValidationAttribute.KEY }],
        }),
      },
      stack,
    );
    // THEN the endpoint lets the role read the registry secret
    template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.secretsmanager',
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: 'secretsmanager:GetSecretValue',
            Resource: { Ref: Match.stringLikeRegexp('RegistrySecret') },
          }),
        ],
      },
    });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      SelfManagedKafkaEventSourceConfig: {
        SchemaRegistryConfig: {
          SchemaRegistryURI: 'https://registry.example.internal',
          EventRecordFormat: 'SOURCE',
          AccessConfigs: [{ Type: 'BASIC_AUTH', URI: { Ref: Match.stringLikeRegexp('RegistrySecret') } }],
          SchemaValidationConfigs: [{ Attribute: 'KEY' }],
        },
      },
    });
  });

  test('KafkaVpcEndpoints.none() creates no endpoint (a NAT gateway serves)', () => {
    const stack = testStack();
    const { template } = trigger(
      {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc: isolatedVpc(stack) }),
        vpcEndpoints: KafkaVpcEndpoints.none(),
      },
      stack,
    );
    template().resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  test("existing endpoints get the trigger's statements and 443 from its group; a missing one is warned about", () => {
    // GIVEN endpoints made elsewhere for Lambda and STS only
    const stack = testStack();
    const vpc = isolatedVpc(stack);
    const lambdaEndpoint = vpc.addInterfaceEndpoint('SharedLambda', {
      service: ec2.InterfaceVpcEndpointAwsService.LAMBDA,
      open: false,
    });
    const stsEndpoint = vpc.addInterfaceEndpoint('SharedSts', { service: ec2.InterfaceVpcEndpointAwsService.STS, open: false });
    const { template } = trigger(
      {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }),
        vpcEndpoints: KafkaVpcEndpoints.existing({ lambda: lambdaEndpoint, sts: stsEndpoint }),
      },
      stack,
    );
    // THEN no endpoint is added, the shared ones carry the statements
    template().resourceCountIs('AWS::EC2::VPCEndpoint', 2);
    template().hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.us-east-1.sts',
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'sts:AssumeRole' })] },
    });
    Annotations.fromStack(stack).hasWarning('/TestStack/Trigger', Match.stringLikeRegexp('no secretsManager endpoint'));
  });

  test.each<[string, number, KafkaAuth, boolean]>([
    ['IAM', 9098, KafkaAuth.iam(), true],
    ['SCRAM', 9096, KafkaAuth.scram512(), true],
    [
      'mTLS',
      9094,
      KafkaAuth.mtls({
        secret: secretsmanager.Secret.fromSecretCompleteArn(
          testStack(),
          'S',
          'arn:aws:secretsmanager:us-east-1:111122223333:secret:c-AbCdEf',
        ),
      }),
      true,
    ],
    ['unauthenticated TLS', 9094, KafkaAuth.none(), true],
    ['plaintext', 9092, KafkaAuth.none(), false],
  ])("MSK with %s opens broker port %d on the cluster's security groups", (_n, port, auth, tls) => {
    // GIVEN the MSK cluster's group
    const stack = testStack();
    const vpc = isolatedVpc(stack);
    const sg = new ec2.SecurityGroup(stack, 'ClusterSg', { vpc, allowAllOutbound: false });
    const { template } = trigger(
      { cluster: KafkaCluster.msk({ clusterArn: MSK_ARN, vpc, securityGroups: [sg], tls }), auth },
      stack,
    );
    // THEN the broker port is open from itself
    template().hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: port,
      ToPort: port,
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('ClusterSg'), 'GroupId'] },
    });
  });
});

describe('KafkaTrigger: given security groups and relay loops', () => {
  test("a self-managed cluster's own security groups get the same rules as MSK groups: broker port both ways, 443 out", () => {
    // GIVEN the brokers' group, given by the user
    const stack = testStack();
    const vpc = isolatedVpc(stack);
    const sg = new ec2.SecurityGroup(stack, 'BrokersSg', { vpc, allowAllOutbound: false });
    const { template } = trigger(
      { cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc, securityGroups: [sg] }) },
      stack,
    );
    // THEN the broker port is open from and to the group, and 443 out, as for a created group
    const group = { 'Fn::GetAtt': [Match.stringLikeRegexp('BrokersSg'), 'GroupId'] };
    template().hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      FromPort: 9096,
      ToPort: 9096,
      GroupId: group,
      SourceSecurityGroupId: group,
    });
    template().hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      FromPort: 9096,
      ToPort: 9096,
      GroupId: group,
      DestinationSecurityGroupId: group,
    });
    template().hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupEgress: Match.arrayWith([Match.objectLike({ CidrIp: '0.0.0.0/0', FromPort: 443 })]),
    });
  });

  test.each(['responseTopic', 'errorTopic'] as const)(
    'fails when the dispatcher it targets relays its %s to a source topic of the same cluster',
    (prop) => {
      // GIVEN a dispatcher relaying to "orders" on the trigger's cluster
      const stack = testStack();
      const cluster = KafkaCluster.selfManaged({ bootstrapServers: SERVERS });
      const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', {
        target: testFunction(stack),
        onError: DispatcherErrorBehavior.LOG,
        relay: { cluster, auth: KafkaAuth.none(), [prop]: 'orders' },
      });
      // WHEN a trigger reads "orders" into it THEN synth fails naming the loop
      expect(
        () =>
          new KafkaTrigger(stack, 'Trigger', {
            cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
            topics: ['orders'],
            target: dispatcher.function,
          }),
      ).toThrow(
        new RegExp(
          `topics was "orders": the target, KafkaDispatcher TestStack/Dispatcher, relays to orders \\(relay.${prop}\\) on this cluster: .* a loop`,
        ),
      );
      // AND the same topic name on another cluster is no loop
      expect(
        () =>
          new KafkaTrigger(stack, 'Other', {
            cluster: KafkaCluster.selfManaged({ bootstrapServers: ['other:9096'] }),
            topics: ['orders'],
            target: dispatcher.function,
          }),
      ).not.toThrow();
    },
  );
});

describe('KafkaTrigger: on-failure destinations', () => {
  test('SQS: a created queue is encrypted and TLS-only; only sqs:SendMessage is granted; its depth is alarmed', () => {
    const { trigger: t, template } = trigger({ onFailure: OnFailureDestination.sqs() });
    template().hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template().hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
      },
    });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerOnFailureQueue'), 'Arn'] } },
      },
    });
    expect(actionsOf(template()).filter((a) => a.startsWith('sqs:'))).toEqual(['sqs:SendMessage']);
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
    expect(t.onFailureQueue).toBeDefined();
  });

  test('SQS with a customer managed key: kms:Decrypt and kms:GenerateDataKey on it', () => {
    const stack = testStack();
    const queue = new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: new kms.Key(stack, 'QueueKey') });
    const { template } = trigger({ onFailure: OnFailureDestination.sqs(queue) }, stack);
    expect(policyStatements(template())).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/^QueueKey/), 'Arn'] },
        }),
      ]),
    );
  });

  test('SNS: only sns:Publish, plus the topic key', () => {
    const stack = testStack();
    const topic = new sns.Topic(stack, 'Failures', { masterKey: new kms.Key(stack, 'TopicKey') });
    const { template } = trigger({ onFailure: OnFailureDestination.sns(topic) }, stack);
    expect(actionsOf(template()).filter((a) => a.startsWith('sns:') || a.startsWith('kms:Gen'))).toEqual([
      'kms:GenerateDataKey',
      'sns:Publish',
    ]);
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: { Ref: Match.stringLikeRegexp('Failures') } } },
    });
  });

  test('S3: a created bucket is versioned, encrypted, private and TLS-only; only PutObject on objects and ListBucket are granted', () => {
    const { template } = trigger({ onFailure: OnFailureDestination.s3() });
    template().hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    template().hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: [Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })],
      },
    });
    expect(actionsOf(template()).filter((a) => a.startsWith('s3:'))).toEqual(['s3:ListBucket', 's3:PutObject']);
  });

  test('S3 with a customer managed key: kms:GenerateDataKey on it', () => {
    const stack = testStack();
    const bucket = new s3.Bucket(stack, 'Failed', { encryptionKey: new kms.Key(stack, 'BucketKey') });
    const { template } = trigger({ onFailure: OnFailureDestination.s3(bucket) }, stack);
    expect(policyStatements(template())).toEqual(
      expect.arrayContaining([expect.objectContaining({ Action: 'kms:GenerateDataKey' })]),
    );
  });

  test('Kafka topic with MSK IAM: kafka://<topic> and WriteData on exactly that topic', () => {
    const { template } = trigger({
      cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }),
      provisionedPollers: { minimumPollers: 1 },
      onFailure: OnFailureDestination.kafkaTopic('orders-dead-letters'),
    });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      DestinationConfig: { OnFailure: { Destination: 'kafka://orders-dead-letters' } },
    });
    expect(policyStatements(template())).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: ['kafka-cluster:WriteData', 'kafka-cluster:DescribeTopic'],
          Resource: MSK_ARN.replace(':cluster/', ':topic/') + '/orders-dead-letters',
        }),
      ]),
    );
  });

  test('Kafka topic with SCRAM: no IAM grant, a warning to grant the user Write in the ACLs', () => {
    const { stack, template } = trigger({
      provisionedPollers: { minimumPollers: 1 },
      onFailure: OnFailureDestination.kafkaTopic('orders-dead-letters'),
    });
    expect(actionsOf(template()).filter((a) => a.startsWith('kafka-cluster:'))).toEqual([]);
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Trigger',
      Match.stringLikeRegexp('grant that user Write and Describe on it'),
    );
  });
});

describe('KafkaTrigger: observability and the dry-run check', () => {
  test('OffsetLag, function errors and mapping health are alarmed by default', () => {
    const { trigger: t, template } = trigger();
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'OffsetLag',
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      Threshold: 1000,
      EvaluationPeriods: 5,
    });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1 });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'MappingHealthy', Namespace: 'CdkKafkaLambda' });
    expect(t.alarms).toHaveLength(3);
    expect(t.alarms).toContain(t.mappingHealthAlarm);
  });

  test('alarms: false creates none', () => {
    const { template } = trigger({ alarms: false, onFailure: OnFailureDestination.sqs() });
    template().resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  test('metric methods name the function and the mapping', () => {
    const { stack, trigger: t } = trigger({ topics: ['orders', 'refunds'] });
    expect(stack.resolve(t.metricOffsetLag().dimensions)).toEqual({ FunctionName: { Ref: expect.stringMatching(/^Target/) } });
    expect(t.metricPolledEventCount({ topic: 'refunds' }).metricName).toBe('PolledEventCount');
    expect(stack.resolve(t.metricFailedInvokeEventCount({ topic: 'refunds', period: Duration.minutes(5) }).dimensions)).toEqual({
      EventSourceMappingUUID: { Ref: expect.stringMatching(/^TriggerEventSourceMappingrefunds/) },
    });
    expect(t.metricOnFailureDestinationDeliveredEventCount().metricName).toBe('OnFailureDestinationDeliveredEventCount');
    expect(t.metricFailedInvokeEventCount({ period: Duration.minutes(5) }).period.toMinutes()).toBe(5);
    expect(() => t.metric('PolledEventCount', { topic: 'nope' })).toThrow(
      /topic was "nope": use one of the trigger's topics \(orders, refunds\)/,
    );
  });

  test('the dry-run check invokes the target with InvocationType DryRun, allowed to invoke that function only', () => {
    const { template } = trigger();
    const check = Object.values(template().findResources('Custom::AWS'))[0] as any;
    const create = JSON.stringify(check.Properties.Create);
    expect(create).toContain('\\"action\\":\\"invoke\\"');
    expect(create).toContain('\\"InvocationType\\":\\"DryRun\\"');
    template().hasResourceProperties('AWS::IAM::Policy', {
      PolicyName: Match.stringLikeRegexp('TriggerDryRunCheck'),
      PolicyDocument: {
        Statement: [
          {
            Action: 'lambda:InvokeFunction',
            Effect: 'Allow',
            Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Target'), 'Arn'] },
          },
        ],
      },
    });
  });

  test('dryRunCheck: false creates no custom resource', () => {
    const { template } = trigger({ dryRunCheck: false });
    template().resourceCountIs('Custom::AWS', 0);
  });

  test("no AWS managed policy is attached for the event source: every managed policy is the function's own log policy", () => {
    // GIVEN an MSK trigger with a destination
    const { template } = trigger({ cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }), onFailure: OnFailureDestination.s3() });
    // THEN the only managed policy in the template is AWSLambdaBasicExecutionRole (target and custom resource provider)
    const managed = Object.values(template().findResources('AWS::IAM::Role')).flatMap(
      (r: any) => r.Properties.ManagedPolicyArns ?? [],
    );
    expect(managed.length).toBeGreaterThan(0);
    for (const arn of managed) expect(JSON.stringify(arn)).toContain('service-role/AWSLambdaBasicExecutionRole');
  });
});

/**
 * Mapping health (a scheduled function reading each mapping with GetEventSourceMapping, its `MappingHealthy` metric and
 * alarm) and the dashboards of KafkaTrigger, KinesisTrigger and LambdaSinkConnector, as synthesized.
 */
import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  KafkaAuth,
  KafkaCluster,
  KafkaDispatcher,
  KafkaTrigger,
  KafkaTriggerProps,
  KinesisTrigger,
  LambdaSinkConnector,
  OnFailureDestination,
} from '../../lib';
import { testFunction, testStack } from './support';

const SERVERS = ['b-1.kafka.example.com:9096'];

function kafkaTrigger(props: Partial<KafkaTriggerProps> = {}, stack = testStack()): { stack: Stack; trigger: KafkaTrigger } {
  const trigger = new KafkaTrigger(stack, 'Trigger', {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
    topics: ['orders'],
    target: testFunction(stack),
    ...props,
  });
  return { stack, trigger };
}

/** The logical id of the only resource of `type` whose id matches `pattern`. */
function logicalId(template: Template, type: string, pattern: RegExp): string {
  const ids = Object.keys(template.findResources(type)).filter((id) => pattern.test(id));
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** The statements of the health function's role. */
function healthStatements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { PolicyName: Match.stringLikeRegexp('MappingHealthServiceRole') },
  });
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

/** The dashboard's body as JSON, each CloudFormation reference written `<LogicalId>`. */
function dashboardBody(template: Template): any {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard')) as any[];
  const join = dashboard.Properties.DashboardBody['Fn::Join'];
  const text = (join[1] as any[])
    .map((p) => (typeof p === 'string' ? p : `<${p.Ref ?? p['Fn::GetAtt']?.join('.')}>`))
    .join(join[0]);
  return JSON.parse(text);
}

/** Each graphed metric as `namespace metricName dimension=value...`. */
function graphedMetrics(body: any): string[] {
  return body.widgets
    .flatMap((w: any) => w.properties.metrics ?? [])
    .map((m: any[]) => {
      const parts = m.filter((x) => typeof x === 'string');
      const [namespace, name, ...dims] = parts;
      const pairs: string[] = [];
      for (let i = 0; i + 1 < dims.length; i += 2) pairs.push(`${dims[i]}=${dims[i + 1]}`);
      return [namespace, name, ...pairs].join(' ');
    });
}

describe('mapping health: KafkaTrigger', () => {
  test('by default a function reads exactly the trigger mappings, on a 5-minute schedule, outside the VPC, with an alarm', () => {
    // GIVEN a trigger of two topics on a cluster in a VPC
    const stack = testStack();
    const vpc = new ec2.Vpc(stack, 'Vpc', {
      natGateways: 0,
      maxAzs: 2,
      subnetConfiguration: [{ name: 'brokers', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    const { trigger } = kafkaTrigger(
      { cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS, vpc }), topics: ['orders', 'payments'] },
      stack,
    );
    const template = Template.fromStack(stack);
    const orders = logicalId(template, 'AWS::Lambda::EventSourceMapping', /TriggerEventSourceMappingorders/);
    const payments = logicalId(template, 'AWS::Lambda::EventSourceMapping', /TriggerEventSourceMappingpayments/);
    const fn = logicalId(template, 'AWS::Lambda::Function', /TriggerMappingHealthFunction/);
    const logGroup = logicalId(template, 'AWS::Logs::LogGroup', /TriggerMappingHealthLogGroup/);

    // THEN its role may read those two mappings and write its own log group, nothing else
    expect(healthStatements(template)).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logGroup, 'Arn'] },
      },
      {
        Action: 'lambda:GetEventSourceMapping',
        Effect: 'Allow',
        Resource: [{ 'Fn::GetAtt': [orders, 'EventSourceMappingArn'] }, { 'Fn::GetAtt': [payments, 'EventSourceMappingArn'] }],
      },
    ]);
    const role = logicalId(template, 'AWS::IAM::Role', /TriggerMappingHealthServiceRole/);
    expect(template.toJSON().Resources[role].Properties.ManagedPolicyArns).toBeUndefined();
    // AND the function gets the mappings' UUIDs, is not in the VPC (it calls the Lambda API) and is not retried
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      MemorySize: 128,
      VpcConfig: Match.absent(),
      LoggingConfig: { LogGroup: { Ref: logGroup } },
      Environment: {
        Variables: {
          CKL_MAPPING_UUIDS: { 'Fn::Join': ['', [{ Ref: orders }, ',', { Ref: payments }]] },
          CKL_TRIGGER: 'TestStack/Trigger',
          CKL_MAPPINGS_DISABLED_ON_PURPOSE: 'false',
          POWERTOOLS_METRICS_NAMESPACE: 'CdkKafkaLambda',
        },
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: fn }, MaximumRetryAttempts: 0 });
    // AND an EventBridge schedule runs it every 5 minutes
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fn, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [fn, 'Arn'] },
    });
    // AND the alarm fires when any mapping is unhealthy (or the check does not run) on 2 of 3 checks
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkKafkaLambda',
      MetricName: 'MappingHealthy',
      Dimensions: [{ Name: 'Trigger', Value: 'TestStack/Trigger' }],
      Statistic: 'Minimum',
      Period: 300,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'breaching',
      AlarmDescription: Match.stringLikeRegexp(
        'unhealthy.*PROBLEM.*no data means the check did not run.*TestStack/Trigger/MappingHealth/Function.*LastProcessingResult',
      ),
    });
    expect(trigger.alarms).toContain(trigger.mappingHealthAlarm);
    expect(trigger.mappingHealthFunction).toBeDefined();
  });

  test('enabled: false tells the function that Disabled is what was asked for', () => {
    // GIVEN a trigger deployed disabled
    const { stack } = kafkaTrigger({ enabled: false });
    // THEN the function reads Disabled as healthy
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ CKL_MAPPINGS_DISABLED_ON_PURPOSE: 'true' }) },
    });
  });

  test('mappingHealth: false creates no function, schedule or health alarm', () => {
    // GIVEN mapping health turned off
    const { stack, trigger } = kafkaTrigger({ mappingHealth: false });
    const template = Template.fromStack(stack);
    // THEN no health function, no rule, no health alarm
    expect(Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => /MappingHealth/.test(id))).toEqual([]);
    template.resourceCountIs('AWS::Events::Rule', 0);
    expect(trigger.mappingHealthAlarm).toBeUndefined();
    expect(trigger.mappingHealthFunction).toBeUndefined();
    template.resourcePropertiesCountIs('AWS::CloudWatch::Alarm', { MetricName: 'MappingHealthy' }, 0);
  });

  test('alarms: false keeps the health function and metric, without an alarm', () => {
    // GIVEN alarms turned off
    const { stack, trigger } = kafkaTrigger({ alarms: false });
    // THEN the function runs, and no alarm exists
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(trigger.mappingHealthAlarm).toBeUndefined();
    expect(trigger.alarms).toEqual([]);
  });

  test('metricMappingHealthy: all mappings by Trigger, one topic by its mapping UUID', () => {
    // GIVEN a trigger of two topics
    const { stack, trigger } = kafkaTrigger({ topics: ['orders', 'payments'] });
    // THEN without a topic the metric covers the trigger, with one its mapping
    const all = trigger.metricMappingHealthy();
    expect([all.namespace, all.metricName, all.statistic, all.period.toMinutes()]).toEqual([
      'CdkKafkaLambda',
      'MappingHealthy',
      'Minimum',
      5,
    ]);
    expect(all.dimensions).toEqual({ Trigger: 'TestStack/Trigger' });
    const payments = trigger.metricMappingHealthy({ topic: 'payments' });
    expect(stack.resolve(payments.dimensions)).toEqual({ EventSourceMappingUUID: { Ref: expect.stringMatching(/payments/) } });
  });

  test('fails for metricMappingHealthy of a topic the trigger does not read', () => {
    const { trigger } = kafkaTrigger();
    expect(() => trigger.metricMappingHealthy({ topic: 'nope' })).toThrow(/topic.*nope.*orders/s);
  });
});

describe('mapping health: KinesisTrigger', () => {
  test('by default a function reads exactly the mapping, with an alarm on its MappingHealthy', () => {
    // GIVEN a Kinesis trigger
    const stack = testStack();
    const trigger = new KinesisTrigger(stack, 'Trigger', { target: testFunction(stack) });
    const template = Template.fromStack(stack);
    const mapping = logicalId(template, 'AWS::Lambda::EventSourceMapping', /TriggerEventSourceMapping/);
    // THEN GetEventSourceMapping is granted on that mapping only
    expect(healthStatements(template)[1]).toEqual({
      Action: 'lambda:GetEventSourceMapping',
      Effect: 'Allow',
      Resource: { 'Fn::GetAtt': [mapping, 'EventSourceMappingArn'] },
    });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'CdkKafkaLambda',
      MetricName: 'MappingHealthy',
      AlarmDescription: Match.stringLikeRegexp('Kinesis trigger TestStack/Trigger'),
    });
    expect(trigger.alarms).toContain(trigger.mappingHealthAlarm);
    expect(stack.resolve(trigger.metricMappingHealthy().dimensions)).toEqual({ EventSourceMappingUUID: { Ref: mapping } });
  });

  test('mappingHealth: false creates no schedule', () => {
    const stack = testStack();
    new KinesisTrigger(stack, 'Trigger', { target: testFunction(stack), mappingHealth: false });
    Template.fromStack(stack).resourceCountIs('AWS::Events::Rule', 0);
  });
});

describe('dashboards', () => {
  test('KafkaTrigger targeting a dispatcher: lag, mapping metrics, dispatcher records, target errors, queue depth, health', () => {
    // GIVEN a trigger of two topics whose target is a dispatcher, with EventCount and ErrorCount metrics and an SQS destination
    const stack = testStack();
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target: testFunction(stack) });
    const trigger = new KafkaTrigger(stack, 'Trigger', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
      topics: ['orders', 'payments'],
      target: dispatcher.function,
      reportBatchItemFailures: true,
      provisionedPollers: { minimumPollers: 1, maximumPollers: 2 },
      metrics: [lambda.MetricType.EVENT_COUNT, lambda.MetricType.ERROR_COUNT],
      onFailure: OnFailureDestination.sqs(),
    });
    // WHEN the dashboard is asked for twice
    const dashboard = trigger.dashboard({ dashboardName: 'orders' });
    expect(trigger.dashboard()).toBe(dashboard);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'orders' });
    const fn = logicalId(template, 'AWS::Lambda::Function', /DispatcherFunction/);
    const orders = logicalId(template, 'AWS::Lambda::EventSourceMapping', /TriggerEventSourceMappingorders/);
    const queue = logicalId(template, 'AWS::SQS::Queue', /TriggerOnFailureQueue/);
    // THEN it draws the metrics these constructs' metric methods name
    const metrics = graphedMetrics(dashboardBody(template));
    expect(metrics).toEqual(
      expect.arrayContaining([
        `AWS/Lambda OffsetLag FunctionName=<${fn}>`,
        `AWS/Lambda PolledEventCount EventSourceMappingUUID=<${orders}>`,
        `AWS/Lambda FailedInvokeEventCount EventSourceMappingUUID=<${orders}>`,
        `AWS/Lambda OnFailureDestinationDeliveredEventCount EventSourceMappingUUID=<${orders}>`,
        'CdkKafkaLambda RecordsIn service=TestStack/Dispatcher',
        'CdkKafkaLambda RecordsInvoked service=TestStack/Dispatcher',
        'CdkKafkaLambda RecordsFailed service=TestStack/Dispatcher',
        'CdkKafkaLambda RecordsSkippedDuplicate service=TestStack/Dispatcher',
        'CdkKafkaLambda ReinvokedForLostResult service=TestStack/Dispatcher',
        `AWS/Lambda Errors FunctionName=<${fn}>`,
        `AWS/Lambda Throttles FunctionName=<${fn}>`,
        `AWS/SQS ApproximateNumberOfMessagesVisible QueueName=<${queue}.QueueName>`,
        `CdkKafkaLambda MappingHealthy EventSourceMappingUUID=<${orders}>`,
      ]),
    );
    expect(metrics.filter((m) => m.startsWith('CdkKafkaLambda MappingHealthy'))).toHaveLength(2);
    // AND the dispatcher's metric names are the ones KafkaDispatcher.metric draws
    expect(dispatcher.metricRecordsSkippedDuplicate().namespace).toBe('CdkKafkaLambda');
    expect(dispatcher.metricRecordsSkippedDuplicate().dimensions).toEqual({ service: 'TestStack/Dispatcher' });
  });

  test('KinesisTrigger: IteratorAge, target errors, queue depth and health; no dispatcher graph for a plain target', () => {
    // GIVEN a Kinesis trigger of a plain function
    const stack = testStack();
    const trigger = new KinesisTrigger(stack, 'Trigger', { target: testFunction(stack) });
    // WHEN its dashboard is created
    trigger.dashboard();
    // THEN
    const template = Template.fromStack(stack);
    const metrics = graphedMetrics(dashboardBody(template));
    const mapping = logicalId(template, 'AWS::Lambda::EventSourceMapping', /TriggerEventSourceMapping/);
    expect(metrics).toEqual([
      'AWS/Lambda IteratorAge FunctionName=<Target3191CF44>',
      'AWS/Lambda Errors FunctionName=<Target3191CF44>',
      'AWS/Lambda Throttles FunctionName=<Target3191CF44>',
      expect.stringMatching(/^AWS\/SQS ApproximateNumberOfMessagesVisible QueueName=<TriggerOnFailureQueue.*\.QueueName>$/),
      `CdkKafkaLambda MappingHealthy EventSourceMappingUUID=<${mapping}>`,
    ]);
  });

  test('LambdaSinkConnector: the trigger dashboard with the dispatcher records', () => {
    // GIVEN a connector
    const stack = testStack();
    const connector = new LambdaSinkConnector(stack, 'Sink', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
      topics: ['orders'],
      target: testFunction(stack),
      auth: KafkaAuth.scram512(),
      responseTopic: 'orders-results',
    });
    // WHEN its dashboard is created
    const dashboard = connector.dashboard();
    // THEN it is the trigger's, with the dispatcher's records
    expect(connector.trigger.dashboard()).toBe(dashboard);
    const metrics = graphedMetrics(dashboardBody(Template.fromStack(stack)));
    expect(metrics).toEqual(expect.arrayContaining(['CdkKafkaLambda RecordsIn service=TestStack/Sink/Dispatcher']));
    expect(metrics.some((m) => m.startsWith('AWS/Lambda OffsetLag'))).toBe(true);
  });
});

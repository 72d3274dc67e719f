import { CfnParameter, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { KinesisTrigger, KinesisTriggerProps, OnFailureDestination } from '../../lib';
import { testFunction, testStack } from './support';

const STREAM_ARN = 'arn:aws:kinesis:us-east-1:111122223333:stream/clicks';

/** A trigger in a fresh stack; `props` override the defaults (a created stream). */
function trigger(
  props: Partial<KinesisTriggerProps> = {},
  stack = testStack(),
): { stack: Stack; trigger: KinesisTrigger; template: () => Template } {
  const t = new KinesisTrigger(stack, 'Trigger', { target: testFunction(stack), ...props });
  return { stack, trigger: t, template: () => Template.fromStack(stack) };
}

function statements(template: Template): any[] {
  const policies = template.findResources('AWS::IAM::Policy', {
    Properties: { PolicyName: Match.stringLikeRegexp('TriggerSourceAccessPolicy') },
  });
  return Object.values(policies).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
}

function actionsOf(template: Template): string[] {
  return statements(template)
    .flatMap((s) => [s.Action].flat())
    .sort();
}

describe('KinesisTrigger: defaults', () => {
  test('only a function gives an encrypted on-demand stream read from the oldest record with bounded retries, age and an SQS destination', () => {
    // GIVEN only a target
    const { template } = trigger();
    // THEN a stream is created, encrypted with the AWS managed key, in on-demand mode
    template().hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
      StreamModeDetails: { StreamMode: 'ON_DEMAND' },
    });
    // AND the mapping never stalls a shard for a week: 10 retries, 1 day max age, bisect, a destination
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerStream'), 'Arn'] },
      StartingPosition: 'TRIM_HORIZON',
      MaximumRetryAttempts: 10,
      MaximumRecordAgeInSeconds: 86400,
      BisectBatchOnFunctionError: true,
      DestinationConfig: {
        OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerOnFailureQueue'), 'Arn'] } },
      },
      FunctionResponseTypes: Match.absent(),
      ParallelizationFactor: Match.absent(),
    });
    // AND the created queue is encrypted and refuses plain HTTP
    template().hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    template().hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  test('the role may read the stream and send to the queue, and nothing else', () => {
    // GIVEN a default trigger
    const { template } = trigger();
    // THEN the grants are the stream read actions on the stream and SendMessage on the queue
    expect(actionsOf(template())).toEqual([
      'kinesis:DescribeStream',
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
      'sqs:SendMessage',
    ]);
    expect(statements(template()).find((s) => [s.Action].flat().includes('kinesis:GetRecords')).Resource).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/TriggerStream/), 'Arn'],
    });
    // AND the mapping waits for the policy
    const mapping = Object.values(template().findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    expect(mapping.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/TriggerSourceAccessPolicy/)]));
  });

  test('an IteratorAge, an errors, a queue depth and a mapping health alarm are created', () => {
    // GIVEN a default trigger
    const { trigger: t, template } = trigger();
    // THEN four alarms exist; IteratorAge is above 5 minutes (in ms) for 5 minutes
    expect(t.alarms).toHaveLength(4);
    expect(t.alarms).toContain(t.mappingHealthAlarm);
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Namespace: 'AWS/Lambda',
      Statistic: 'Maximum',
      Threshold: 300000,
      EvaluationPeriods: 5,
      Period: 60,
    });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Threshold: 1 });
    template().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
  });
});

describe('KinesisTrigger: options', () => {
  test('every option reaches the mapping', () => {
    // GIVEN a trigger with every option set
    const stack = testStack();
    const key = new kms.Key(stack, 'FilterKey');
    const { template } = trigger(
      {
        stream: kinesis.Stream.fromStreamArn(stack, 'Stream', STREAM_ARN),
        batchSize: 10000,
        maxBatchingWindow: Duration.seconds(300),
        startingPosition: lambda.StartingPosition.AT_TIMESTAMP,
        startingPositionTimestamp: 1700000000,
        parallelizationFactor: 10,
        bisectBatchOnError: false,
        retryAttempts: 3,
        maxRecordAge: Duration.hours(1),
        tumblingWindow: Duration.seconds(900),
        reportBatchItemFailures: true,
        filters: [lambda.FilterCriteria.filter({ data: { kind: lambda.FilterRule.isEqual('click') } })],
        filterEncryption: key,
        enabled: false,
        metrics: [lambda.MetricType.EVENT_COUNT],
      },
      stack,
    );
    // THEN the mapping carries each of them
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: STREAM_ARN,
      BatchSize: 10000,
      MaximumBatchingWindowInSeconds: 300,
      StartingPosition: 'AT_TIMESTAMP',
      StartingPositionTimestamp: 1700000000,
      ParallelizationFactor: 10,
      BisectBatchOnFunctionError: false,
      MaximumRetryAttempts: 3,
      MaximumRecordAgeInSeconds: 3600,
      TumblingWindowInSeconds: 900,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FilterCriteria: { Filters: [{ Pattern: '{"data":{"kind":["click"]}}' }] },
      KmsKeyArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('FilterKey'), 'Arn'] },
      Enabled: false,
      MetricsConfig: { Metrics: ['EventCount'] },
    });
    // AND no stream is created
    template().resourceCountIs('AWS::Kinesis::Stream', 0);
    // AND Lambda may decrypt the filters
    template().hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'kms:Decrypt', Principal: { Service: 'lambda.amazonaws.com' } })]),
      },
    });
  });

  test('infinite retries and unlimited record age map to -1 with a warning that the shard can stall', () => {
    // GIVEN both bounds lifted
    const { stack, template } = trigger({ retryAttempts: -1, unlimitedRecordAge: true });
    // THEN both are -1
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumRetryAttempts: -1,
      MaximumRecordAgeInSeconds: -1,
    });
    // AND a warning names the stall
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Trigger',
      Match.stringLikeRegexp('stalls its shard for the whole retention period'),
    );
  });

  test('enhanced fan-out creates a consumer, maps it and grants SubscribeToShard on it', () => {
    // GIVEN enhanced fan-out with a named consumer
    const { template } = trigger({ enhancedFanOut: true, consumerName: 'clicks-lambda' });
    // THEN the consumer is registered on the stream and the mapping reads through it
    template().hasResourceProperties('AWS::Kinesis::StreamConsumer', {
      ConsumerName: 'clicks-lambda',
      StreamARN: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerStream'), 'Arn'] },
    });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('TriggerConsumer'), 'ConsumerARN'] },
    });
    // AND the role may subscribe through that consumer only
    expect(statements(template())).toContainEqual(
      expect.objectContaining({
        Action: ['kinesis:SubscribeToShard', 'kinesis:DescribeStreamConsumer'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/TriggerConsumer/), 'ConsumerARN'] },
      }),
    );
  });

  test('an enhanced fan-out consumer without a name gets a deterministic one', () => {
    // GIVEN enhanced fan-out without a name
    const first = trigger({ enhancedFanOut: true }).template();
    const second = trigger({ enhancedFanOut: true }).template();
    // THEN the name derives from the construct path, the same on every synth
    const name = (t: Template) =>
      (Object.values(t.findResources('AWS::Kinesis::StreamConsumer'))[0] as any).Properties.ConsumerName;
    expect(name(first)).toMatch(/^TestStack-Trigger-[0-9A-F]{8}$/);
    expect(name(first)).toBe(name(second));
  });

  test('a stream with a customer managed key grants kms:Decrypt on it', () => {
    // GIVEN a stream encrypted with a CMK
    const stack = testStack();
    const stream = new kinesis.Stream(stack, 'Stream', { encryption: kinesis.StreamEncryption.KMS });
    const { template } = trigger({ stream }, stack);
    // THEN the role may decrypt with that key
    expect(statements(template())).toContainEqual(
      expect.objectContaining({
        Action: 'kms:Decrypt',
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/StreamKey/), 'Arn'] },
      }),
    );
  });

  test.each([
    ['a given queue', (s: Stack) => OnFailureDestination.sqs(new sqs.Queue(s, 'Dlq')), 'sqs:SendMessage', /Dlq/],
    ['an SNS topic', (s: Stack) => OnFailureDestination.sns(new sns.Topic(s, 'Topic')), 'sns:Publish', /Topic/],
    ['a given bucket', (s: Stack) => OnFailureDestination.s3(new s3.Bucket(s, 'Bucket')), 's3:PutObject', /Bucket/],
    ['a created bucket', () => OnFailureDestination.s3(), 's3:PutObject', /TriggerOnFailureBucket/],
  ])('%s as on-failure destination is mapped and granted send only', (_name, destination, action, id) => {
    // GIVEN a destination
    const stack = testStack();
    const { template } = trigger({ onFailure: destination(stack) }, stack);
    // THEN the mapping names it and the role may send to it, without the default queue
    const mapping = Object.values(template().findResources('AWS::Lambda::EventSourceMapping'))[0] as any;
    expect(JSON.stringify(mapping.Properties.DestinationConfig.OnFailure.Destination)).toMatch(id);
    expect(actionsOf(template())).toContain(action);
    template().resourceCountIs('AWS::SQS::Queue', action === 'sqs:SendMessage' ? 1 : 0);
  });

  test('discardFailedBatches maps no destination and warns', () => {
    // GIVEN failed batches to discard
    const { stack, template } = trigger({ discardFailedBatches: true });
    // THEN there is no destination, no queue, and a warning
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', { DestinationConfig: Match.absent() });
    template().resourceCountIs('AWS::SQS::Queue', 0);
    Annotations.fromStack(stack).hasWarning('/TestStack/Trigger', Match.stringLikeRegexp('dropped with no record'));
  });

  test('alarms can be turned off and the IteratorAge threshold set', () => {
    // GIVEN alarms off in one trigger, a 30 s threshold in another
    const off = trigger({ alarms: false });
    const custom = trigger({ iteratorAgeAlarmThreshold: Duration.seconds(30) });
    // THEN the first has none and the second alarms at 30000 ms
    expect(off.trigger.alarms).toEqual([]);
    off.template().resourceCountIs('AWS::CloudWatch::Alarm', 0);
    custom.template().hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 30000 });
  });

  test('metric methods name the function or the mapping', () => {
    // GIVEN a trigger
    const { stack, trigger: t } = trigger();
    // THEN IteratorAge is per function and ESM metrics are per mapping UUID
    expect(stack.resolve(t.metricIteratorAge().dimensions)).toEqual({ FunctionName: { Ref: expect.stringMatching(/Target/) } });
    for (const [metric, name] of [
      [t.metricPolledEventCount(), 'PolledEventCount'],
      [t.metricFailedInvokeEventCount(), 'FailedInvokeEventCount'],
      [
        t.metricOnFailureDestinationDeliveredEventCount({ period: Duration.minutes(5) }),
        'OnFailureDestinationDeliveredEventCount',
      ],
    ] as const) {
      expect(metric.metricName).toBe(name);
      expect(stack.resolve(metric.dimensions)).toEqual({
        EventSourceMappingUUID: { Ref: expect.stringMatching(/TriggerEventSourceMapping/) },
      });
    }
    expect(t.metricOnFailureDestinationDeliveredEventCount({ period: Duration.minutes(5) }).period.toMinutes()).toBe(5);
  });
});

describe('KinesisTrigger: validation', () => {
  test.each<[string, number | Duration, string, number]>([
    ['batchSize', 1, 'BatchSize', 1],
    ['batchSize', 10000, 'BatchSize', 10000],
    ['parallelizationFactor', 1, 'ParallelizationFactor', 1],
    ['parallelizationFactor', 10, 'ParallelizationFactor', 10],
    ['retryAttempts', -1, 'MaximumRetryAttempts', -1],
    ['retryAttempts', 0, 'MaximumRetryAttempts', 0],
    ['retryAttempts', 10000, 'MaximumRetryAttempts', 10000],
    ['maxBatchingWindow', Duration.seconds(300), 'MaximumBatchingWindowInSeconds', 300],
    ['maxRecordAge', Duration.seconds(60), 'MaximumRecordAgeInSeconds', 60],
    ['maxRecordAge', Duration.seconds(604800), 'MaximumRecordAgeInSeconds', 604800],
    ['tumblingWindow', Duration.seconds(0), 'TumblingWindowInSeconds', 0],
    ['tumblingWindow', Duration.seconds(900), 'TumblingWindowInSeconds', 900],
  ])('%s = %p at its boundary reaches the mapping as %s', (prop, value, cfnProperty, expected) => {
    // GIVEN an option at its boundary WHEN synthesized THEN the mapping carries it
    trigger({ [prop]: value })
      .template()
      .hasResourceProperties('AWS::Lambda::EventSourceMapping', { [cfnProperty]: expected });
  });

  test.each([
    ['batchSize', 0],
    ['batchSize', 10001],
    ['batchSize', 1.5],
    ['parallelizationFactor', 0],
    ['parallelizationFactor', 11],
    ['retryAttempts', -2],
    ['retryAttempts', 10001],
  ])('fails %s = %p', (prop, value) => {
    // GIVEN a number beyond its range THEN construction fails naming the prop, the value and the range
    expect(() => trigger({ [prop]: value })).toThrow(
      new RegExp(`KinesisTrigger TestStack/Trigger: ${prop} was ${String(value).replace('.', '\\.')}: use an integer from`),
    );
  });

  test.each([
    ['maxBatchingWindow', 301],
    ['maxRecordAge', 59],
    ['maxRecordAge', 604801],
    ['tumblingWindow', 901],
  ])('fails %s = %p seconds', (prop, seconds) => {
    // GIVEN a duration beyond its range THEN construction fails naming the seconds received
    expect(() => trigger({ [prop]: Duration.seconds(seconds) })).toThrow(new RegExp(`${prop} was "${seconds} seconds": use `));
  });

  test.each<[string, Partial<KinesisTriggerProps>, RegExp]>([
    [
      'fails AT_TIMESTAMP without a timestamp',
      { startingPosition: lambda.StartingPosition.AT_TIMESTAMP },
      /startingPositionTimestamp is not set: AT_TIMESTAMP needs/,
    ],
    [
      'fails a timestamp without AT_TIMESTAMP',
      { startingPositionTimestamp: 1700000000 },
      /startingPositionTimestamp was 1700000000: it applies to AT_TIMESTAMP only.*TRIM_HORIZON/,
    ],
    [
      'fails a consumer name without enhanced fan-out',
      { consumerName: 'c1' },
      /consumerName was "c1": .*set enhancedFanOut: true/,
    ],
    [
      'fails an invalid consumer name',
      { enhancedFanOut: true, consumerName: 'bad name' },
      /consumerName was "bad name": use 1–128 characters/,
    ],
    [
      'fails maxRecordAge with unlimitedRecordAge',
      { maxRecordAge: Duration.hours(1), unlimitedRecordAge: true },
      /maxRecordAge was "1 hour": unlimitedRecordAge is set too/,
    ],
    [
      'fails onFailure with discardFailedBatches',
      { onFailure: OnFailureDestination.sqs(), discardFailedBatches: true },
      /onFailure was "SQS": discardFailedBatches is set too/,
    ],
    [
      'fails a Kafka topic destination',
      { onFailure: OnFailureDestination.kafkaTopic('clicks-dlt') },
      /onFailure was "kafka:\/\/clicks-dlt": a Kinesis event source sends failed batches to SQS, SNS or S3 only/,
    ],
  ])('%s', (_name, props, message) => {
    // GIVEN an invalid combination THEN construction fails with the prop, value and fix
    expect(() => trigger(props)).toThrow(message);
  });

  test('fails filter encryption without filters', () => {
    // GIVEN a filter key but no filters
    const stack = testStack();
    const key = new kms.Key(stack, 'Key');
    // THEN construction fails
    expect(() => trigger({ filterEncryption: key }, stack)).toThrow(
      /filterEncryption was .*: it encrypts filters; add filters or remove it/,
    );
  });

  test('fails an imported function without a role', () => {
    // GIVEN a function imported by ARN only
    const stack = testStack();
    const fn = lambda.Function.fromFunctionArn(stack, 'Imported', 'arn:aws:lambda:us-east-1:111122223333:function:f');
    // THEN construction fails naming target.role
    expect(() => new KinesisTrigger(stack, 'Trigger', { target: fn })).toThrow(
      /target.role is not set: .*fromFunctionAttributes/,
    );
  });

  test('unresolved tokens are not validated at synth', () => {
    // GIVEN tokens for numeric options
    const stack = testStack();
    const size = new CfnParameter(stack, 'Size', { type: 'Number' }).valueAsNumber;
    // THEN construction passes them through
    const { template } = trigger(
      {
        batchSize: size,
        parallelizationFactor: size,
        consumerName: new CfnParameter(stack, 'Name').valueAsString,
        enhancedFanOut: true,
      },
      stack,
    );
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: { Ref: 'Size' },
      ParallelizationFactor: { Ref: 'Size' },
    });
  });
});

/**
 * Pinned consumer groups (KafkaTriggerProps.consumerGroupIds, passed through by LambdaSinkConnector): each topic's
 * mapping joins the group given for it, validated at synth; generated groups follow the construct path.
 */
import { App, CfnParameter, Annotations as CoreAnnotations, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaCluster, KafkaConsumptionMode, KafkaTrigger, KafkaTriggerProps, LambdaSinkConnector } from '../../lib';
import { MSK_ARN, testApp, testFunction, testStack } from './support';

const SERVERS = ['b-1.kafka.example.com:9096'];
const WARNING_ID = 'cdk-kafka-lambda:generatedGroupBesidePinned';

/** A self-managed trigger with the topics orders and refunds in a fresh stack; `props` override. */
function trigger(props: Partial<KafkaTriggerProps> = {}, stack = testStack(), id = 'Trigger'): KafkaTrigger {
  return new KafkaTrigger(stack, id, {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
    topics: ['orders', 'refunds'],
    target: testFunction(stack, `${id}Target`),
    ...props,
  });
}

/** ConsumerGroupId of each mapping, by topic, read from the template. */
function groupsByTopic(stack: Stack, config = 'SelfManagedKafkaEventSourceConfig'): Record<string, unknown> {
  const mappings = Template.fromStack(stack).findResources('AWS::Lambda::EventSourceMapping');
  return Object.fromEntries(
    Object.values(mappings).map((m: any) => [m.Properties.Topics[0], m.Properties[config]?.ConsumerGroupId]),
  );
}

const warnings = (stack: Stack) =>
  Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('consumerGroupIds pins some topics'));

describe('KafkaTrigger: pinned consumer groups', () => {
  test('consumerGroupIds gives each topic its group; the exposed consumerGroupIds follow the topics', () => {
    // GIVEN a group per topic
    const stack = testStack();
    const t = trigger({ consumerGroupIds: { orders: 'connect-orders-sink', refunds: 'refunds.v2@team:a/b*c+d=e' } }, stack);
    // THEN each mapping joins its topic's group
    expect(groupsByTopic(stack)).toEqual({ orders: 'connect-orders-sink', refunds: 'refunds.v2@team:a/b*c+d=e' });
    expect(t.consumerGroupIds).toEqual(['connect-orders-sink', 'refunds.v2@team:a/b*c+d=e']);
    // AND every topic is pinned, so there is nothing to warn about
    expect(warnings(stack)).toEqual([]);
  });

  test('on MSK the pinned groups go to AmazonManagedKafkaEventSourceConfig and the IAM grants name them', () => {
    // GIVEN an MSK cluster with IAM auth and pinned groups
    const stack = testStack();
    trigger(
      { cluster: KafkaCluster.msk({ clusterArn: MSK_ARN }), consumerGroupIds: { orders: 'g-orders', refunds: 'g-refunds' } },
      stack,
    );
    // THEN the mappings join them
    expect(groupsByTopic(stack, 'AmazonManagedKafkaEventSourceConfig')).toEqual({ orders: 'g-orders', refunds: 'g-refunds' });
    // AND the role may describe and alter exactly those groups
    const group = (g: string) => MSK_ARN.replace(':cluster/', ':group/') + `/${g}`;
    Template.fromStack(stack).hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['kafka-cluster:DescribeGroup', 'kafka-cluster:AlterGroup'],
            Resource: [group('g-orders'), group('g-refunds')],
          }),
        ]),
      },
    });
  });

  test('generated groups follow the construct path: a renamed trigger gets new ones, pinned ones stay', () => {
    // GIVEN the same trigger under two construct ids, once generated and once pinned
    const generated = (id: string) => trigger({}, testStack(), id).consumerGroupIds;
    const pinned = (id: string) =>
      trigger({ consumerGroupIds: { orders: 'g-orders', refunds: 'g-refunds' } }, testStack(), id).consumerGroupIds;
    // THEN the generated groups name the path and change with it
    expect(generated('Orders')[0]).toMatch(/^TestStack-Orders-[0-9A-F]{8}-orders$/);
    expect(generated('OrdersRenamed')).not.toEqual(expect.arrayContaining(generated('Orders')));
    // AND the pinned ones do not
    expect(pinned('OrdersRenamed')).toEqual(pinned('Orders'));
  });

  test('a single topic may have consumerGroupId and consumerGroupIds when they agree', () => {
    const stack = testStack();
    trigger({ topics: ['orders'], consumerGroupId: 'g', consumerGroupIds: { orders: 'g' } }, stack);
    expect(groupsByTopic(stack)).toEqual({ orders: 'g' });
  });

  test('unresolved groups are passed through unchecked', () => {
    // GIVEN groups known only at deploy time (the same parameter twice: Lambda, not synth, would refuse that)
    const stack = testStack();
    const group = new CfnParameter(stack, 'Group').valueAsString;
    trigger({ consumerGroupIds: { orders: group, refunds: group } }, stack);
    // THEN both mappings reference the parameter
    expect(groupsByTopic(stack)).toEqual({ orders: { Ref: 'Group' }, refunds: { Ref: 'Group' } });
  });

  test('a topic known only at deploy time is pinned by keying its group with the same token', () => {
    // GIVEN a topic and its group from parameters
    const stack = testStack();
    const topic = new CfnParameter(stack, 'Topic').valueAsString;
    const group = new CfnParameter(stack, 'Group').valueAsString;
    trigger({ topics: [topic], consumerGroupIds: { [topic]: group } }, stack);
    // THEN the mapping joins the parameter's group
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      Topics: [{ Ref: 'Topic' }],
      SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: { Ref: 'Group' } },
    });
  });

  test('LambdaSinkConnector passes consumerGroupIds to its trigger', () => {
    // GIVEN a connector with pinned groups
    const stack = new Stack(new App(), 'Stack', { env: { account: '111122223333', region: 'us-east-1' } });
    const target = new lambda.Function(stack, 'Target', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      timeout: Duration.minutes(1),
      code: lambda.Code.fromInline('exports.handler=async()=>[]'),
    });
    const connector = new LambdaSinkConnector(stack, 'Sink', {
      cluster: KafkaCluster.selfManaged({ bootstrapServers: SERVERS }),
      topics: ['orders', 'refunds'],
      target,
      consumerGroupIds: { orders: 'connect-sink', refunds: 'connect-sink-refunds' },
    });
    // THEN the mappings join them
    expect(groupsByTopic(stack)).toEqual({ orders: 'connect-sink', refunds: 'connect-sink-refunds' });
    expect(connector.trigger.consumerGroupIds).toEqual(['connect-sink', 'connect-sink-refunds']);
  });
});

describe('KafkaTrigger: pinned consumer groups, validation', () => {
  test.each<[string, Partial<KafkaTriggerProps>, RegExp]>([
    [
      'fails on a key that is not a topic',
      { consumerGroupIds: { order: 'g' } },
      /KafkaTrigger TestStack\/Trigger: consumerGroupIds was \{"order":"g"\}: order is not one of the trigger's topics \(orders, refunds\); key each group by its topic/,
    ],
    [
      'fails on a group with a space',
      { consumerGroupIds: { orders: 'my group' } },
      /consumerGroupIds was \{"orders":"my group"\}: use 1–200 characters of \[a-zA-Z0-9-\/\*:_\+=\.@\] for each group/,
    ],
    [
      'fails on an empty group',
      { consumerGroupIds: { orders: '' } },
      /consumerGroupIds was \{"orders":""\}: use 1–200 characters/,
    ],
    [
      'fails on a group of 201 characters',
      { consumerGroupIds: { refunds: 'g'.repeat(201) } },
      /consumerGroupIds was \{"refunds":"g{100}.*: use 1–200 characters/,
    ],
    [
      'fails on two topics in one group',
      { consumerGroupIds: { orders: 'shared', refunds: 'shared' } },
      /consumerGroupIds was \{"orders":"shared","refunds":"shared"\}: a consumer group id must be unique per event source mapping \(one per topic\); give each topic a group of its own/,
    ],
    [
      'fails on consumerGroupId and consumerGroupIds that disagree on a single topic',
      { topics: ['orders'], consumerGroupId: 'a', consumerGroupIds: { orders: 'b' } },
      /consumerGroupIds was \{"orders":"b"\}: it gives orders the group b while consumerGroupId is a; give the group in one of them/,
    ],
    [
      'fails on consumerGroupId with several topics, pointing to consumerGroupIds',
      { consumerGroupId: 'g' },
      /consumerGroupId was "g": .*2 topics make 2 mappings; give one group per topic with consumerGroupIds \(\{ topic: group \}\), or leave it unset/,
    ],
  ])('%s', (_name, props, error) => {
    expect(() => trigger(props)).toThrow(error);
  });

  test('fails on a pinned group equal to the generated group of another topic', () => {
    // GIVEN the group the trigger generates for refunds
    const generatedRefunds = trigger({}, testStack()).consumerGroupIds[1];
    // WHEN orders is pinned to it in the same place
    // THEN synthesis fails naming the clash and the fix
    expect(() => trigger({ consumerGroupIds: { orders: generatedRefunds } })).toThrow(
      `consumerGroupIds was {"orders":"${generatedRefunds}"}: ${generatedRefunds} is also the generated group of refunds; pin refunds to a group of its own too`,
    );
  });
});

describe('KafkaTrigger: a group joined by two triggers of the app', () => {
  test('fails on a group another trigger of the app already joins on the same cluster, naming it', () => {
    // GIVEN a trigger whose refunds mapping joins the group "refunds-lambda"
    const app = testApp();
    trigger({ consumerGroupIds: { orders: 'orders-lambda', refunds: 'refunds-lambda' } }, testStack(app), 'First');
    // WHEN a trigger in another stack of the app pins a topic of the same brokers to that group
    const second = new Stack(app, 'Other', { env: { account: '111122223333', region: 'us-east-1' } });
    // THEN synthesis fails naming the other trigger and the fix
    expect(() => trigger({ topics: ['payments'], consumerGroupIds: { payments: 'refunds-lambda' } }, second, 'Second')).toThrow(
      'KafkaTrigger Other/Second: consumerGroupIds was {"payments":"refunds-lambda"}: refunds-lambda is already the consumer group ' +
        'of TestStack/First (topic refunds) on the same cluster; a group id must be unique among your Kafka event sources: give this topic another group',
    );
    // AND so does consumerGroupId, naming that prop
    expect(() => trigger({ topics: ['payments'], consumerGroupId: 'orders-lambda' }, second, 'Third')).toThrow(
      /Other\/Third: consumerGroupId was "orders-lambda": orders-lambda is already the consumer group of TestStack\/First \(topic orders\)/,
    );
  });

  test('the same group on another cluster is not a conflict', () => {
    const stack = testStack();
    trigger({ consumerGroupIds: { orders: 'g-orders' } }, stack, 'First');
    const t = trigger(
      {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: ['other-1.kafka.example.com:9096'] }),
        topics: ['orders'],
        consumerGroupId: 'g-orders',
      },
      stack,
      'Second',
    );
    expect(t.consumerGroupIds).toEqual(['g-orders']);
  });
});

describe('KafkaTrigger: a generated group beside pinned ones', () => {
  test('warns with TRIM_HORIZON: a rename reads the unpinned topic again from its oldest record', () => {
    // GIVEN orders pinned and refunds generated, from TRIM_HORIZON (the default)
    const stack = testStack();
    const t = trigger({ consumerGroupIds: { orders: 'g-orders' } }, stack);
    // THEN refunds keeps its generated group
    expect(groupsByTopic(stack)).toEqual({ orders: 'g-orders', refunds: t.consumerGroupIds[1] });
    expect(t.consumerGroupIds[1]).toMatch(/^TestStack-Trigger-[0-9A-F]{8}-refunds$/);
    // AND a warning with its id names the topic, its group, the consequence and the fix
    Annotations.fromStack(stack).hasWarning(
      '/TestStack/Trigger',
      `consumerGroupIds pins some topics but not refunds (${t.consumerGroupIds[1]}): a generated group follows the stack name and ` +
        'construct path, so renaming or moving the trigger gives that topic a new group, which reads the whole topic again ' +
        'from its oldest record (TRIM_HORIZON). Pin every topic in consumerGroupIds (a deployed topic to the group it has now). ' +
        `[ack: ${WARNING_ID}]`,
    );
  });

  test.each<[string, Partial<KafkaTriggerProps>, RegExp]>([
    ['LATEST', { startingPosition: lambda.StartingPosition.LATEST }, /starts at the end of the topic \(LATEST\) and skips/],
    [
      'AT_TIMESTAMP',
      { startingPosition: lambda.StartingPosition.AT_TIMESTAMP, startingPositionTimestamp: 1700000000 },
      /reads again from startingPositionTimestamp \(AT_TIMESTAMP\)/,
    ],
    ['Queue mode', { consumptionMode: KafkaConsumptionMode.QUEUE }, /gives that topic a new share group/],
  ])('warns with %s too, naming what a new group does there', (_name, props, effect) => {
    const stack = testStack();
    trigger({ ...props, topics: ['orders', 'refunds', 'returns'], consumerGroupIds: { refunds: 'g' } }, stack);
    const found = warnings(stack);
    expect(found).toHaveLength(1);
    expect(found[0].entry.data).toMatch(/but not orders \(.*-orders\), returns \(.*-returns\)/);
    expect(found[0].entry.data).toMatch(effect);
  });

  test.each<[string, Partial<KafkaTriggerProps>]>([
    ['no topic pinned', {}],
    ['every topic pinned', { consumerGroupIds: { orders: 'a', refunds: 'b' } }],
    ['a single topic with consumerGroupId', { topics: ['orders'], consumerGroupId: 'a' }],
    ['a single topic, generated', { topics: ['orders'] }],
  ])('does not warn with %s', (_name, props) => {
    const stack = testStack();
    trigger(props, stack);
    expect(warnings(stack)).toEqual([]);
  });

  test('the warning can be acknowledged by its id', () => {
    const app = testApp();
    const stack = testStack(app);
    const t = trigger({ consumerGroupIds: { orders: 'g-orders' } }, stack);
    CoreAnnotations.of(t).acknowledgeWarning(WARNING_ID, 'refunds is read from LATEST elsewhere');
    expect(warnings(stack)).toEqual([]);
  });
});

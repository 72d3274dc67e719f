import { Token } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ESM_LIMITS } from '../../contract/esm-limits';
import { recordAgeRange } from './trigger-shared';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KafkaCluster, KafkaClusterKind } from '../kafka-cluster';
import { OnFailureDestinationKind } from '../destination';
import { KafkaConsumptionMode, KafkaTriggerProps } from '../kafka-trigger-props';
import { Fail } from './kafka-auth-setup';
import { PartialBatchAnswers, unreadPartialBatchResponses } from './partial-batch';

export const CONSUMER_GROUP_ID = /^[a-zA-Z0-9\-/*:_+=.@]{1,200}$/;
const TOPIC_NAME = /^[^.]([a-zA-Z0-9\-_.]+)$/;

/** What the checks need of the dispatcher a trigger targets: what its binding (DispatcherTriggerBinding) says. */
export interface DispatcherAnswers extends PartialBatchAnswers {
  /** Its relay's cluster and topics, if it relays. */
  readonly relay?: { readonly cluster: KafkaCluster; readonly responseTopic?: string; readonly errorTopic?: string };
}

/** Fails on a KafkaTrigger option Lambda refuses or that would lose or loop records. */
export function validateKafkaTriggerProps(props: KafkaTriggerProps, fail: Fail): void {
  validateTopics(props, fail);
  integerIn(fail, 'batchSize', props.batchSize, ...ESM_LIMITS.batchSize);
  const window = props.maxBatchingWindow?.toSeconds();
  if (window !== undefined && !Token.isUnresolved(window) && window > ESM_LIMITS.maxBatchingWindowSeconds[1])
    fail('maxBatchingWindow', `${window} seconds`, `use at most Duration.seconds(${ESM_LIMITS.maxBatchingWindowSeconds[1]})`);
  validateStartingPosition(props, fail);
  validateConsumption(props, fail);
  if (props.filterEncryption && !props.filters?.length)
    fail('filterEncryption', props.filterEncryption.keyArn, 'it encrypts filters; add filters or remove it');
  if (props.provisionedPollers) validateProvisionedPollers(props.provisionedPollers, fail);
  else failOnProvisionedOnly(props, fail);
  validateErrorHandling(props, fail);
  const timeout = (props.target as lambda.Function).timeout?.toSeconds();
  if (timeout !== undefined && !Token.isUnresolved(timeout) && timeout > 840) {
    fail(
      'target.timeout',
      `${timeout} seconds`,
      'Kafka event source mappings support functions with a timeout of at most 14 minutes; lower it',
    );
  }
}

/**
 * Fails when the trigger would not read the partial batch responses of the dispatcher it targets, or would read the
 * topics it relays to.
 */
export function validateDispatcherAnswers(props: KafkaTriggerProps, dispatcher: DispatcherAnswers, fail: Fail): void {
  failOnRelayLoop(props, dispatcher, fail);
  const unread = unreadPartialBatchResponses(dispatcher, props.reportBatchItemFailures, ' (with provisionedPollers)');
  if (unread) fail('reportBatchItemFailures', props.reportBatchItemFailures, unread);
}

function integerIn(fail: Fail, prop: string, v: number | undefined, min: number, max: number, extra = ''): void {
  if (v !== undefined && !Token.isUnresolved(v) && (!Number.isInteger(v) || v < min || v > max)) {
    fail(prop, v, `use an integer from ${min} to ${max}${extra}`);
  }
}

function validateTopics(props: KafkaTriggerProps, fail: Fail): void {
  if (props.topics.length === 0) fail('topics', props.topics, 'give at least one topic');
  if (new Set(props.topics).size !== props.topics.length) fail('topics', props.topics, 'list each topic once');
  for (const topic of props.topics) {
    if (!Token.isUnresolved(topic) && (topic.length > 249 || !TOPIC_NAME.test(topic))) {
      fail('topics', topic, 'a Kafka topic name has 2–249 characters of [a-zA-Z0-9._-] and does not start with "."');
    }
  }
}

function validateStartingPosition(props: KafkaTriggerProps, fail: Fail): void {
  const position = props.startingPosition ?? lambda.StartingPosition.TRIM_HORIZON;
  if (position === lambda.StartingPosition.AT_TIMESTAMP && props.startingPositionTimestamp === undefined) {
    fail('startingPositionTimestamp', undefined, 'AT_TIMESTAMP needs the time to start from, in Unix seconds');
  }
  if (position !== lambda.StartingPosition.AT_TIMESTAMP && props.startingPositionTimestamp !== undefined) {
    fail(
      'startingPositionTimestamp',
      props.startingPositionTimestamp,
      `it applies to AT_TIMESTAMP only; set startingPosition to AT_TIMESTAMP or remove it (startingPosition is ${position})`,
    );
  }
}

/** Queue mode (share groups) and the consumer group id. */
function validateConsumption(props: KafkaTriggerProps, fail: Fail): void {
  if (props.consumptionMode === KafkaConsumptionMode.QUEUE) {
    if (props.cluster.kind === KafkaClusterKind.MSK)
      fail('consumptionMode', props.consumptionMode, 'Queue mode exists for self-managed Kafka only; remove it for Amazon MSK');
    const notApplicable: Array<[string, unknown]> = [
      ['startingPosition', props.startingPosition],
      ['startingPositionTimestamp', props.startingPositionTimestamp],
      ['maxBatchingWindow', props.maxBatchingWindow?.toHumanString()],
    ];
    for (const [prop, value] of notApplicable) {
      if (value !== undefined)
        fail(
          prop,
          value,
          'it does not apply in Queue consumption mode (share groups have no offsets to start from); remove it or use Stream',
        );
    }
  }
  if (props.consumerGroupId !== undefined) {
    if (!Token.isUnresolved(props.consumerGroupId) && !CONSUMER_GROUP_ID.test(props.consumerGroupId)) {
      fail('consumerGroupId', props.consumerGroupId, 'use 1–200 characters of [a-zA-Z0-9-/*:_+=.@]');
    }
    if (props.topics.length > 1) {
      fail(
        'consumerGroupId',
        props.consumerGroupId,
        `a consumer group id must be unique per event source mapping and ${props.topics.length} topics make ${props.topics.length} mappings; ` +
          'give one group per topic with consumerGroupIds ({ topic: group }), or leave it unset',
      );
    }
  }
  validateConsumerGroupIds(props, fail);
}

/**
 * The group `consumerGroupIds` pins for `topic`: its own key only (a topic named `constructor` or `toString` is not
 * pinned to Object.prototype's member).
 */
export function pinnedGroup(props: KafkaTriggerProps, topic: string): string | undefined {
  const pinned = props.consumerGroupIds;
  return pinned !== undefined && Object.prototype.hasOwnProperty.call(pinned, topic) ? pinned[topic] : undefined;
}

/**
 * The pinned groups: each key one of the topics, each value a valid group id, no two topics in one group, and no
 * conflict with `consumerGroupId`. Unresolved values are passed through unchecked.
 */
function validateConsumerGroupIds(props: KafkaTriggerProps, fail: Fail): void {
  const pinned = props.consumerGroupIds;
  if (pinned === undefined) return;
  const byGroup = new Map<string, string>();
  for (const [topic, group] of Object.entries(pinned)) {
    if (!props.topics.includes(topic))
      fail(
        'consumerGroupIds',
        { [topic]: group },
        `${topic} is not one of the trigger's topics (${props.topics.join(', ')}); key each group by its topic`,
      );
    if (Token.isUnresolved(group)) continue;
    if (!CONSUMER_GROUP_ID.test(group))
      fail('consumerGroupIds', { [topic]: group }, 'use 1–200 characters of [a-zA-Z0-9-/*:_+=.@] for each group');
    const other = byGroup.get(group);
    if (other !== undefined)
      fail(
        'consumerGroupIds',
        { [other]: group, [topic]: group },
        'a consumer group id must be unique per event source mapping (one per topic); give each topic a group of its own',
      );
    byGroup.set(group, topic);
  }
  const single = props.consumerGroupId;
  const same = props.topics.length === 1 ? pinnedGroup(props, props.topics[0]) : undefined;
  if (single !== undefined && same !== undefined && same !== single && !Token.isUnresolved(single) && !Token.isUnresolved(same))
    fail(
      'consumerGroupIds',
      pinned,
      `it gives ${props.topics[0]} the group ${same} while consumerGroupId is ${single}; give the group in one of them`,
    );
}

function validateProvisionedPollers(pp: lambda.ProvisionedPollerConfig, fail: Fail): void {
  integerIn(fail, 'provisionedPollers.minimumPollers', pp.minimumPollers, ...ESM_LIMITS.minimumPollers);
  integerIn(fail, 'provisionedPollers.maximumPollers', pp.maximumPollers, ...ESM_LIMITS.maximumPollers);
  if (
    pp.minimumPollers !== undefined &&
    pp.maximumPollers !== undefined &&
    !Token.isUnresolved(pp.minimumPollers) &&
    !Token.isUnresolved(pp.maximumPollers) &&
    pp.minimumPollers > pp.maximumPollers
  ) {
    fail('provisionedPollers', pp, 'minimumPollers must not exceed maximumPollers');
  }
  if (
    pp.pollerGroupName !== undefined &&
    !Token.isUnresolved(pp.pollerGroupName) &&
    !/^[a-zA-Z0-9_-]{1,128}$/.test(pp.pollerGroupName)
  ) {
    fail('provisionedPollers.pollerGroupName', pp.pollerGroupName, 'use 1–128 characters of [a-zA-Z0-9_-]');
  }
}

/** Without provisioned pollers, the options Lambda supports for Kafka in provisioned mode only. */
function failOnProvisionedOnly(props: KafkaTriggerProps, fail: Fail): void {
  const provisionedOnly: Array<[string, unknown]> = [
    ['schemaRegistry', props.schemaRegistry],
    ['systemLogLevel', props.systemLogLevel],
    ['retryAttempts', props.retryAttempts],
    ['bisectBatchOnError', props.bisectBatchOnError],
    ['maxRecordAge', props.maxRecordAge?.toHumanString()],
    ['reportBatchItemFailures', props.reportBatchItemFailures],
    ['onFailure', props.onFailure?.kind === OnFailureDestinationKind.KAFKA ? `kafka://${props.onFailure.topicName}` : undefined],
  ];
  for (const [prop, value] of provisionedOnly) {
    if (value !== undefined)
      fail(
        prop,
        value === props.schemaRegistry ? 'a schema registry' : value,
        'Lambda supports it for Kafka in provisioned mode only; set provisionedPollers (e.g. { minimumPollers: 1, maximumPollers: 10 }) or remove it',
      );
  }
}

/** Retries, record age and a Kafka on-failure destination. */
function validateErrorHandling(props: KafkaTriggerProps, fail: Fail): void {
  if (props.retryAttempts !== undefined && props.retryAttempts !== -1)
    integerIn(fail, 'retryAttempts', props.retryAttempts, ...ESM_LIMITS.retryAttempts, ', or -1 for infinite');
  const age = props.maxRecordAge?.toSeconds();
  if (
    age !== undefined &&
    !Token.isUnresolved(age) &&
    (age < ESM_LIMITS.maxRecordAgeSeconds[0] || age > ESM_LIMITS.maxRecordAgeSeconds[1])
  ) {
    fail('maxRecordAge', `${age} seconds`, `use ${recordAgeRange()}`);
  }
  if (props.onFailure?.kind === OnFailureDestinationKind.KAFKA) {
    const t = props.onFailure.topicName!;
    if (props.topics.includes(t))
      fail('onFailure', `kafka://${t}`, 'the destination topic must differ from every source topic, or records would loop');
    if (!Token.isUnresolved(t) && !TOPIC_NAME.test(t))
      fail('onFailure', `kafka://${t}`, 'a Kafka topic name has 2–249 characters of [a-zA-Z0-9._-]');
    // The CloudFormation schema sizes Destination for ARNs: at least 12 characters.
    if (!Token.isUnresolved(t) && t.length < 4)
      fail(
        'onFailure',
        `kafka://${t}`,
        'CloudFormation requires a destination of at least 12 characters; use a topic name of 4 or more characters',
      );
  }
}

/** A dispatcher target that relays to one of this trigger's topics would feed its own results back in. */
function failOnRelayLoop(props: KafkaTriggerProps, dispatcher: DispatcherAnswers, fail: Fail): void {
  const relay = dispatcher.relay;
  if (!relay || !sameCluster(relay.cluster, props.cluster)) return;
  for (const [prop, topic] of [
    ['responseTopic', relay.responseTopic],
    ['errorTopic', relay.errorTopic],
  ] as const) {
    if (topic !== undefined && props.topics.includes(topic)) {
      fail(
        'topics',
        topic,
        `the target, ${dispatcher.name}, relays to ${topic} (relay.${prop}) on this cluster: ` +
          'every relayed record would be read and dispatched again, a loop. Relay to another topic or read other topics',
      );
    }
  }
}

/** The consumer groups the triggers of an app joined so far, by the app's root construct. */
const claimedGroups = new WeakMap<IConstruct, Array<{ cluster: KafkaCluster; group: string; topic: string; path: string }>>();

/**
 * Fails when a group is already the group of another trigger's mapping on the same cluster in this app: Lambda wants a
 * group unique among the Kafka event sources, and two mappings in one group would each get only some partitions.
 */
export function claimConsumerGroups(trigger: IConstruct, props: KafkaTriggerProps, groups: string[], fail: Fail): void {
  const { cluster, topics } = props;
  const claimed = claimedGroups.get(trigger.node.root) ?? [];
  claimedGroups.set(trigger.node.root, claimed);
  groups.forEach((group, i) => {
    if (Token.isUnresolved(group)) return;
    const other = claimed.find((c) => c.group === group && c.path !== trigger.node.path && sameCluster(c.cluster, cluster));
    if (other)
      fail(
        pinnedGroup(props, topics[i]) === undefined ? 'consumerGroupId' : 'consumerGroupIds',
        pinnedGroup(props, topics[i]) === undefined ? group : { [topics[i]]: group },
        `${group} is already the consumer group of ${other.path} (topic ${other.topic}) on the same cluster; ` +
          'a group id must be unique among your Kafka event sources: give this topic another group',
      );
    claimed.push({ cluster, group, topic: topics[i], path: trigger.node.path });
  });
}

/** Whether two cluster descriptions name the same cluster: the same object, brokers or MSK cluster. */
function sameCluster(a: KafkaCluster, b: KafkaCluster): boolean {
  if (a === b) return true;
  const arn = (c: KafkaCluster) => c.mskProps?.cluster?.attrArn ?? c.mskProps?.clusterArn;
  if (arn(a) !== undefined && arn(a) === arn(b)) return true;
  const servers = (c: KafkaCluster) => (Token.isUnresolved(c.bootstrapServers) ? [] : (c.bootstrapServers ?? []));
  return servers(a).some((s) => servers(b).includes(s));
}

/** The connector keys of failures, the response and error topics, and the AWS credentials. */
import { call, enumMember, THIS } from './codegen';
import { Derivation } from './derivation';

const ON_ERROR: Record<string, string> = { fail: 'FAIL', stop: 'FAIL', log: 'LOG', ignore: 'DROP', drop: 'DROP' };

/** onError from the connector's own key, else from errors.tolerance; the error topic. */
export function errorKeys(d: Derivation): void {
  const own = d.kind === 'confluent' ? 'behavior.on.error' : 'aws.lambda.invocation.failure.mode';
  const errorTopic =
    d.get('aws.lambda.error.topic') ?? d.get('reporter.error.topic.name') ?? d.get('errors.deadletterqueue.topic.name');
  const tolerance = d.get('errors.tolerance')?.toLowerCase();
  const given = d.get(own)?.toLowerCase();
  let behavior = given !== undefined ? ON_ERROR[given] : undefined;
  if (given !== undefined && behavior === undefined)
    d.row(own, 'not supported', `unknown value; onError takes FAIL, LOG or DROP (FAIL kept)`);
  if (behavior === undefined) behavior = tolerance === 'all' ? (errorTopic ? 'LOG' : 'DROP') : 'FAIL';
  d.set('onError', enumMember('DispatcherErrorBehavior', behavior), own, ...(d.has(own) ? [] : ['errors.tolerance']));
  const why: Record<string, string> = {
    FAIL: 'FAIL: the batch fails and the mapping retries it (done records skipped), as the connector stopped the partition',
    LOG: 'LOG: the failure goes to the error topic (or the log), the records count as done',
    DROP: 'DROP: the failure is counted, the records count as done',
  };
  d.mapped(own, 'onError', why[behavior]);
  d.row(
    'errors.tolerance',
    d.has(own) ? 'not needed' : 'mapped',
    d.has(own)
      ? `records that cannot be decoded take onError's path (${behavior}) too`
      : `${why[behavior]}; records that cannot be decoded take the same path`,
    d.has(own) ? undefined : 'onError',
  );
  if (errorTopic !== undefined) {
    const from = ['aws.lambda.error.topic', 'reporter.error.topic.name', 'errors.deadletterqueue.topic.name'].filter(
      (k) => d.get(k) === errorTopic,
    );
    d.set('errorTopic', errorTopic, ...from);
  }
  for (const k of ['aws.lambda.error.topic', 'reporter.error.topic.name'])
    d.mapped(k, 'errorTopic', "the Confluent connector's error record schema (key topic, partition, startOffset, endOffset)");
  d.row(
    'errors.deadletterqueue.topic.name',
    errorTopic === d.get('errors.deadletterqueue.topic.name') ? 'mapped' : 'not needed',
    errorTopic === d.get('errors.deadletterqueue.topic.name')
      ? "failed records go to it as error records (the Confluent error schema with the input payload), not as Connect's copy of the record"
      : 'the error topic above takes the failures',
    errorTopic === d.get('errors.deadletterqueue.topic.name') ? 'errorTopic' : undefined,
  );
  for (const k of d.open('errors.deadletterqueue.'))
    d.row(
      k,
      'not needed',
      'the construct does not create topics, and error records carry the source coordinates in their key and headers',
    );
  for (const k of d.open('errors.log.'))
    d.row(
      k,
      'not needed',
      "the dispatcher logs each failure (LOG without an error topic) to its log group, without the record's bytes",
    );
  for (const k of d.open('errors.retry.'))
    d.row(
      k,
      'not supported',
      "Connect's retries of a failed conversion; nearest: a failed batch is retried by the mapping, and the dispatcher retries throttled and 5xx invocations (KafkaDispatcher maxAttempts, default 5)",
    );
}

/** The response topic and the producer settings of both relayed topics. */
export function relayKeys(d: Derivation): void {
  const response = d.get('aws.lambda.response.topic') ?? d.get('reporter.result.topic.name');
  if (response !== undefined) d.set('responseTopic', response, 'aws.lambda.response.topic', 'reporter.result.topic.name');
  for (const k of ['aws.lambda.response.topic', 'reporter.result.topic.name'])
    d.mapped(k, 'responseTopic', "each record's result, keyed {topic, partition, offset}, as the connector wrote it");
  if (response !== undefined && d.get('aws.lambda.invocation.type')?.toLowerCase() === 'async')
    d.notes.push('An asynchronous invocation has no result to relay: the response topic stays empty, as with the connector.');
  for (const k of d.open(/^(aws\.lambda\.(response|error)|reporter)\.bootstrap\.servers$/)) {
    d.row(
      k,
      'not needed',
      'the relay writes to the source cluster (its brokers and auth); nearest for another cluster: KafkaDispatcher with relay.cluster of its own',
    );
  }
  for (const k of d.open(/^(aws\.lambda\.(response|error)|reporter)\./)) {
    d.row(
      k,
      'not needed',
      k.startsWith('reporter.') && /topic\.(replication\.factor|partitions)$/.test(k)
        ? 'the construct does not create topics: create it with this setting'
        : "the relay's producer is configured by the construct (idempotent, acks=all); its auth is relayAuth or auth",
    );
  }
}

/** How the connector reached AWS: the dispatcher's role does instead; an assumed role stays. */
export function credentialKeys(d: Derivation): void {
  const cls = d.get('aws.credentials.provider.class');
  const roleKey = d.open('aws.credentials.provider.').find((k) => /role\.arn$/.test(k));
  const externalKey = d.open('aws.credentials.provider.').find((k) => /external\.id$/.test(k));
  if (roleKey && d.get(roleKey)) {
    d.set('targetRole', call('iam.Role.fromRoleArn', THIS, 'TargetRole', d.get(roleKey)!), roleKey);
    d.mapped(
      roleKey,
      'targetRole',
      "the dispatcher assumes it to invoke the target; its trust policy must admit the dispatcher's role",
    );
    d.notes.push(`Add the dispatcher's role (connector.dispatcher!.function.role) to the trust policy of ${d.get(roleKey)}.`);
  }
  if (externalKey && d.get(externalKey)) {
    d.set('targetRoleExternalId', d.get(externalKey)!, externalKey);
    d.mapped(externalKey, 'targetRoleExternalId');
  }
  d.row(
    'aws.credentials.provider.class',
    'not needed',
    roleKey
      ? 'the dispatcher assumes targetRole itself'
      : `the dispatcher's execution role is granted lambda:InvokeFunction on the target${cls && !/Default/.test(cls) ? ` (instead of ${cls})` : ''}`,
  );
  for (const k of d.open('aws.credentials.provider.')) d.row(k, 'not needed', 'the dispatcher names its own role sessions');
  for (const k of ['aws.access.key.id', 'aws.secret.access.key', 'aws.session.token'])
    d.row(k, 'not needed', "the dispatcher's role replaces access keys: deactivate the key once the connector is deleted");
}

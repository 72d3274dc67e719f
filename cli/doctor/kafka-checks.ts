/** Steps 3 to 5 of the doctor: authentication, the topics, the consumer group; with a kafkajs admin client. */
import { X509Certificate } from 'node:crypto';
import { Admin, Kafka, KafkaConfig, logCreator, logLevel } from 'kafkajs';
import type { DoctorOptions, WriteTopic } from './options';
import { CheckResult, PROBLEM } from './result';

/** Who the cluster sees: the principal its ACLs name. */
export interface Identity {
  readonly principal: string;
  readonly how: string;
}

export function identityOf(kafka: KafkaConfig): Identity {
  const sasl = kafka.sasl as { mechanism: string; username?: string } | undefined;
  if (sasl) return { principal: `User:${sasl.username}`, how: `SASL ${sasl.mechanism.toUpperCase()} as ${sasl.username}` };
  const cert = typeof kafka.ssl === 'object' ? kafka.ssl.cert : undefined;
  if (cert) {
    // Kafka's default principal of a client certificate: its subject in RFC 2253 order (most specific first).
    const dn = new X509Certificate(String(cert)).subject.split('\n').reverse().join(',');
    return { principal: `User:${dn}`, how: `mTLS as ${dn}` };
  }
  return { principal: 'User:ANONYMOUS', how: `no authentication (${kafka.ssl ? 'SSL' : 'PLAINTEXT'}), as ANONYMOUS` };
}

/** The error's Kafka error type (kafkajs wraps it when it gives up retrying). */
export function errorType(e: unknown): string | undefined {
  const err = e as { type?: string; originalError?: unknown; cause?: unknown };
  return err?.type ?? (err?.originalError ? errorType(err.originalError) : err?.cause ? errorType(err.cause) : undefined);
}

/**
 * What kafkajs learns but does not throw: its coordinator lookup tries each broker and throws "Failed to find group
 * coordinator" without the brokers' answers (e.g. GROUP_AUTHORIZATION_FAILED), which only its debug log carries.
 */
export interface Diagnostics {
  coordinatorError?: string;
}

/** Reads the coordinator lookup's errors from kafkajs's log entries; nothing is printed. */
function diagnosticLog(d: Diagnostics): logCreator {
  return () => (entry) => {
    const error = (entry.log as { error?: { type?: string } }).error;
    if (entry.log.message === 'Tried to find group coordinator' && error?.type) d.coordinatorError = error.type;
  };
}

export interface Session {
  readonly admin: Admin;
  readonly diagnostics: Diagnostics;
  /** The brokers as the cluster advertises them (host:port): the addresses the client uses after bootstrapping. */
  readonly advertised: string[];
}

export async function authenticate(
  o: DoctorOptions,
  servers: string[],
  who: Identity,
): Promise<{ result: CheckResult; session?: Session }> {
  const diagnostics: Diagnostics = {};
  const admin = new Kafka({
    ...o.kafka,
    brokers: servers,
    logLevel: logLevel.DEBUG,
    logCreator: diagnosticLog(diagnostics),
    connectionTimeout: o.timeoutMs,
    authenticationTimeout: o.timeoutMs,
    requestTimeout: o.timeoutMs,
    retry: { retries: 0 },
  }).admin({ retry: { retries: 0 } });
  const base = { step: 'auth' as const, subject: who.how };
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    const advertised = cluster.brokers.map((b) => `${b.host}:${b.port}`);
    return {
      result: { ...base, status: 'passed', detail: `cluster ${cluster.clusterId}, brokers advertised: ${advertised.join(', ')}` },
      session: { admin, diagnostics, advertised },
    };
  } catch (e) {
    await admin.disconnect().catch(() => undefined);
    return { result: { ...base, status: 'failed', ...authFailure(o.kafka, e as Error) } };
  }
}

function authFailure(kafka: KafkaConfig, e: Error): Pick<CheckResult, 'detail' | 'problem' | 'fix'> {
  const message = e.message;
  if (e.name === 'KafkaJSSASLAuthenticationError' || errorType(e) === 'SASL_AUTHENTICATION_FAILED')
    return {
      detail: `the broker refused the credentials: ${message}`,
      problem: PROBLEM.saslAuthenticationFailed,
      fix:
        "check the username and password (the mapping's SASL secret), and that the user exists for this mechanism " +
        '(kafka-configs.sh --describe --entity-type users)',
    };
  if (typeof kafka.ssl === 'object' && kafka.ssl.cert && !kafka.sasl)
    return {
      detail: `the broker closed the connection: ${message}`,
      problem: PROBLEM.serverFailedToAuthenticateLambda,
      fix: "the client certificate must be signed by a CA in the broker's trust store, and the listener must be an SSL one that asks for it",
    };
  return {
    detail: `${e.name}: ${message}`,
    problem: PROBLEM.connection,
    fix: 'check that the listener speaks what the flags say (--tls, --sasl), and that the advertised listeners are reachable',
  };
}

/** Each source topic and each topic written to exists (its partitions); those described, as `topic:NAME`. */
export async function checkTopics(admin: Admin, o: DoctorOptions, who: Identity, report: (r: CheckResult) => void) {
  const found = new Set<string>();
  const all: { topic: string; role: 'source' | WriteTopic['role'] }[] = [
    ...o.topics.map((topic) => ({ topic, role: 'source' as const })),
    ...o.writeTopics,
  ];
  for (const { topic, role } of all) {
    const subject = `${topic} (${role})`;
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      found.add(`topic:${topic}`);
      report({ step: 'topics', subject, status: 'passed', detail: `${topics[0].partitions.length} partitions` });
    } catch (e) {
      report({ step: 'topics', subject, status: 'failed', ...topicFailure(topic, role, who, e as Error) });
    }
  }
  return found;
}

function topicFailure(topic: string, role: string, who: Identity, e: Error): Pick<CheckResult, 'detail' | 'problem' | 'fix'> {
  const type = errorType(e);
  if (type === 'UNKNOWN_TOPIC_OR_PARTITION')
    return {
      detail: 'the topic does not exist',
      problem: role === 'source' ? PROBLEM.topicNotFound : undefined,
      fix: `create it (kafka-topics.sh --create --topic ${topic}), or correct the name`,
    };
  if (type === 'TOPIC_AUTHORIZATION_FAILED')
    return {
      detail: `${who.principal} may not describe it (whether it exists cannot be told)`,
      problem: role === 'source' ? PROBLEM.clusterFailedToAuthorize : undefined,
      fix: `allow ${role === 'source' ? 'Describe and Read' : 'Describe and Write'} on topic ${topic} to ${who.principal}`,
    };
  return { detail: `${e.name}: ${e.message}`, problem: PROBLEM.connection };
}

/** The group can be described and has no active members: they would share the topics' partitions with the mapping. */
export async function checkGroup(
  { admin, diagnostics }: Session,
  o: DoctorOptions,
  who: Identity,
  described: Set<string>,
): Promise<CheckResult> {
  const group = o.consumerGroupId;
  if (!group)
    return {
      step: 'group',
      subject: '(no consumer group id)',
      status: 'unchecked',
      detail: 'no ConsumerGroupId in the template and no --consumer-group-id: a mapping without one uses its UUID',
      fix: "give --consumer-group-id (the mapping's ConsumerGroupId, or its UUID once deployed)",
    };
  const base = { step: 'group' as const, subject: group };
  try {
    const g = await describeGroup(admin, group, o.timeoutMs, diagnostics);
    const code = (g as { errorCode?: number }).errorCode;
    if (code) throw Object.assign(new Error(`error code ${code}`), { type: groupErrorType(code) });
    described.add(`group:${group}`);
    if (g.members.length === 0)
      return {
        ...base,
        status: 'passed',
        detail: g.state === 'Dead' ? 'no such group yet: the mapping creates it' : `${g.state}, no active members`,
      };
    const members = g.members.map((m) => `${m.clientId}@${m.clientHost}`).join(', ');
    return {
      ...base,
      status: 'failed',
      detail: `${g.state}, ${g.members.length} active member(s): ${members}; they would share the topics' partitions with the mapping`,
      fix: "stop those consumers, or give the mapping a group of its own (ConsumerGroupId); a deployed mapping's own pollers are expected here",
    };
  } catch (e) {
    if (errorType(e) === 'GROUP_AUTHORIZATION_FAILED' || diagnostics.coordinatorError === 'GROUP_AUTHORIZATION_FAILED')
      return {
        ...base,
        status: 'failed',
        detail: `${who.principal} may not describe the group`,
        problem: PROBLEM.clusterFailedToAuthorize,
        fix: `allow Describe and Read on group ${group} to ${who.principal}`,
      };
    const type = errorType(e);
    return {
      ...base,
      status: 'failed',
      detail: `${(e as Error).name}: ${(e as Error).message}${type ? ` (${type}, still after ${o.timeoutMs / 1000}s)` : ''}`,
      problem: type ? undefined : PROBLEM.connection,
      fix: type
        ? 'the group coordinator did not settle: look at the brokers (__consumer_offsets partitions and their leaders)'
        : undefined,
    };
  }
}

/** A fresh cluster creates its offsets topic on the first coordinator lookup: until it is led, the lookup is asked again. */
async function describeGroup(admin: Admin, group: string, timeoutMs: number, diagnostics: Diagnostics) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      diagnostics.coordinatorError = undefined;
      return (await admin.describeGroups([group])).groups[0];
    } catch (e) {
      const settling =
        diagnostics.coordinatorError !== 'GROUP_AUTHORIZATION_FAILED' &&
        ((e as Error).name === 'KafkaJSGroupCoordinatorNotFound' ||
          ['COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS', 'NOT_COORDINATOR'].includes(errorType(e) ?? ''));
      if (!settling || Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function groupErrorType(code: number): string {
  return code === 30 ? 'GROUP_AUTHORIZATION_FAILED' : `error code ${code}`;
}

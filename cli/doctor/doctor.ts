/**
 * cdk-kafka-lambda doctor: checks, in order, what a Kafka event source mapping will need from its cluster; a failed
 * step skips the steps that need it. The schema registry's check needs none of the others.
 */
import { checkAcls } from './acls';
import { authenticate, checkGroup, checkTopics, Identity, identityOf, Session } from './kafka-checks';
import { checkClientCertificate, Endpoint, handshake, reachAdvertised, reachServer, TlsSettings } from './network';
import type { DoctorOptions } from './options';
import { checkRegistry, secretsManagerReader, SecretReader } from './registry';
import type { CheckResult, Step } from './result';

export interface DoctorDeps {
  /** Reads the schema registry's access secrets; default Secrets Manager at --aws-endpoint. */
  readonly readSecret?: SecretReader;
}

export async function runDoctor(
  o: DoctorOptions,
  report: (r: CheckResult) => void,
  deps: DoctorDeps = {},
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const emit = (r: CheckResult) => {
    results.push(r);
    report(r);
  };
  await kafkaSteps(o, emit);
  if (o.schemaRegistry)
    emit(await checkRegistry(o.schemaRegistry, deps.readSecret ?? secretsManagerReader(o.awsEndpoint, o.region), o.timeoutMs));
  return results;
}

function skip(emit: (r: CheckResult) => void, steps: Step[], needs: string): void {
  for (const step of steps) emit({ step, subject: '', status: 'skipped', detail: `skipped (needs ${needs})` });
}

async function kafkaSteps(o: DoctorOptions, emit: (r: CheckResult) => void): Promise<void> {
  const reachable: Endpoint[] = [];
  for (const server of o.brokers) {
    const { result, endpoint } = await reachServer(server, o.timeoutMs);
    emit(result);
    if (endpoint) reachable.push(endpoint);
  }
  if (reachable.length === 0)
    return skip(emit, ['tls', 'auth', 'topics', 'group', 'acls'], 'a bootstrap server reachable over TCP');
  if (o.kafka.ssl) {
    const settings: TlsSettings = typeof o.kafka.ssl === 'object' ? (o.kafka.ssl as TlsSettings) : {};
    const invalid = checkClientCertificate(settings);
    const handshakes = invalid ? [invalid] : await Promise.all(reachable.map((ep) => handshake(ep, settings, o.timeoutMs)));
    handshakes.forEach(emit);
    if (handshakes.some((r) => r.status !== 'passed'))
      return skip(emit, ['auth', 'topics', 'group', 'acls'], 'a verified TLS connection');
  }
  const who = identityOf(o.kafka);
  const servers = reachable.map((ep) => ep.server);
  const { result, session } = await authenticate(o, servers, who);
  emit(result);
  if (!session) return skip(emit, ['topics', 'group', 'acls'], 'authentication');
  (await reachAdvertised(session.advertised, servers, o.timeoutMs)).forEach(emit);
  try {
    await clusterSteps(session, o, who, emit);
  } finally {
    await session.admin.disconnect().catch(() => undefined);
  }
}

async function clusterSteps(session: Session, o: DoctorOptions, who: Identity, emit: (r: CheckResult) => void) {
  const described = await checkTopics(session.admin, o, who, emit);
  emit(await checkGroup(session, o, who, described));
  (await checkAcls(session.admin, o, who, described)).forEach(emit);
}

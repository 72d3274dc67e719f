/**
 * Step 6 of the doctor: the ACLs the mapping's user needs, read with DescribeAcls and weighed as Kafka's authorizer
 * weighs them (a DENY wins; ALL and, for Describe, Read/Write/Delete/Alter imply the operation; literal, wildcard and
 * prefixed resource patterns). Where DescribeAcls is denied, Describe on a topic is what step 4 proved by describing
 * it (and Describe on the group, step 5); the rest "could not be checked": a produce to learn about Write would write to the user's topics.
 */
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  Admin,
  ConfigResourceTypes,
  ResourcePatternTypes,
} from 'kafkajs';
import type { DoctorOptions } from './options';
import { errorType, Identity } from './kafka-checks';
import { CheckResult, PROBLEM } from './result';

interface Need {
  readonly resource: 'topic' | 'group';
  readonly name: string;
  readonly operation: 'Describe' | 'Read' | 'Write';
  /** What the mapping shows, or what fails, without it. */
  readonly problem?: string;
  readonly without: string;
}

interface Acl {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly operation: number;
  readonly permissionType: number;
}

const OPERATION = { Describe: AclOperationTypes.DESCRIBE, Read: AclOperationTypes.READ, Write: AclOperationTypes.WRITE };
const RESOURCE = { topic: AclResourceTypes.TOPIC, group: AclResourceTypes.GROUP };
const IMPLY_DESCRIBE = [AclOperationTypes.READ, AclOperationTypes.WRITE, AclOperationTypes.DELETE, AclOperationTypes.ALTER];

export function needs(o: DoctorOptions): Need[] {
  const source = (name: string, operation: Need['operation']): Need => ({
    resource: 'topic',
    name,
    operation,
    problem: PROBLEM.clusterFailedToAuthorize,
    without: 'the mapping cannot read the topic',
  });
  return [
    ...o.topics.flatMap((t) => [source(t, 'Describe'), source(t, 'Read')]),
    ...(o.consumerGroupId
      ? (['Describe', 'Read'] as const).map((operation) => ({
          resource: 'group' as const,
          name: o.consumerGroupId!,
          operation,
          problem: PROBLEM.clusterFailedToAuthorize,
          without: 'the mapping cannot join its group or commit offsets',
        }))
      : []),
    ...o.writeTopics.map((w) => ({
      resource: 'topic' as const,
      name: w.topic,
      operation: 'Write' as const,
      without:
        w.role === 'on-failure'
          ? 'the mapping cannot deliver failed batches to it'
          : `the dispatcher's relay cannot send its ${w.role} records`,
    })),
  ];
}

export async function checkAcls(admin: Admin, o: DoctorOptions, who: Identity, described: Set<string>): Promise<CheckResult[]> {
  let acls: Acl[];
  try {
    acls = flatten(
      await admin.describeAcls({
        resourceType: AclResourceTypes.ANY,
        resourcePatternType: ResourcePatternTypes.ANY,
        operation: AclOperationTypes.ANY,
        permissionType: AclPermissionTypes.ANY,
      } as Parameters<Admin['describeAcls']>[0]),
    );
  } catch (e) {
    return withoutDescribeAcls(o, who, described, e as Error);
  }
  const broker = await brokerAuthorizerConfig(admin);
  return needs(o).map((n) => weigh(n, acls, who, broker, described));
}

function flatten(r: Awaited<ReturnType<Admin['describeAcls']>>): Acl[] {
  return r.resources.flatMap((res) =>
    res.acls.map((a) => ({
      resourceType: res.resourceType,
      resourceName: res.resourceName,
      patternType: res.resourcePatternType,
      principal: a.principal,
      operation: a.operation,
      permissionType: a.permissionType,
    })),
  );
}

function withoutDescribeAcls(o: DoctorOptions, who: Identity, described: Set<string>, e: Error): CheckResult[] {
  const type = errorType(e);
  return needs(o).map((n) => {
    const subject = subjectOf(n, who);
    if (type === 'SECURITY_DISABLED')
      return { step: 'acls', subject, status: 'passed', detail: 'the cluster has no authorizer: every operation is allowed' };
    if (n.operation === 'Describe' && described.has(`${n.resource}:${n.name}`))
      return {
        step: 'acls',
        subject,
        status: 'passed',
        detail: `DescribeAcls denied; the ${n.resource} was described in step ${n.resource === 'topic' ? 4 : 5}`,
      };
    return {
      step: 'acls',
      subject,
      status: 'unchecked',
      detail: `could not be checked: DescribeAcls ${type ? `denied (${type})` : `failed (${e.message})`}`,
      fix: `allow Describe on the cluster to ${who.principal} so doctor can read the ACLs, or check this ACL on the cluster`,
    };
  });
}

const subjectOf = (n: Need, who: Identity) => `${n.operation} on ${n.resource} ${n.name} for ${who.principal}`;

/** The broker's super.users and allow.everyone.if.no.acl.found, where DescribeConfigs of the broker is allowed. */
async function brokerAuthorizerConfig(admin: Admin): Promise<Map<string, string | null> | undefined> {
  try {
    const { brokers } = await admin.describeCluster();
    const names = ['super.users', 'allow.everyone.if.no.acl.found'];
    const r = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.BROKER, name: String(brokers[0].nodeId), configNames: names }],
      includeSynonyms: false,
    });
    return new Map(r.resources[0].configEntries.map((c) => [c.configName, c.configValue]));
  } catch {
    return undefined;
  }
}

function matches(acl: Acl, n: Need, principal: string): boolean {
  if (acl.resourceType !== RESOURCE[n.resource]) return false;
  const named =
    acl.patternType === ResourcePatternTypes.PREFIXED
      ? n.name.startsWith(acl.resourceName)
      : acl.resourceName === n.name || acl.resourceName === '*';
  return named && (acl.principal === principal || acl.principal === 'User:*');
}

function grants(acl: Acl, n: Need): boolean {
  const op = OPERATION[n.operation];
  if (acl.operation === AclOperationTypes.ALL || acl.operation === op) return true;
  return (
    op === AclOperationTypes.DESCRIBE && acl.permissionType === AclPermissionTypes.ALLOW && IMPLY_DESCRIBE.includes(acl.operation)
  );
}

function weigh(
  n: Need,
  acls: Acl[],
  who: Identity,
  broker: Map<string, string | null> | undefined,
  described: Set<string>,
): CheckResult {
  const subject = subjectOf(n, who);
  const base = { step: 'acls' as const, subject };
  const denied = {
    ...base,
    status: 'failed' as const,
    problem: n.problem,
    fix: `allow ${n.operation} on ${n.resource} ${n.name} to ${who.principal} (kafka-acls.sh --add --allow-principal ${who.principal} --operation ${n.operation} --${n.resource} ${n.name})`,
  };
  const superUsers = (broker?.get('super.users') ?? '').split(';').map((s) => s.trim());
  if (superUsers.includes(who.principal)) return { ...base, status: 'passed', detail: `${who.principal} is a super user` };
  const mine = acls.filter((a) => matches(a, n, who.principal) && grants(a, n));
  if (mine.some((a) => a.permissionType === AclPermissionTypes.DENY))
    return {
      ...denied,
      detail: `a DENY ACL refuses it: ${n.without}`,
      fix: `remove the DENY ACL on ${n.resource} ${n.name} for ${who.principal}`,
    };
  const allow = mine.find((a) => a.permissionType === AclPermissionTypes.ALLOW);
  if (allow) return { ...base, status: 'passed', detail: `allowed by an ACL on ${n.resource} ${allow.resourceName}` };
  const anyOnResource = acls.some(
    (a) => a.resourceType === RESOURCE[n.resource] && matches({ ...a, principal: 'User:*' }, n, 'User:*'),
  );
  if (anyOnResource) return { ...denied, detail: `no ACL allows it (ACLs name the ${n.resource} for others only): ${n.without}` };
  const everyone = broker?.get('allow.everyone.if.no.acl.found');
  if (everyone === 'true')
    return { ...base, status: 'passed', detail: 'no ACL names it and the broker sets allow.everyone.if.no.acl.found=true' };
  if (everyone === 'false') return { ...denied, detail: `no ACL names it (allow.everyone.if.no.acl.found=false): ${n.without}` };
  if (n.operation === 'Describe' && described.has(`${n.resource}:${n.name}`))
    return {
      ...base,
      status: 'passed',
      detail: `no ACL names it, and the ${n.resource} was described in step ${n.resource === 'topic' ? 4 : 5}`,
    };
  return {
    ...base,
    status: 'unchecked',
    detail:
      "could not be checked: no ACL names it, and the broker's allow.everyone.if.no.acl.found is not readable (DescribeConfigs reports it as sensitive)",
    fix: `add an ACL allowing ${n.operation} on ${n.resource} ${n.name} to ${who.principal}, which settles it either way`,
  };
}

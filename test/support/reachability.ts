/**
 * Reachability of AWS APIs and brokers from inside a VPC, proven from a synthesized template alone.
 *
 * Callers: each Lambda function with a VpcConfig (its calls derived from the IAM statements of its role, except the
 * event source's policy) and each Kafka event source mapping whose network interfaces sit in a VPC (its calls
 * derived from the mapping: invoke and assume-role as the Lambda service, secrets and destination as the role).
 * A call has a route when an endpoint of its service in the caller's VPC admits the principal, action and resource
 * and the security groups let 443 through both ways (gateway endpoints: the caller's route tables), or the caller's
 * route tables send 0.0.0.0/0 to a NAT gateway, or the construct recorded the explicit choice of a NAT
 * (`cdk-kafka-lambda:egress`). Broker ports must be open both ways between the caller and the brokers' groups.
 */

type Json = any;

export interface Call {
  readonly service: string;
  readonly action: string;
  readonly resource: Json;
  /** { role: logicalId } or { service: 'lambda.amazonaws.com' }. */
  readonly principal: { role?: string; service?: string };
}

export interface CallerReport {
  readonly caller: string;
  readonly calls: string[];
  readonly failures: string[];
}

/** Services whose permissions are used by AWS itself on the caller's behalf, not called from the VPC. */
const NOT_CALLED_FROM_VPC = new Set(['logs', 'ec2', 'kafka-cluster', 'kafka', 'xray']);
const DESTINATION_SENDS = ['sqs:SendMessage', 'sns:Publish', 's3:PutObject'];

const refOf = (v: Json): string | undefined => v?.Ref ?? (Array.isArray(v?.['Fn::GetAtt']) ? v['Fn::GetAtt'][0] : undefined);
const same = (a: Json, b: Json) => JSON.stringify(a) === JSON.stringify(b);
const glob = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  ).test(value);

/** The service name of an endpoint, "com.amazonaws.<region>.<service>" → "<service>". */
function endpointService(name: Json): string {
  const flat =
    typeof name === 'string'
      ? name
      : (name?.['Fn::Join']?.[1] ?? []).map((p: Json) => (typeof p === 'string' ? p : '<r>')).join('');
  return flat.split('.').slice(3).join('.');
}

export function checkReachability(template: Json): CallerReport[] {
  const resources: { [id: string]: Json } = template.Resources ?? {};
  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);

  // Subnets, route tables, NAT routes
  const subnetVpc: { [subnet: string]: string } = {};
  for (const [id, r] of ofType('AWS::EC2::Subnet')) subnetVpc[id] = refOf(r.Properties.VpcId)!;
  const subnetTable: { [subnet: string]: string } = {};
  for (const [, r] of ofType('AWS::EC2::SubnetRouteTableAssociation'))
    subnetTable[refOf(r.Properties.SubnetId)!] = refOf(r.Properties.RouteTableId)!;
  const natTables = new Set(
    ofType('AWS::EC2::Route')
      .filter(([, r]) => r.Properties.NatGatewayId && r.Properties.DestinationCidrBlock === '0.0.0.0/0')
      .map(([, r]) => refOf(r.Properties.RouteTableId)!),
  );

  // Security groups and their rules
  const groupVpc: { [group: string]: string } = {};
  type Rule = {
    group: string;
    egress: boolean;
    from: number;
    to: number;
    peer: { group?: string; cidr?: string; prefixList?: boolean };
  };
  const rules: Rule[] = [];
  const addRule = (group: string, egress: boolean, p: Json) => {
    const proto = String(p.IpProtocol);
    const all = proto === '-1';
    if (!all && proto !== 'tcp' && proto !== '6') return;
    const peerGroup =
      refOf(p.SourceSecurityGroupId ?? p.DestinationSecurityGroupId) ?? p.SourceSecurityGroupId ?? p.DestinationSecurityGroupId;
    const cidr = p.CidrIp === undefined ? undefined : typeof p.CidrIp === 'string' ? p.CidrIp : `vpc:${refOf(p.CidrIp)}`;
    rules.push({
      group,
      egress,
      from: all ? 0 : p.FromPort,
      to: all ? 65535 : p.ToPort,
      peer: { group: peerGroup, cidr, prefixList: p.DestinationPrefixListId !== undefined },
    });
  };
  for (const [id, r] of ofType('AWS::EC2::SecurityGroup')) {
    groupVpc[id] = refOf(r.Properties.VpcId)!;
    for (const p of r.Properties.SecurityGroupIngress ?? []) addRule(id, false, p);
    for (const p of r.Properties.SecurityGroupEgress ?? []) addRule(id, true, p);
  }
  for (const [, r] of ofType('AWS::EC2::SecurityGroupIngress'))
    addRule(refOf(r.Properties.GroupId) ?? r.Properties.GroupId, false, r.Properties);
  for (const [, r] of ofType('AWS::EC2::SecurityGroupEgress'))
    addRule(refOf(r.Properties.GroupId) ?? r.Properties.GroupId, true, r.Properties);
  const groupKey = (g: Json) => refOf(g) ?? g;
  /** Whether `group` lets `port` through in the direction, to or from one of `peers` (groups), or the CIDR kinds given. */
  const opens = (
    group: string,
    egress: boolean,
    port: number,
    peers: string[],
    vpc: string | undefined,
    cidrs: { any?: boolean; vpc?: boolean; prefixList?: boolean },
  ) =>
    rules.some(
      (r) =>
        r.group === group &&
        r.egress === egress &&
        r.from <= port &&
        port <= r.to &&
        ((r.peer.group !== undefined && peers.includes(r.peer.group)) ||
          (cidrs.any && r.peer.cidr === '0.0.0.0/0') ||
          (cidrs.vpc && (r.peer.cidr === '0.0.0.0/0' || (vpc !== undefined && r.peer.cidr === `vpc:${vpc}`))) ||
          (cidrs.prefixList && (r.peer.prefixList || r.peer.cidr === '0.0.0.0/0'))),
    );

  // Endpoints
  const endpoints = ofType('AWS::EC2::VPCEndpoint').map(([id, r]) => ({
    id,
    service: endpointService(r.Properties.ServiceName),
    gateway: (r.Properties.VpcEndpointType ?? 'Gateway') === 'Gateway',
    vpc: refOf(r.Properties.VpcId),
    groups: (r.Properties.SecurityGroupIds ?? []).map(groupKey),
    routeTables: (r.Properties.RouteTableIds ?? []).map(refOf),
    privateDns: r.Properties.PrivateDnsEnabled === true,
    policy: r.Properties.PolicyDocument,
  }));

  const reports: CallerReport[] = [];
  const check = (
    caller: string,
    vpc: string | undefined,
    groups: string[],
    subnets: string[] | undefined,
    nat: boolean,
    calls: Call[],
    brokers?: { ports: number[]; securityGroupIds: Json[] },
  ) => {
    const failures: string[] = [];
    const tables = subnets?.map((s) => subnetTable[s]);
    const viaNat = nat || (tables !== undefined && tables.length > 0 && tables.every((t) => natTables.has(t)));
    for (const call of calls) {
      const name = `${call.action} on ${JSON.stringify(call.resource)}`;
      const candidates = endpoints.filter((e) => e.service === call.service && e.vpc === vpc);
      if (candidates.length === 0) {
        if (viaNat && groups.some((g) => opens(g, true, 443, [], vpc, { any: true }))) continue;
        failures.push(
          `${caller}: ${name}: no ${call.service} endpoint in its VPC and no NAT route${nat ? ' or 443 egress' : ''}`,
        );
        continue;
      }
      const blocked: string[] = [];
      const ok = candidates.some((e) => {
        const why: string[] = [];
        if (!allows(e.policy, call)) why.push(`the policy of ${e.id} does not admit ${JSON.stringify(call.principal)}`);
        if (e.gateway) {
          if (tables === undefined || !tables.every((t) => e.routeTables.includes(t)))
            why.push(`${e.id} is not on the route tables of its subnets`);
          if (!groups.some((g) => opens(g, true, 443, [], vpc, { prefixList: true })))
            why.push('its security groups have no 443 egress to the prefix list');
        } else {
          if (!e.privateDns) why.push(`${e.id} has no private DNS`);
          if (!e.groups.some((eg: string) => groups.some((g) => opens(eg, false, 443, [g], vpc, { vpc: true }))))
            why.push(`${e.id}'s security groups take no 443 from ${groups.join(', ')}`);
          if (!groups.some((g) => opens(g, true, 443, e.groups, vpc, { vpc: true })))
            why.push(`${groups.join(', ')} send no 443 to ${e.id}`);
        }
        blocked.push(...why);
        return why.length === 0;
      });
      if (!ok) failures.push(`${caller}: ${name}: ${blocked.join('; ')}`);
    }
    if (brokers) {
      const brokerGroups = brokers.securityGroupIds.map(groupKey);
      if (brokerGroups.length === 0) failures.push(`${caller}: brokers: their security groups are not known`);
      for (const port of brokers.ports) {
        for (const b of brokerGroups) {
          // A group that allows all outbound traffic (a user's function's default group) reaches the brokers too.
          if (!groups.some((g) => opens(g, true, port, [b], vpc, { any: true })))
            failures.push(`${caller}: brokers on ${port}: no egress to ${b}`);
          if (!groups.some((g) => opens(b, false, port, [g], vpc, {})))
            failures.push(`${caller}: brokers on ${port}: ${b} takes nothing from ${groups.join(', ')}`);
        }
      }
    }
    reports.push({ caller, calls: calls.map((c) => `${c.action} ${JSON.stringify(c.resource)}`), failures });
  };

  // Functions in a VPC
  const policiesOf = (role: string) =>
    ofType('AWS::IAM::Policy')
      .filter(([id, p]) => !id.includes('SourceAccessPolicy') && (p.Properties.Roles ?? []).some((r: Json) => refOf(r) === role))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  for (const [id, fn] of ofType('AWS::Lambda::Function')) {
    const vpcConfig = fn.Properties.VpcConfig;
    if (!vpcConfig) continue;
    const role = refOf(fn.Properties.Role)!;
    const subnets = vpcConfig.SubnetIds.map(refOf);
    const groups = vpcConfig.SecurityGroupIds.map(groupKey);
    const calls: Call[] = [];
    const roleResource = resources[role];
    if ((roleResource?.Properties?.ManagedPolicyArns ?? []).length) {
      reports.push({ caller: id, calls: [], failures: [`${id}: its role has managed policies, whose calls cannot be derived`] });
      continue;
    }
    for (const s of policiesOf(role)) {
      if (s.Effect !== 'Allow') continue;
      for (const action of [s.Action].flat() as string[]) {
        const service = action.split(':')[0];
        if (NOT_CALLED_FROM_VPC.has(service)) continue;
        if (service === 'kms' && s.Condition?.StringEquals?.['kms:ViaService']) continue;
        for (const resource of [s.Resource].flat()) calls.push({ service, action, resource, principal: { role } });
      }
    }
    const meta = fn.Metadata ?? {};
    check(
      id,
      subnetVpc[subnets[0]],
      groups,
      subnets,
      meta['cdk-kafka-lambda:egress'] === 'nat',
      calls,
      meta['cdk-kafka-lambda:relayBrokers'],
    );
  }

  // Event source mappings in a VPC
  for (const [id, m] of ofType('AWS::Lambda::EventSourceMapping')) {
    const access: Json[] = m.Properties.SourceAccessConfigurations ?? [];
    const groups = access
      .filter((a) => a.Type === 'VPC_SECURITY_GROUP')
      .map((a) => refOf(a.URI?.['Fn::Join']?.[1]?.[1]) ?? a.URI)
      .concat((m.Metadata?.['cdk-kafka-lambda:securityGroups'] ?? []).map(groupKey));
    if (groups.length === 0) continue;
    const subnetsGiven = access
      .filter((a) => a.Type === 'VPC_SUBNET')
      .map((a) => refOf(a.URI?.['Fn::Join']?.[1]?.[1]) ?? JSON.stringify(a.URI));
    const fnRole = (() => {
      const fn = resources[refOf(m.Properties.FunctionName)!];
      return fn ? refOf(fn.Properties.Role) : undefined;
    })();
    const lambdaService = { service: 'lambda.amazonaws.com' };
    const calls: Call[] = [
      { service: 'lambda', action: 'lambda:InvokeFunction', resource: m.Properties.FunctionName, principal: lambdaService },
      {
        service: 'sts',
        action: 'sts:AssumeRole',
        resource: fnRole ? { 'Fn::GetAtt': [fnRole, 'Arn'] } : '*',
        principal: lambdaService,
      },
    ];
    for (const a of access) {
      if (
        [
          'SASL_SCRAM_512_AUTH',
          'SASL_SCRAM_256_AUTH',
          'BASIC_AUTH',
          'CLIENT_CERTIFICATE_TLS_AUTH',
          'SERVER_ROOT_CA_CERTIFICATE',
        ].includes(a.Type)
      ) {
        calls.push({
          service: 'secretsmanager',
          action: 'secretsmanager:GetSecretValue',
          resource: a.URI,
          principal: { role: fnRole },
        });
      }
    }
    // The destination's send, as granted in the event source's policy.
    if (m.Properties.DestinationConfig?.OnFailure?.Destination !== undefined) {
      const statements = ofType('AWS::IAM::Policy')
        .filter(
          ([pid, p]) => pid.includes('SourceAccessPolicy') && (p.Properties.Roles ?? []).some((r: Json) => refOf(r) === fnRole),
        )
        .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
      for (const st of statements) {
        for (const action of [st.Action].flat() as string[]) {
          if (!DESTINATION_SENDS.includes(action)) continue;
          for (const resource of [st.Resource].flat())
            calls.push({ service: action.split(':')[0], action, resource, principal: { role: fnRole } });
        }
      }
    }
    // An imported group's VPC is not in the template: it is the VPC of the endpoints whose groups admit it
    // (a security group rule can only name a group of the same VPC).
    const vpc =
      groupVpc[groups[0]] ??
      endpoints.find((e) => e.groups.some((eg: string) => rules.some((r) => r.group === eg && groups.includes(r.peer.group!))))
        ?.vpc;
    check(
      id,
      vpc,
      groups,
      subnetsGiven.length ? subnetsGiven : undefined,
      m.Metadata?.['cdk-kafka-lambda:egress'] === 'nat',
      calls,
    );
  }
  return reports;
}

/** Whether an endpoint policy admits the call (no policy: full access). */
function allows(policy: Json, call: Call): boolean {
  if (policy === undefined) return true;
  return (policy.Statement ?? []).some(
    (s: Json) =>
      s.Effect === 'Allow' &&
      principalMatches(s.Principal, call.principal) &&
      [s.Action].flat().some((a: string) => glob(a, call.action)) &&
      [s.Resource]
        .flat()
        .some(
          (r: Json) =>
            r === '*' ||
            same(r, call.resource) ||
            (typeof r === 'string' && typeof call.resource === 'string' && glob(r, call.resource)),
        ),
  );
}

function principalMatches(principal: Json, caller: Call['principal']): boolean {
  if (principal === '*' || principal?.AWS === '*') return true;
  if (caller.service) return [principal?.Service].flat().includes(caller.service);
  return [principal?.AWS].flat().some((p: Json) => refOf(p) === caller.role);
}

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Admin, ResourcePatternTypes } from 'kafkajs';
import { main } from '../../cli/cli';
import { checkAcls } from '../../cli/doctor/acls';
import { identityOf } from '../../cli/doctor/kafka-checks';
import { checkClientCertificate, reachAdvertised, reachServer } from '../../cli/doctor/network';
import { DoctorOptions, parseDoctorArgs } from '../../cli/doctor/options';
import { formatResult, summary } from '../../cli/doctor/output';
import { checkRegistry } from '../../cli/doctor/registry';
import { CheckResult, exitStatus, PROBLEM } from '../../cli/doctor/result';
import { LocalEsmConfigError } from '../../cli/errors';

const required = ['--bootstrap-servers', 'b1:9096,b2:9096', '--topic', 'orders'];

describe('doctor options', () => {
  test('GIVEN the flags local takes WHEN parsed THEN the brokers, auth, topics and topics written to are the options', () => {
    const o = parseDoctorArgs([
      ...required,
      '--sasl',
      'scram-sha-512',
      '--username',
      'u',
      '--password',
      'p',
      '--tls',
      '--consumer-group-id',
      'g',
      '--response-topic',
      'replies',
      '--error-topic',
      'errors',
      '--error-topic',
      'errors',
      '--on-failure',
      'kafka://dead-letters',
      '--timeout',
      '3',
    ]);

    expect(o).toMatchObject({
      brokers: ['b1:9096', 'b2:9096'],
      topics: ['orders'],
      consumerGroupId: 'g',
      timeoutMs: 3000,
      writeTopics: [
        { role: 'response', topic: 'replies' },
        { role: 'error', topic: 'errors' },
        { role: 'on-failure', topic: 'dead-letters' },
      ],
    });
    expect(o.kafka).toMatchObject({ ssl: {}, sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } });
    expect(identityOf(o.kafka)).toEqual({ principal: 'User:u', how: 'SASL SCRAM-SHA-512 as u' });
  });

  test.each([
    [[], /--bootstrap-servers .* is required/],
    [['--bootstrap-servers', 'b:1'], /--topic .* is required/],
    [[...required, '--mapping', 'M'], /--mapping chooses a mapping of --template/],
    [[...required, '--on-failure', 'arn:aws:sqs:us-east-1:123456789012:q'], /--on-failure must be kafka:\/\/TOPIC/],
    [[...required, '--timeout', '0'], /--timeout must be a number above 0, got "0"/],
    [[...required, '--sasl', 'gssapi'], /--sasl must be scram-sha-256, scram-sha-512 or plain, got "gssapi"/],
    [[...required, '--schema-registry', 'ftp://registry'], /schemaRegistryUri must be an http\(s\) URL/],
    [[...required, '--schema-registry', 'http://r', '--schema-registry-access', 'BASIC_AUTH'], /TYPE=SECRET_ARN/],
  ])('fails with LocalEsmConfigError for %j', (argv, message) => {
    expect(() => parseDoctorArgs(argv)).toThrow(LocalEsmConfigError);
    expect(() => parseDoctorArgs(argv)).toThrow(message);
  });

  test('GIVEN a template whose dispatcher config joins a reference WHEN parsed THEN the topics given as text are checked', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-template-'));
    const file = path.join(dir, 'stack.template.json');
    const config = [
      '{"version":2,"target":{"functionName":"',
      { 'Fn::GetAtt': ['Target', 'Arn'] },
      '"},"routes":[{"responseTopic":"replies"}],"relay":{"errorTopic":"',
      { Ref: 'ErrorTopicName' },
      '","responseTopic":"replies"}}',
    ];
    fs.writeFileSync(
      file,
      JSON.stringify({
        Resources: {
          Dispatcher: {
            Type: 'AWS::Lambda::Function',
            Properties: { Environment: { Variables: { CKL_DISPATCHER_CONFIG: { 'Fn::Join': ['', config] } } } },
          },
          Mapping: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: {
              FunctionName: { 'Fn::GetAtt': ['Dispatcher', 'Arn'] },
              Topics: ['orders'],
              SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: ['b-1.example:9096'] } },
              SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: 'orders-group' },
              DestinationConfig: { OnFailure: { Destination: 'kafka://orders-dead-letters' } },
            },
          },
        },
      }),
    );

    const o = parseDoctorArgs(['--template', file]);

    expect(o).toMatchObject({
      brokers: ['b-1.example:9096'],
      topics: ['orders'],
      consumerGroupId: 'orders-group',
      writeTopics: [
        { role: 'response', topic: 'replies' },
        { role: 'on-failure', topic: 'orders-dead-letters' },
      ],
    });
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('doctor output', () => {
  const failed: CheckResult = {
    step: 'auth',
    subject: 'SASL SCRAM-SHA-512 as u',
    status: 'failed',
    detail: 'the broker refused the credentials',
    problem: PROBLEM.saslAuthenticationFailed,
    fix: 'check the username and password',
  };

  test('GIVEN a failed check WHEN formatted THEN its line is followed by the mapping problem and the fix', () => {
    expect(formatResult(failed)).toEqual([
      '[FAILED ] 3 auth SASL SCRAM-SHA-512 as u: the broker refused the credentials',
      '    mapping: PROBLEM: SASL authentication failed',
      '    fix: check the username and password',
    ]);
  });

  test('GIVEN a passed check WHEN formatted THEN it is one line', () => {
    expect(formatResult({ ...failed, status: 'passed', detail: 'cluster c' })).toEqual([
      '[passed ] 3 auth SASL SCRAM-SHA-512 as u: cluster c',
    ]);
  });

  test.each([
    [['passed', 'passed'], 0],
    [['passed', 'failed'], 1],
    [['passed', 'skipped'], 1],
    [['passed', 'unchecked'], 1],
    [[], 1],
  ])('GIVEN checks %j WHEN the exit status is taken THEN it is %d', (statuses, status) => {
    const results = (statuses as CheckResult['status'][]).map((s) => ({ ...failed, status: s }));
    expect(exitStatus(results)).toBe(status);
  });

  test('GIVEN results WHEN summarized THEN each status is counted', () => {
    expect(summary([failed, { ...failed, status: 'passed' }, { ...failed, status: 'unchecked' }])).toBe(
      'doctor: 1 passed, 1 failed, 0 skipped, 1 not checked',
    );
  });

  test('GIVEN --help WHEN the command runs THEN the usage lists local, redrive and doctor', async () => {
    const out: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((s) => out.push(String(s)) > 0);
    try {
      await main(['--help']);
      await main(['doctor', '--help']);
    } finally {
      spy.mockRestore();
    }
    expect(out[0]).toMatch(/cdk-kafka-lambda local [\s\S]*cdk-kafka-lambda redrive [\s\S]*cdk-kafka-lambda doctor /);
    expect(out[1]).toMatch(/^usage: cdk-kafka-lambda doctor [\s\S]*Exit status: 0 when every check passed/);
    process.exitCode = 0;
  });
});

describe('doctor network and certificate checks', () => {
  test('GIVEN a host name that does not resolve WHEN reached THEN DNS fails with the connection problem', async () => {
    const { result, endpoint } = await reachServer('doctor-no-such-host.invalid:9092', 5000);

    expect(endpoint).toBeUndefined();
    expect(result).toMatchObject({ step: 'network', status: 'failed', problem: PROBLEM.connection });
    expect(result.detail).toMatch(/^DNS: no address for doctor-no-such-host\.invalid/);
  });

  test('GIVEN a listening port WHEN reached THEN TCP passes', async () => {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as net.AddressInfo;
    try {
      const { result, endpoint } = await reachServer(`127.0.0.1:${port}`, 5000);
      expect(result).toMatchObject({ status: 'passed', detail: expect.stringMatching(/^TCP connected in \d+ ms$/) });
      expect(endpoint).toEqual({ server: `127.0.0.1:${port}`, host: '127.0.0.1', port, address: '127.0.0.1' });
    } finally {
      server.close();
    }
  });

  test('GIVEN the cluster advertises a broker nothing answers on WHEN checked THEN that broker fails, the bootstrap servers are not asked again', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const closed = (server.address() as net.AddressInfo).port;
    await new Promise((r) => server.close(r));

    const results = await reachAdvertised([`127.0.0.1:${closed}`, 'b1:9096'], ['b1:9096'], 5000);

    expect(results).toEqual([
      expect.objectContaining({
        subject: `advertised broker 127.0.0.1:${closed}`,
        status: 'failed',
        problem: PROBLEM.connection,
        fix: expect.stringContaining("the broker's advertised.listeners must name an address the mapping reaches"),
      }),
    ]);
  });

  test('GIVEN a client certificate and key that are not PEM WHEN checked THEN it fails with the invalid certificate problem', () => {
    expect(checkClientCertificate({ cert: 'not a certificate', key: 'not a key' })).toMatchObject({
      status: 'failed',
      problem: PROBLEM.invalidCertificateOrKey,
    });
    expect(checkClientCertificate({})).toBeUndefined();
  });
});

describe('doctor ACLs', () => {
  const o = {
    topics: ['orders'],
    consumerGroupId: 'g',
    writeTopics: [{ role: 'error', topic: 'errors' }],
  } as unknown as DoctorOptions;
  const who = { principal: 'User:u', how: 'SASL' };
  type AclEntry = [AclResourceTypes, string, ResourcePatternTypes, string, AclOperationTypes, AclPermissionTypes];
  const adminWith = (acls: AclEntry[] | Error) =>
    ({
      describeAcls: async () => {
        if (acls instanceof Error) throw acls;
        return {
          resources: acls.map(([resourceType, resourceName, resourcePatternType, principal, operation, permissionType]) => ({
            resourceType,
            resourceName,
            resourcePatternType,
            acls: [{ principal, host: '*', operation, permissionType }],
          })),
        };
      },
      describeCluster: async () => ({ brokers: [{ nodeId: 1 }] }),
      // What KRaft answers: the authorizer's settings are sensitive, so their values are not given.
      describeConfigs: async () => ({ resources: [{ configEntries: [{ configName: 'super.users', configValue: null }] }] }),
    }) as unknown as Admin;
  const { TOPIC, GROUP } = AclResourceTypes;
  const { LITERAL, PREFIXED } = ResourcePatternTypes;
  const { READ, WRITE, ALL } = AclOperationTypes;
  const { ALLOW, DENY } = AclPermissionTypes;
  const statusOf = (results: CheckResult[]) =>
    Object.fromEntries(results.map((r) => [r.subject.replace(' for User:u', ''), r.status]));

  test('GIVEN ALLOW ACLs (prefixed, wildcard principal, ALL) WHEN weighed THEN Read and Write imply Describe and all pass', async () => {
    const results = await checkAcls(
      adminWith([
        [TOPIC, 'ord', PREFIXED, 'User:u', READ, ALLOW],
        [GROUP, 'g', LITERAL, 'User:*', ALL, ALLOW],
        [TOPIC, 'errors', LITERAL, 'User:u', WRITE, ALLOW],
      ]),
      o,
      who,
      new Set(),
    );
    expect(statusOf(results)).toEqual({
      'Describe on topic orders': 'passed',
      'Read on topic orders': 'passed',
      'Describe on group g': 'passed',
      'Read on group g': 'passed',
      'Write on topic errors': 'passed',
    });
  });

  test('GIVEN a DENY beside an ALLOW WHEN weighed THEN the DENY wins with the authorization problem', async () => {
    const results = await checkAcls(
      adminWith([
        [TOPIC, 'orders', LITERAL, 'User:u', READ, ALLOW],
        [TOPIC, '*', LITERAL, 'User:u', READ, DENY],
      ]),
      o,
      who,
      new Set(),
    );
    expect(results.find((r) => r.subject === 'Read on topic orders for User:u')).toMatchObject({
      status: 'failed',
      problem: PROBLEM.clusterFailedToAuthorize,
      fix: 'remove the DENY ACL on topic orders for User:u',
    });
  });

  test('GIVEN no ACL names a resource and the broker hides allow.everyone.if.no.acl.found WHEN weighed THEN Describe proven by describing passes and the rest is not checked', async () => {
    const results = await checkAcls(adminWith([]), o, who, new Set(['topic:orders']));
    expect(statusOf(results)).toEqual({
      'Describe on topic orders': 'passed',
      'Read on topic orders': 'unchecked',
      'Describe on group g': 'unchecked',
      'Read on group g': 'unchecked',
      'Write on topic errors': 'unchecked',
    });
  });

  test('GIVEN a cluster without an authorizer WHEN weighed THEN every ACL passes', async () => {
    const results = await checkAcls(
      adminWith(Object.assign(new Error('Security features are disabled'), { type: 'SECURITY_DISABLED' })),
      o,
      who,
      new Set(),
    );
    expect(results.every((r) => r.status === 'passed' && r.detail.includes('no authorizer'))).toBe(true);
  });
});

describe('doctor schema registry', () => {
  let server: http.Server;
  let url: string;
  const secrets: Record<string, Record<string, string>> = {
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-ok': { username: 'reader', password: 'right-password' },
    'arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-bad': { username: 'reader', password: 'wrong-password' },
  };
  const readSecret = async (arn: string) => {
    if (!secrets[arn]) throw Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' });
    return secrets[arn];
  };

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const ok = req.headers.authorization === `Basic ${Buffer.from('reader:right-password').toString('base64')}`;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(ok ? '["orders-value","orders-key"]' : '{"error_code":401}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(() => server.close());

  const settings = (arn?: string) => ({
    uri: url,
    eventRecordFormat: 'JSON' as const,
    attributes: ['VALUE' as const],
    access: arn ? { BASIC_AUTH: arn } : {},
  });

  test('GIVEN the right basic auth secret WHEN GET /subjects THEN it passes with the subject count', async () => {
    const r = await checkRegistry(settings('arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-ok'), readSecret, 5000);
    expect(r).toMatchObject({ status: 'passed', detail: 'GET /subjects with basic auth as reader: 200, 2 subjects' });
  });

  test('GIVEN a wrong password WHEN GET /subjects THEN it fails as refused, naming no password', async () => {
    const r = await checkRegistry(
      settings('arn:aws:secretsmanager:us-east-1:123456789012:secret:registry-bad'),
      readSecret,
      5000,
    );
    expect(r).toMatchObject({
      status: 'failed',
      detail: expect.stringContaining('HTTP 401, the registry refused the credentials'),
    });
    expect(formatResult(r).join('\n')).not.toContain('wrong-password');
  });

  test('GIVEN a secret that cannot be read WHEN checked THEN it fails naming the secret', async () => {
    const arn = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:missing';
    const r = await checkRegistry(settings(arn), readSecret, 5000);
    expect(r).toMatchObject({
      status: 'failed',
      detail: `reading the BASIC_AUTH secret ${arn} failed: ResourceNotFoundException`,
    });
  });

  test('GIVEN a Glue registry WHEN checked THEN it is not checked', async () => {
    const r = await checkRegistry(
      { ...settings(), uri: 'arn:aws:glue:us-east-1:123456789012:registry/orders' },
      readSecret,
      5000,
    );
    expect(r.status).toBe('unchecked');
  });
});

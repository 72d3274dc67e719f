/**
 * cdk-kafka-lambda doctor against a real broker of its own with an authorizer (KRaft's StandardAuthorizer), so the
 * shared broker of the other tests keeps no ACLs: ACLs are set over PLAINTEXT as ANONYMOUS (a super user), the
 * checks run as the SCRAM user on the SASL_SSL listener and as the client certificate on the SSL (mTLS) listener.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { AclOperationTypes, AclPermissionTypes, AclResourceTypes, Admin, Kafka, logLevel, ResourcePatternTypes } from 'kafkajs';
import * as te from '../../testenv';
import { runDoctor } from '../../cli/doctor/doctor';
import { withSecrets } from '../../cli/doctor/command';
import { parseDoctorArgs } from '../../cli/doctor/options';
import { formatResult } from '../../cli/doctor/output';
import { CheckResult, exitStatus, PROBLEM } from '../../cli/doctor/result';
import { closedPort } from '../runtime/support';
import { ConfluentCompatibleRegistry, MtlsFront, startConfluentRegistry, startMtlsFront } from '../support/schema-registries';

jest.setTimeout(120_000);

describe('cdk-kafka-lambda doctor against a broker with an authorizer', () => {
  let runDir: string;
  const id = randomUUID().slice(0, 8);
  const topic = `doctor-orders-${id}`;
  const errorTopic = `doctor-errors-${id}`;
  const othersTopic = `doctor-others-${id}`;
  const group = `doctor-group-${id}`;
  let env: te.TestEnv;
  let admin: Admin;
  let user: string;
  let password: string;

  beforeAll(async () => {
    runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'doctor-broker-'));
    env = await te.start({
      runDir,
      services: ['kafka'],
      ownerPid: process.pid,
      kafkaProperties: {
        'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
        // ANONYMOUS: the PLAINTEXT and CONTROLLER listeners' principal (the broker itself, and this test's admin).
        'super.users': 'User:ANONYMOUS',
        'allow.everyone.if.no.acl.found': 'false',
      },
    });
    ({ username: user, password } = env.kafka.scram['SCRAM-SHA-512']);
    admin = new Kafka({ ...te.kafkaClientConfig('plaintext', undefined, env), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await Promise.all([topic, errorTopic, othersTopic].map((t) => te.createTopic(t, t === topic ? 3 : 1, env)));
    const allow = (
      resourceType: AclResourceTypes,
      resourceName: string,
      operation: AclOperationTypes,
      principal = `User:${user}`,
    ) => ({
      resourceType,
      resourceName,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal,
      host: '*',
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    });
    await admin.createAcls({
      acl: [
        allow(AclResourceTypes.CLUSTER, 'kafka-cluster', AclOperationTypes.DESCRIBE), // DescribeAcls
        allow(AclResourceTypes.TOPIC, topic, AclOperationTypes.READ), // Read implies Describe
        allow(AclResourceTypes.GROUP, group, AclOperationTypes.READ),
        allow(AclResourceTypes.TOPIC, errorTopic, AclOperationTypes.WRITE),
        allow(AclResourceTypes.TOPIC, othersTopic, AclOperationTypes.READ, 'User:someone-else'),
        // Describe on names that are not topics (yet), so the broker may say that they do not exist.
        {
          ...allow(AclResourceTypes.TOPIC, `doctor-missing-${id}`, AclOperationTypes.DESCRIBE),
          resourcePatternType: ResourcePatternTypes.PREFIXED,
        },
      ],
    });
  });
  beforeAll(async () => {
    // A broker just started creates its offsets topic on the first coordinator lookup and loads it for a while: wait
    // for that here, so the checks meet the coordinator a running cluster has.
    const end = Date.now() + 60_000;
    for (;;) {
      try {
        await admin.describeGroups([group]);
        return;
      } catch (e) {
        if (Date.now() > end) throw e;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });
  afterAll(async () => {
    await admin?.disconnect();
    if (env) await te.stop(env, { purge: true });
    if (runDir) fs.rmSync(runDir, { recursive: true, force: true });
  });

  /** Flags of the SCRAM user on the SASL_SSL listener, verified against the test CA; `extra` adds or replaces. */
  const scramFlags = (o: { password?: string; caFile?: string; topic?: string; server?: string } = {}) => [
    '--bootstrap-servers',
    o.server ?? env.kafka.bootstrap.saslSsl,
    '--topic',
    o.topic ?? topic,
    '--sasl',
    'scram-sha-512',
    '--username',
    user,
    // --password=P: a generated password may start with '-', which parseArgs would take for an option.
    `--password=${o.password ?? password}`,
    '--tls',
    '--ca-file',
    o.caFile ?? env.certs.files.caCert,
    '--consumer-group-id',
    group,
    '--error-topic',
    errorTopic,
    '--timeout',
    '5',
  ];

  async function doctor(args: string[]) {
    const results = await runDoctor(parseDoctorArgs(args), () => undefined);
    const text = results.flatMap(formatResult).join('\n');
    return { results, text, exit: exitStatus(results) };
  }
  const of = (results: CheckResult[], step: CheckResult['step']) => results.filter((r) => r.step === step);

  test('GIVEN the user has every ACL the mapping needs WHEN doctor runs THEN every check passes and the exit status is 0', async () => {
    const { results, text, exit } = await doctor(scramFlags());

    expect(exit === 0 ? 'exit 0' : text).toBe('exit 0'); // on failure, what doctor printed
    expect(text).toContain(`4 topic ${topic} (source): 3 partitions`);
    expect(text).toContain(`4 topic ${errorTopic} (error): 1 partitions`);
    expect(of(results, 'acls').map((r) => r.subject)).toEqual([
      `Describe on topic ${topic} for User:${user}`,
      `Read on topic ${topic} for User:${user}`,
      `Describe on group ${group} for User:${user}`,
      `Read on group ${group} for User:${user}`,
      `Write on topic ${errorTopic} for User:${user}`,
    ]);
    expect(text).not.toContain(password);
  });

  test('GIVEN the SCRAM user and the root CA in Secrets Manager WHEN doctor runs with --secret-arn and --ca-secret-arn THEN every check passes', async () => {
    // GIVEN the user's {username, password} and the CA's {certificate} as secrets (moto)
    const shared = te.loadEnv();
    const sm = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
    const secret = async (value: object) =>
      (await sm.send(new CreateSecretCommand({ Name: `doctor-${randomUUID()}`, SecretString: JSON.stringify(value) }))).ARN!;
    const [auth, ca] = [
      await secret({ username: user, password }),
      await secret({ certificate: fs.readFileSync(env.certs.files.caCert, 'utf8') }),
    ];
    sm.destroy();
    // WHEN doctor reads them instead of --username/--password/--ca-file
    const flags = scramFlags();
    const without = (names: string[]) =>
      flags.filter((f, i) => !names.some((n) => f === n || f.startsWith(`${n}=`)) && !names.includes(flags[i - 1]));
    const options = await withSecrets(
      parseDoctorArgs([
        ...without(['--username', '--password', '--ca-file']),
        '--secret-arn',
        auth,
        '--ca-secret-arn',
        ca,
        '--aws-endpoint',
        shared.moto.endpoint,
        '--region',
        shared.region,
      ]),
    );
    const results = await runDoctor(options, () => undefined);
    const text = results.flatMap(formatResult).join('\n');
    // THEN it authenticates as the secret's user and every check passes, printing no password
    expect(exitStatus(results) === 0 ? 'exit 0' : text).toBe('exit 0');
    expect(text).toContain(`as ${user}`);
    expect(text).not.toContain(password);
  });

  test('GIVEN a wrong password WHEN doctor runs THEN authentication fails with the SASL problem and the topics are skipped', async () => {
    const wrong = `wrong-${randomUUID()}`;
    const { results, text, exit } = await doctor(scramFlags({ password: wrong }));

    expect(exit).toBe(1);
    expect(of(results, 'auth')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.saslAuthenticationFailed });
    expect(text).toContain(`mapping: ${PROBLEM.saslAuthenticationFailed}`);
    expect(of(results, 'topics')).toEqual([
      expect.objectContaining({ status: 'skipped', detail: 'skipped (needs authentication)' }),
    ]);
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(password);
  });

  test('GIVEN a topic that does not exist WHEN doctor runs THEN the topic check fails with the topic problem', async () => {
    const missing = `doctor-missing-${id}`;
    const { results, exit } = await doctor(scramFlags({ topic: missing }));

    expect(exit).toBe(1);
    expect(of(results, 'topics')[0]).toMatchObject({
      subject: `${missing} (source)`,
      status: 'failed',
      detail: 'the topic does not exist',
      problem: PROBLEM.topicNotFound,
    });
  });

  test('GIVEN ACLs on a topic for another user only WHEN doctor runs THEN the topic and its ACLs fail as not authorized', async () => {
    const { results, text, exit } = await doctor(scramFlags({ topic: othersTopic }));

    expect(exit).toBe(1);
    expect(of(results, 'topics')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.clusterFailedToAuthorize });
    const read = of(results, 'acls').find((r) => r.subject === `Read on topic ${othersTopic} for User:${user}`);
    expect(read).toMatchObject({ status: 'failed', problem: PROBLEM.clusterFailedToAuthorize });
    expect(read?.detail).toContain('ACLs name the topic for others only');
    expect(text).toContain(`--allow-principal User:${user} --operation Read --topic ${othersTopic}`);
  });

  test('GIVEN a CA that did not sign the broker certificate WHEN doctor runs THEN TLS fails and authentication is skipped', async () => {
    const { results, text, exit } = await doctor(scramFlags({ caFile: env.certs.files.untrustedCaCert }));

    expect(exit).toBe(1);
    expect(of(results, 'tls')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.lambdaFailedToAuthenticateServer });
    expect(of(results, 'tls')[0].detail).toMatch(
      /not trusted: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|.*self.signed)/i,
    );
    expect(of(results, 'auth')).toEqual([
      expect.objectContaining({ status: 'skipped', detail: 'skipped (needs a verified TLS connection)' }),
    ]);
    expect(text).toContain(`mapping: ${PROBLEM.lambdaFailedToAuthenticateServer}`);
  });

  test('GIVEN a port nothing listens on WHEN doctor runs THEN TCP fails with the connection problem and the rest is skipped', async () => {
    const closed = await closedPort();
    const { results, exit } = await doctor(scramFlags({ server: `127.0.0.1:${closed}` }));

    expect(exit).toBe(1);
    expect(of(results, 'network')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.connection });
    expect(of(results, 'network')[0].detail).toContain(`connection refused, nothing listens on 127.0.0.1:${closed}`);
    expect(results.filter((r) => r.status === 'skipped').map((r) => r.step)).toEqual(['tls', 'auth', 'topics', 'group', 'acls']);
  });

  test('GIVEN the client certificate on the mTLS listener, which may not DescribeAcls WHEN doctor runs THEN it authenticates and says what could not be checked', async () => {
    const { results, text, exit } = await doctor([
      '--bootstrap-servers',
      env.kafka.bootstrap.ssl,
      '--topic',
      topic,
      '--ca-file',
      env.certs.files.caCert,
      '--cert-file',
      env.certs.files.clientChain,
      '--key-file',
      env.certs.files.clientKey,
      '--consumer-group-id',
      group,
    ]);

    expect(exit).toBe(1);
    expect(of(results, 'auth')[0]).toMatchObject({ status: 'passed', subject: 'mTLS as CN=ckl-test-client' });
    expect(of(results, 'topics')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.clusterFailedToAuthorize });
    expect(of(results, 'group')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.clusterFailedToAuthorize });
    expect(text).toContain(`fix: allow Describe and Read on group ${group} to User:CN=ckl-test-client`);
    expect(of(results, 'acls').find((r) => r.subject === `Read on topic ${topic} for User:CN=ckl-test-client`)).toMatchObject({
      status: 'unchecked',
      detail: expect.stringContaining('could not be checked: DescribeAcls denied'),
    });
  });

  test('GIVEN a client certificate from a CA the broker does not trust WHEN doctor runs THEN authentication fails with the mTLS problem', async () => {
    const { results, exit } = await doctor([
      '--bootstrap-servers',
      env.kafka.bootstrap.ssl,
      '--topic',
      topic,
      '--ca-file',
      env.certs.files.caCert,
      '--cert-file',
      env.certs.files.untrustedClientCert,
      '--key-file',
      env.certs.files.untrustedClientKey,
      '--consumer-group-id',
      group,
    ]);

    expect(exit).toBe(1);
    expect(of(results, 'auth')[0]).toMatchObject({ status: 'failed', problem: PROBLEM.serverFailedToAuthenticateLambda });
    expect(of(results, 'topics')).toEqual([
      expect.objectContaining({ status: 'skipped', detail: 'skipped (needs authentication)' }),
    ]);
  });

  test('GIVEN another consumer is active in the group WHEN doctor runs THEN the group check fails and names its members', async () => {
    const consumer = new Kafka({
      ...te.kafkaClientConfig('plaintext', undefined, env),
      clientId: 'other-app',
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId: group,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({ eachMessage: async () => undefined });
    try {
      await waitForMembers(group);
      const { results, exit } = await doctor(scramFlags());

      expect(exit).toBe(1);
      expect(of(results, 'group')[0]).toMatchObject({
        status: 'failed',
        detail: expect.stringMatching(/Stable, 1 active member\(s\): other-app@/),
      });
    } finally {
      await consumer.disconnect();
    }
  });

  test('GIVEN a synthesized template with the mapping and the dispatcher WHEN doctor runs with --template THEN it checks its brokers, topics, group and relay topics', async () => {
    const file = path.join(runDir, 'stack.template.json');
    fs.writeFileSync(file, JSON.stringify(templateFor(env.kafka.bootstrap.saslSsl)));
    const { results, exit } = await doctor([
      '--template',
      file,
      '--sasl',
      'scram-sha-512',
      '--username',
      user,
      `--password=${password}`,
      '--ca-file',
      env.certs.files.caCert,
    ]);

    expect(of(results, 'topics').map((r) => r.subject)).toEqual([`${topic} (source)`, `${errorTopic} (error)`]);
    expect(of(results, 'group')[0].subject).toBe(group);
    expect(exit).toBe(0);
  });

  async function waitForMembers(groupId: string) {
    const end = Date.now() + 30_000;
    while (Date.now() < end) {
      const { groups } = await admin.describeGroups([groupId]);
      if (groups[0].state === 'Stable' && groups[0].members.length > 0) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`group ${groupId} has no stable member`);
  }

  /** What a KafkaTrigger with a dispatcher synthesizes: the mapping, and the dispatcher's config joined with a reference. */
  function templateFor(bootstrap: string) {
    return {
      Resources: {
        Dispatcher: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            Environment: {
              Variables: {
                CKL_DISPATCHER_CONFIG: {
                  'Fn::Join': [
                    '',
                    [
                      '{"version":2,"target":{"functionName":"',
                      { 'Fn::GetAtt': ['Target', 'Arn'] },
                      `"},"relay":{"bootstrapServers":["${bootstrap}"],"auth":"scram-sha-512","tls":true,"errorTopic":"${errorTopic}","clientId":"relay"}}`,
                    ],
                  ],
                },
              },
            },
          },
        },
        Mapping: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            FunctionName: { 'Fn::GetAtt': ['Dispatcher', 'Arn'] },
            Topics: [topic],
            SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: [bootstrap] } },
            SelfManagedKafkaEventSourceConfig: { ConsumerGroupId: group },
            SourceAccessConfigurations: [{ Type: 'SASL_SCRAM_512_AUTH', URI: { Ref: 'Secret' } }],
            StartingPosition: 'TRIM_HORIZON',
          },
        },
      },
    };
  }
});

/**
 * The schema registry's check against a real Confluent-compatible registry (Apicurio, basic auth) and an mTLS front of
 * it, with the access secrets in the shared environment's Secrets Manager (moto). The Kafka steps point at a closed
 * port: the registry's check needs none of them.
 */
describe('cdk-kafka-lambda doctor against a schema registry', () => {
  const USER = 'doctor-registry';
  const PASSWORD = `pw-${randomUUID()}`;
  let env: te.TestEnv;
  let secrets: SecretsManagerClient;
  let registry: ConfluentCompatibleRegistry;
  let front: MtlsFront;
  let kafkaFlags: string[];

  beforeAll(async () => {
    env = te.loadEnv();
    secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
    registry = await startConfluentRegistry(`${USER}:${PASSWORD}`);
    front = await startMtlsFront(registry, `${USER}:${PASSWORD}`);
    kafkaFlags = ['--bootstrap-servers', `127.0.0.1:${await closedPort()}`, '--topic', 'orders', '--timeout', '5'];
  });
  afterAll(async () => {
    await front?.close();
    if (registry) process.kill(registry.pid);
    secrets?.destroy();
  });

  const secret = async (value: object) =>
    (await secrets.send(new CreateSecretCommand({ Name: `doctor-${randomUUID()}`, SecretString: JSON.stringify(value) }))).ARN!;
  async function registryCheck(uri: string, access: Record<string, string>) {
    const args = [
      ...kafkaFlags,
      '--schema-registry',
      uri,
      ...Object.entries(access).flatMap(([type, arn]) => ['--schema-registry-access', `${type}=${arn}`]),
      '--aws-endpoint',
      env.moto.endpoint,
      '--region',
      env.region,
    ];
    const results = await runDoctor(parseDoctorArgs(args), () => undefined);
    return { result: results.find((r) => r.step === 'schema-registry')!, text: results.flatMap(formatResult).join('\n') };
  }

  test('GIVEN the basic auth secret of the registry user WHEN doctor runs THEN the registry check passes', async () => {
    const { result } = await registryCheck(registry.url, { BASIC_AUTH: await secret({ username: USER, password: PASSWORD }) });

    expect(result).toMatchObject({
      status: 'passed',
      detail: expect.stringMatching(`^GET /subjects with basic auth as ${USER}: 200, \\d+ subjects$`),
    });
  });

  test('GIVEN a basic auth secret with a wrong password WHEN doctor runs THEN the registry check fails as refused, naming no password', async () => {
    const wrong = `wrong-${randomUUID()}`;
    const { result, text } = await registryCheck(registry.url, { BASIC_AUTH: await secret({ username: USER, password: wrong }) });

    expect(result).toMatchObject({
      status: 'failed',
      detail: expect.stringContaining('HTTP 401, the registry refused the credentials'),
    });
    expect(text).not.toContain(wrong);
    expect(text).not.toContain(PASSWORD);
  });

  test('GIVEN a client certificate secret and the root CA secret WHEN doctor runs against the mTLS front THEN the registry check passes', async () => {
    const { result } = await registryCheck(front.url, {
      CLIENT_CERTIFICATE_TLS_AUTH: await secret({
        certificate: env.certs.pem.clientChain,
        privateKey: env.certs.pem.clientKeyPbes1,
        privateKeyPassword: env.certs.passwords.pbes1,
      }),
      SERVER_ROOT_CA_CERTIFICATE: await secret({ certificate: env.certs.pem.caCert }),
    });

    expect(result).toMatchObject({
      status: 'passed',
      detail: expect.stringMatching(/^GET \/subjects with a client certificate: 200/),
    });
  });
});

/**
 * migrate plan: connector configs of both connectors (test/fixtures/connect, written from Confluent's documentation
 * and Nordstrom's README) become LambdaSinkConnector props, every key accounted for, no credential printed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { migrateCommand, planCommand } from '../../../cli/migrate/command';
import { generatedGroupIds } from '../../../cli/migrate/group-ids';
import { formatPlan } from '../../../cli/migrate/output';
import { buildPlan, MigrationPlan } from '../../../cli/migrate/plan';
import { parseConnectorConfig, parseProperties, readConnectorConfig } from '../../../cli/migrate/read-config';

const FIXTURES = path.join(__dirname, '..', '..', 'fixtures', 'connect');
export const CONNECT_FIXTURES = [
  'confluent-rest.json',
  'confluent-documented.properties',
  'nordstrom.properties',
  'nordstrom-msk-config.json',
];
const plan = (fixture: string, language: 'typescript' | 'python' = 'typescript') =>
  buildPlan(readConnectorConfig(path.join(FIXTURES, fixture)), { language });
const row = (p: MigrationPlan, key: string) => p.rows.find((r) => r.key === key)!;

/** Every credential the fixtures hold. */
const SECRETS = [
  's3cr3t-scram-password',
  'truststore-pass-123',
  'registry-pass-456',
  'registry-user:',
  'keystore-pass-789',
  'key-pass-012',
  'truststore-pass-345',
  'AKIAEXAMPLEKEYID0000',
  'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
];

describe('reading a connector config', () => {
  test('GIVEN the REST response of GET /connectors/<name> WHEN read THEN its config and name', () => {
    const cfg = readConnectorConfig(path.join(FIXTURES, 'confluent-rest.json'));
    expect(cfg).toMatchObject({ name: 'orders-lambda-sink', source: 'rest' });
    expect(cfg.config.topics).toBe('orders,payments');
    expect(cfg.config).not.toHaveProperty('tasks');
  });

  test('GIVEN its config object alone WHEN read THEN the name comes from the config', () => {
    const cfg = readConnectorConfig(path.join(FIXTURES, 'nordstrom-msk-config.json'));
    expect(cfg).toMatchObject({ name: 'audit-to-lambda', source: 'config' });
  });

  test('GIVEN Java properties with comments, separators, continuations and escapes WHEN parsed THEN as Properties.load', () => {
    const props = parseProperties(
      '# comment\n! another\nname=a\nb: two\nc three\nd = x\\\n   y\ne=tab\\there\nf=\\u0041\ng\\=h=i\n  \n',
    );
    expect(props).toEqual({ name: 'a', b: 'two', c: 'three', d: 'xy', e: 'tab\there', f: 'A', 'g=h': 'i' });
  });

  test('fails on JSON whose values are not text', () => {
    expect(() => parseConnectorConfig('{"topics": ["a"]}')).toThrow(/"topics" is an array/);
  });
});

describe('migrate plan', () => {
  test.each(CONNECT_FIXTURES)('GIVEN %s WHEN planned THEN every key has one row with a status and a reason', (fixture) => {
    const cfg = readConnectorConfig(path.join(FIXTURES, fixture));
    const p = buildPlan(cfg);
    expect(p.rows.map((r) => r.key)).toEqual(Object.keys(cfg.config));
    for (const r of p.rows) {
      expect(['mapped', 'not needed', 'not supported']).toContain(r.status);
      if (r.status === 'mapped') expect(r.prop).toBeTruthy();
      else expect(r.note).not.toBe('');
    }
  });

  test.each(CONNECT_FIXTURES)('GIVEN %s WHEN printed in either language THEN no credential appears', (fixture) => {
    for (const language of ['typescript', 'python'] as const) {
      const out = formatPlan(plan(fixture, language));
      for (const secret of SECRETS) expect(out).not.toContain(secret);
    }
  });

  test.each([
    ['confluent-rest.json', 'topics', 'mapped', 'topics'],
    ['confluent-rest.json', 'aws.lambda.function.name', 'mapped', 'target'],
    ['confluent-rest.json', 'aws.lambda.batch.size', 'mapped', 'recordsPerInvocation'],
    ['confluent-rest.json', 'behavior.on.error', 'mapped', 'onError'],
    ['confluent-rest.json', 'aws.lambda.response.topic', 'mapped', 'responseTopic'],
    ['confluent-rest.json', 'aws.lambda.error.topic', 'mapped', 'errorTopic'],
    ['confluent-rest.json', 'consumer.override.sasl.jaas.config', 'mapped', 'auth.secret'],
    ['confluent-rest.json', 'consumer.override.max.poll.records', 'mapped', 'batchSize'],
    ['confluent-rest.json', 'value.converter', 'mapped', 'schemas.value'],
    ['confluent-rest.json', 'transforms.route.type', 'not supported', undefined],
    ['confluent-rest.json', 'aws.lambda.function.alias', 'not supported', undefined],
    ['confluent-rest.json', 'tasks.max', 'not needed', undefined],
    ['nordstrom.properties', 'aws.lambda.function.arn', 'mapped', 'target'],
    ['nordstrom.properties', 'aws.lambda.invocation.failure.mode', 'mapped', 'onError'],
    ['nordstrom.properties', 'aws.lambda.batch.enabled', 'mapped', 'recordsPerInvocation'],
    ['nordstrom.properties', 'payload.formatter.class', 'mapped', 'payloadFormat'],
    ['nordstrom.properties', 'aws.credentials.provider.role.arn', 'mapped', 'targetRole'],
    ['nordstrom.properties', 'aws.credentials.provider.external.id', 'mapped', 'targetRoleExternalId'],
    ['nordstrom.properties', 'errors.deadletterqueue.topic.name', 'mapped', 'errorTopic'],
    ['nordstrom.properties', 'http.proxy.host', 'not supported', undefined],
    ['nordstrom.properties', 'payload.formatter.value.schema.visibility', 'not supported', undefined],
    ['nordstrom-msk-config.json', 'topics.regex', 'not supported', undefined],
    ['nordstrom-msk-config.json', 'aws.lambda.invocation.mode', 'mapped', 'invocationType'],
    ['nordstrom-msk-config.json', 'consumer.override.sasl.mechanism', 'mapped', 'auth'],
    ['nordstrom-msk-config.json', 'aws.secret.access.key', 'not needed', undefined],
  ])('GIVEN %s WHEN planned THEN %s is %s (%s)', (fixture, key, status, prop) => {
    expect(row(plan(fixture), key)).toMatchObject({ status, prop });
  });

  test("GIVEN Confluent's connector WHEN planned THEN the code has its props and the groups replace connect-<name>", () => {
    const p = plan('confluent-rest.json');
    expect(p.kind).toBe('confluent');
    expect(p.connectorGroup).toBe('connect-orders-lambda-sink');
    expect(p.groups).toEqual([
      { topic: 'orders', groupId: 'lambda-orders-lambda-sink-orders' },
      { topic: 'payments', groupId: 'lambda-orders-lambda-sink-payments' },
    ]);
    expect(p.code).toContain(
      "consumerGroupIds: { orders: 'lambda-orders-lambda-sink-orders', payments: 'lambda-orders-lambda-sink-payments' }",
    );
    expect(p.code).toContain('recordsPerInvocation: 50,');
    expect(p.code).toContain('onError: DispatcherErrorBehavior.LOG,');
    expect(p.code).toContain(
      "KafkaAuth.scram512({ secret: secretsmanager.Secret.fromSecretNameV2(this, 'KafkaCredentials', 'orders-lambda-sink-kafka-credentials') })",
    );
    expect(p.secrets.map((s) => s.name)).toEqual([
      'orders-lambda-sink-kafka-credentials',
      'orders-lambda-sink-kafka-root-ca',
      'orders-lambda-sink-schema-registry',
    ]);
    const out = formatPlan(p);
    expect(out).toContain('--connector orders-lambda-sink --group orders=lambda-orders-lambda-sink-orders');
    expect(out).toContain('"username": "orders-connect", "password": "<the password of sasl.jaas.config>"');
  });

  test("GIVEN Nordstrom's connector with batching off WHEN planned THEN one record per invocation, and the target is told of the array", () => {
    const p = plan('nordstrom.properties');
    expect(p.kind).toBe('nordstrom');
    expect(p.code).toContain('recordsPerInvocation: 1,');
    expect(p.code).toContain('payloadFormat: DispatcherPayloadFormat.NORDSTROM_JSON,');
    expect(p.code).toContain('onError: DispatcherErrorBehavior.DROP,');
    expect(p.code).toContain("KafkaAuth.mtls({ secret: secretsmanager.Secret.fromSecretNameV2(this, 'KafkaClientCertificate'");
    expect(p.notes.join('\n')).toMatch(/array of one record/);
  });

  test('GIVEN topics.regex WHEN planned THEN not supported, with listing the topics as the nearest', () => {
    const p = plan('nordstrom-msk-config.json');
    expect(row(p, 'topics.regex').note).toMatch(/list the topics that match audit-\.\* in topics/);
    expect(p.code).toContain('KafkaAuth.iam()');
    expect(p.code).toContain('KafkaCluster.msk(');
  });

  test('GIVEN --name WHEN planned THEN the construct id and the stack follow it', () => {
    const cfg = readConnectorConfig(path.join(FIXTURES, 'confluent-documented.properties'));
    const p = buildPlan(cfg, { constructId: 'Clicks' });
    expect(p.code).toContain("new LambdaSinkConnector(this, 'Clicks', {");
    expect(p.code).toContain("new ClicksStack(app, 'ClicksStack', { env: { region: 'us-east-2' } });");
  });

  test('GIVEN consumer.override.group.id WHEN planned THEN the offsets command line copies from that group', () => {
    const cfg = parseConnectorConfig(
      'name=n\nconnector.class=io.confluent.connect.aws.lambda.AwsLambdaSinkConnector\ntopics=a\nconsumer.override.group.id=legacy-group\n',
    );
    const p = buildPlan(cfg);
    expect(p.connectorGroup).toBe('legacy-group');
    expect(row(p, 'consumer.override.group.id')).toMatchObject({ status: 'mapped', prop: 'migrate offsets' });
    expect(formatPlan(p)).toContain('--connector n --connector-group legacy-group --group a=lambda-n-a');
  });

  test.each([
    ['target', 'TargetConnector'],
    ['1st-sink', 'Connector1stSink'],
    ['-', 'Connector'],
  ])('GIVEN a connector named %s WHEN planned THEN its construct id is %s, a valid id no sibling has', (name, id) => {
    const cfg = parseConnectorConfig(
      `name=${name}\nconnector.class=io.confluent.connect.aws.lambda.AwsLambdaSinkConnector\ntopics=a\n`,
    );
    expect(buildPlan(cfg).app.constructId).toBe(id);
  });

  test('GIVEN SASL/PLAIN to MSK brokers WHEN planned THEN not supported, SCRAM-SHA-512 the nearest', () => {
    const cfg = parseConnectorConfig(
      [
        'name=n',
        'connector.class=com.nordstrom.kafka.connect.lambda.LambdaSinkConnector',
        'topics=a',
        'consumer.override.bootstrap.servers=b-1.c.abc.c2.kafka.us-east-1.amazonaws.com:9096',
        'consumer.override.security.protocol=SASL_SSL',
        'consumer.override.sasl.mechanism=PLAIN',
      ].join('\n'),
    );
    const p = buildPlan(cfg);
    expect(row(p, 'consumer.override.sasl.mechanism')).toMatchObject({ status: 'not supported' });
    expect(row(p, 'consumer.override.sasl.mechanism').note).toMatch(/MSK does not take SASL\/PLAIN/);
    expect(p.code).toContain(
      "KafkaAuth.scram512({ secret: secretsmanager.Secret.fromSecretNameV2(this, 'KafkaCredentials', 'AmazonMSK_n') })",
    );
  });

  test('fails on a --name that a sibling construct has', () => {
    const cfg = parseConnectorConfig(
      `name=n\nconnector.class=io.confluent.connect.aws.lambda.AwsLambdaSinkConnector\ntopics=a\n`,
    );
    expect(() => buildPlan(cfg, { constructId: 'Target' })).toThrow(/--name must be .* none of Target/);
  });

  test('GIVEN keys of credentials no table names WHEN printed THEN their values are not', () => {
    const cfg = parseConnectorConfig(
      'name=n\nconnector.class=io.confluent.connect.aws.lambda.AwsLambdaSinkConnector\ntopics=a\nmy.api.token=tok-1\nx.api.key=key-2\nsasl.oauthbearer.client.secret=sec-3\n',
    );
    const out = formatPlan(buildPlan(cfg));
    for (const v of ['tok-1', 'key-2', 'sec-3']) expect(out).not.toContain(v);
  });

  test('fails on a connector that is neither Lambda sink connector', () => {
    const cfg = parseConnectorConfig('name=s3\nconnector.class=io.confluent.connect.s3.S3SinkConnector\n');
    expect(() => buildPlan(cfg)).toThrow(/neither Confluent's .* nor Nordstrom's/);
  });

  test('fails on a config without a name', () => {
    const cfg = parseConnectorConfig(`connector.class=io.confluent.connect.aws.lambda.AwsLambdaSinkConnector\ntopics=a\n`);
    expect(() => buildPlan(cfg)).toThrow(/the config has no name/);
  });

  test('GIVEN two topics WHEN the groups are generated THEN they follow the construct path and the topic', () => {
    const [a, b] = generatedGroupIds('OrdersStack', 'Orders', ['orders', 'payments']);
    expect(a).toMatch(/^OrdersStack-Orders-Trigger-[0-9A-F]{8}-orders$/);
    expect(b).toBe(a.replace(/-orders$/, '-payments'));
  });
});

describe('the command', () => {
  let out: string[];
  let err: string[];
  beforeEach(() => {
    out = [];
    err = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
    process.exitCode = undefined;
  });
  afterEach(() => {
    jest.restoreAllMocks();
    process.exitCode = undefined;
  });

  test('GIVEN migrate --help WHEN run THEN both subcommands are listed', async () => {
    await migrateCommand(['--help']);
    expect(out.join('')).toMatch(/^ {2}plan {6}/m);
    expect(out.join('')).toMatch(/^ {2}offsets {3}/m);
  });

  test('GIVEN --out WHEN run THEN the code goes to the file and the report to stdout', async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'migrate-plan-')), 'app.py');
    await planCommand([path.join(FIXTURES, 'nordstrom.properties'), '--language', 'python', '--out', file]);
    expect(process.exitCode).toBeUndefined();
    expect(fs.readFileSync(file, 'utf8')).toContain('self.connector = LambdaSinkConnector(');
    expect(out.join('')).toContain(`The python code is in ${file}.`);
    expect(out.join('')).toContain('| aws.lambda.batch.enabled | false | mapped | recordsPerInvocation |');
  });

  test('fails with exit status 2 on an unknown --language', async () => {
    await planCommand([path.join(FIXTURES, 'nordstrom.properties'), '--language', 'go']);
    expect(process.exitCode).toBe(2);
    expect(err.join('')).toMatch(/--language must be typescript or python, got "go"/);
  });

  test('fails with exit status 2 on an unknown subcommand', async () => {
    await migrateCommand(['apply']);
    expect(process.exitCode).toBe(2);
    expect(err.join('')).toMatch(/unknown migrate subcommand "apply"/);
  });
});

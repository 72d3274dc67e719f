/** redrive's settings from a synthesized template and its auth from Secrets Manager (stand-in clients here). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { EXAMPLE_ENV, SelfManagedScramStack } from '../../bin/stacks';
import { KafkaAuth, KafkaCluster, KafkaTrigger, OnFailureDestination } from '../../lib';
import { parseRedriveArgs } from '../../cli/redrive/options';
import { redriveSettings, RedriveSettingsClients } from '../../cli/redrive/settings';
import { redriveTemplate } from '../../cli/redrive/template';
import { testApp, testStack } from '../trigger/support';

const SECRET = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:orders-scram-AbCdEf';
const CA_SECRET = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:orders-ca-AbCdEf';
const QUEUE = 'arn:aws:sqs:us-east-1:111122223333:orders-on-failure';
const FUNCTION = 'arn:aws:lambda:us-east-1:111122223333:function:orders-dispatcher';
const PEM = (label: string) => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-settings-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** An imported function: its name is literal in the template. */
const dispatcher = (scope: Construct, id: string) =>
  lambda.Function.fromFunctionAttributes(scope, id, {
    functionArn: FUNCTION,
    role: iam.Role.fromRoleArn(scope, `${id}Role`, 'arn:aws:iam::111122223333:role/orders-dispatcher'),
  });

/** A stack whose mapping names everything literally: imported secret, queue and function. */
function literalTemplate(): string {
  const stack = testStack();
  new KafkaTrigger(stack, 'Orders', {
    cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example:9096', 'b-2.example:9096'] }),
    topics: ['orders'],
    target: dispatcher(stack, 'Dispatcher'),
    auth: KafkaAuth.scram512({ secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'Secret', SECRET) }),
    onFailure: OnFailureDestination.sqs(sqs.Queue.fromQueueArn(stack, 'Queue', QUEUE)),
    dryRunCheck: false,
  });
  return writeTemplate(stack.node.root as App, stack.stackName);
}

function writeTemplate(app: App, stackName: string): string {
  const file = path.join(dir, `${stackName}-${Math.random().toString(36).slice(2)}.template.json`);
  fs.writeFileSync(file, JSON.stringify(app.synth().getStackByName(stackName).template));
  return file;
}

/** Stand-ins for Secrets Manager and SQS: secrets by ARN (a string is the SecretString), queue URLs by name. */
function clients(secrets: Record<string, unknown>, calls: string[] = []): RedriveSettingsClients {
  const secretsManager = {
    send: async (c: { input: { SecretId: string } }) => {
      calls.push(`GetSecretValue ${c.input.SecretId}`);
      const s = secrets[c.input.SecretId];
      if (s === undefined)
        throw Object.assign(new Error(`Secrets Manager can't find the specified secret.`), { name: 'ResourceNotFoundException' });
      return { SecretString: typeof s === 'string' ? s : JSON.stringify(s) };
    },
    destroy: () => undefined,
  };
  const queues = {
    send: async (c: { input: { QueueName: string; QueueOwnerAWSAccountId: string } }) => {
      calls.push(`GetQueueUrl ${c.input.QueueName} ${c.input.QueueOwnerAWSAccountId}`);
      return { QueueUrl: `https://sqs.us-east-1.amazonaws.com/${c.input.QueueOwnerAWSAccountId}/${c.input.QueueName}` };
    },
    destroy: () => undefined,
  };
  return { secretsManager: secretsManager as never, sqs: queues as never };
}

const SCRAM = { [SECRET]: { username: 'redrive', password: 'pw-1' } };

describe('redrive --template', () => {
  test('a mapping that names everything literally gives the cluster, the function, the auth secret and the on-failure queue', () => {
    // GIVEN a KafkaTrigger with an imported SCRAM secret, queue and function, synthesized
    const file = literalTemplate();
    // WHEN redrive reads its template
    const t = redriveTemplate(file);
    // THEN every setting is there, with nothing left to give as a flag
    expect(t).toEqual({
      bootstrapServers: ['b-1.example:9096', 'b-2.example:9096'],
      eventSourceArn: undefined,
      functionName: FUNCTION,
      onFailure: QUEUE,
      secretArn: SECRET,
      mechanism: 'scram-sha-512',
      tls: true,
      unresolved: [],
    });
  });

  test('the settings: the queue URL from SQS as the source, SCRAM credentials from the secret with the template mechanism, TLS', async () => {
    // GIVEN the literal template and a secret {username, password}
    const calls: string[] = [];
    const notices: string[] = [];
    // WHEN the settings are read with no source flag
    const o = await redriveSettings(['--template', literalTemplate()], (l) => notices.push(l), clients(SCRAM, calls));
    // THEN the on-failure queue is the source, the secret gives SASL/SCRAM-512 over TLS, and nothing is reported
    expect(o).toMatchObject({
      fromSqs: 'https://sqs.us-east-1.amazonaws.com/111122223333/orders-on-failure',
      functionName: FUNCTION,
      bootstrapServers: 'b-1.example:9096,b-2.example:9096',
      kafka: {
        brokers: ['b-1.example:9096', 'b-2.example:9096'],
        ssl: true,
        sasl: { mechanism: 'scram-sha-512', username: 'redrive', password: 'pw-1' },
      },
    });
    expect(calls).toEqual([`GetSecretValue ${SECRET}`, 'GetQueueUrl orders-on-failure 111122223333']);
    expect(notices).toEqual([]);
  });

  test('flags win over the template: brokers, function, source and the SASL user; the template secret is then not read', async () => {
    // GIVEN the literal template
    const calls: string[] = [];
    // WHEN each setting is also given as a flag
    const o = await redriveSettings(
      [
        ...['--template', literalTemplate(), '--bootstrap-servers', 'other:9092', '--function-name', 'fixed'],
        ...['--from-error-topic', 'orders-errors', '--sasl', 'scram-sha-256', '--username', 'u', '--password', 'p'],
      ],
      () => undefined,
      clients(SCRAM, calls),
    );
    // THEN the flags' values are used, and neither Secrets Manager nor SQS is asked
    expect(o).toMatchObject({
      fromErrorTopic: 'orders-errors',
      fromSqs: undefined,
      functionName: 'fixed',
      kafka: { brokers: ['other:9092'], ssl: true, sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } },
    });
    expect(calls).toEqual([]);
  });

  test("--username and --password without --sasl use the template's mechanism", async () => {
    // GIVEN the literal template (SASL_SCRAM_512_AUTH)
    // WHEN the user is given as flags only
    const o = await redriveSettings(
      ['--template', literalTemplate(), '--username', 'u', '--password', 'p'],
      () => undefined,
      clients({}),
    );
    // THEN SCRAM-512 is used with them
    expect(o.kafka.sasl).toEqual({ mechanism: 'scram-sha-512', username: 'u', password: 'p' });
  });

  test("the example app's SCRAM stack: what is resolved at deploy time is named with the flag to give", async () => {
    // GIVEN the example app's self-managed SCRAM stack, synthesized (its function, queue and secret are created)
    const app = new App();
    const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined); // the stack's CloudFormation Validate warnings
    const stack = new SelfManagedScramStack(app, 'KafkaLambdaSelfManagedScram', { env: EXAMPLE_ENV });
    const file = writeTemplate(app, stack.stackName);
    quiet.mockRestore();
    const notices: string[] = [];
    // WHEN redrive reads it without flags, and then with the flags the notices name
    const read = redriveSettings(['--template', file], (l) => notices.push(l), clients({}));
    // THEN the source, the function and the secret are named with the flag that gives each
    await expect(read).rejects.toThrow(
      /give one source: .* \(the template's on-failure destination is \{ Fn::GetAtt: \[OrdersOnFailureQueue\w+, Arn\] \}, resolved at deploy time; give the source \(--from-sqs QUEUE_URL/,
    );
    expect(notices).toEqual([
      expect.stringMatching(
        /^template: the template's FunctionName is \{ Fn::GetAtt: \[DispatcherFunction\w+, Arn\] \}, resolved at deploy time; give the deployed name with --function-name$/,
      ),
      expect.stringMatching(/^template: the template's on-failure destination is /),
      expect.stringMatching(
        /^template: SourceAccessConfigurations SASL_SCRAM_512_AUTH secret is \{ Ref: OrdersSaslSecret\w+ \}, resolved at deploy time; give --secret-arn with the deployed secret's ARN \(or --username\)$/,
      ),
    ]);
    await expect(redriveSettings(['--template', file, '--from-sqs', 'q'], () => undefined, clients({}))).rejects.toThrow(
      /--function-name is required \(the dispatcher, or any function\) \(the template's FunctionName is \{ Fn::GetAtt: \[DispatcherFunction\w+, Arn\] \}/,
    );
    const o = await redriveSettings(
      ['--template', file, '--from-sqs', 'q', '--function-name', 'f', '--secret-arn', SECRET],
      () => undefined,
      clients(SCRAM),
    );
    expect(o.kafka).toMatchObject({
      brokers: ['b-1.kafka.example.internal:9096', 'b-2.kafka.example.internal:9096'],
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'redrive' },
    });
  });

  test('fails when the template holds several Kafka mappings and --mapping names none of them, or --mapping comes alone', async () => {
    // GIVEN a template with two mappings
    const stack = testStack(testApp());
    for (const id of ['A', 'B'])
      new KafkaTrigger(stack, id, {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b:9092'] }),
        topics: [`orders-${id}`],
        target: dispatcher(stack, `${id}Fn`),
        auth: KafkaAuth.none(),
        dryRunCheck: false,
      });
    const file = writeTemplate(stack.node.root as App, stack.stackName);
    // WHEN it is read without --mapping, with an unknown one, or --mapping without --template
    // THEN each is named with the mappings there are
    expect(() => redriveTemplate(file)).toThrow(
      /holds 2 Kafka or Kinesis event source mappings; choose one with --mapping \(A\w+, B\w+\)/,
    );
    expect(() => redriveTemplate(file, 'Nope')).toThrow(/has no Kafka or Kinesis event source mapping "Nope"/);
    await expect(redriveSettings(['--mapping', 'A'], () => undefined, clients({}))).rejects.toThrow(
      /--mapping chooses a mapping of --template; give --template too/,
    );
  });
});

describe('redrive auth secrets', () => {
  const base = ['--from-sqs', 'q', '--bootstrap-servers', 'b:9096', '--function-name', 'f'];

  test('an mTLS secret gives the client certificate with its key password, --ca-secret-arn the root CA', async () => {
    // GIVEN an mTLS secret (PEM pasted on one line, as the Lambda docs show it) and a root CA secret
    const mtls = {
      certificate: PEM('CERTIFICATE').replace(/\n/g, ' '),
      privateKey: PEM('ENCRYPTED PRIVATE KEY'),
      privateKeyPassword: 'kp',
    };
    const secrets = clients({ [SECRET]: mtls, [CA_SECRET]: { certificate: PEM('CERTIFICATE') } });
    // WHEN both are given as flags
    const o = await redriveSettings([...base, '--secret-arn', SECRET, '--ca-secret-arn', CA_SECRET], () => undefined, secrets);
    // THEN TLS carries them; the PEM is rebuilt with line breaks
    expect(o.kafka.ssl).toEqual({
      ca: [PEM('CERTIFICATE')],
      cert: PEM('CERTIFICATE'),
      key: PEM('ENCRYPTED PRIVATE KEY'),
      passphrase: 'kp',
    });
    expect(o.kafka.sasl).toBeUndefined();
  });

  test('--ca-file and --cert-file win over the secrets', async () => {
    // GIVEN files for the CA and the client certificate, and secrets for both
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, 'file-ca');
    const secrets = clients({
      [SECRET]: { certificate: PEM('CERTIFICATE'), privateKey: PEM('PRIVATE KEY') },
      [CA_SECRET]: { certificate: PEM('CERTIFICATE') },
    });
    // WHEN both are given
    const o = await redriveSettings(
      [...base, '--secret-arn', SECRET, '--ca-secret-arn', CA_SECRET, '--ca-file', ca],
      () => undefined,
      secrets,
    );
    // THEN the file's CA is used, the secret's certificate still
    expect(o.kafka.ssl).toMatchObject({ ca: ['file-ca'], cert: PEM('CERTIFICATE') });
  });

  test.each([
    [
      'is not JSON',
      'not json at all',
      /secret arn:\S+orders-scram-AbCdEf is not a JSON object; a SASL secret is \{"username": "…", "password": "…"\}/,
    ],
    [
      'has no password',
      { username: 'redrive', passwort: 'x' },
      /secret arn:\S+orders-scram-AbCdEf has no "password" string field; a SASL secret is/,
    ],
    [
      'is an mTLS secret without its key',
      { certificate: PEM('CERTIFICATE') },
      /has no "username" string field; a SASL secret is .*, or an mTLS secret is/,
    ],
  ])('fails when the secret %s, naming its ARN and the format, never its value', async (_, value, message) => {
    // GIVEN a malformed secret
    const read = redriveSettings([...base, '--secret-arn', SECRET], () => undefined, clients({ [SECRET]: value }));
    // WHEN it is read THEN the error names the ARN and the expected format
    await expect(read).rejects.toThrow(message);
    await expect(read).rejects.toThrow(
      expect.objectContaining({ message: expect.not.stringMatching(/not json at all|redrive|x"/) }),
    );
  });

  test('fails when the secret does not exist, or holds credentials with no mechanism to use them', async () => {
    // GIVEN no secret by that ARN
    // WHEN it is read THEN the ARN and the flag are named
    await expect(redriveSettings([...base, '--secret-arn', SECRET], () => undefined, clients({}))).rejects.toThrow(
      `secret ${SECRET} cannot be read (ResourceNotFoundException: Secrets Manager can't find the specified secret.); give the ARN of an existing secret with --secret-arn`,
    );
    await expect(redriveSettings([...base, '--secret-arn', SECRET], () => undefined, clients(SCRAM))).rejects.toThrow(
      `secret ${SECRET} holds SASL credentials: give the mechanism with --sasl scram-sha-512|scram-sha-256|plain`,
    );
  });

  test('fails when --template or --secret-arn reach the flags-only parser', () => {
    expect(() => parseRedriveArgs([...base, '--secret-arn', SECRET])).toThrow(/are read by redriveSettings/);
  });
});

/**
 * redrive with its settings from a template and its auth from Secrets Manager, against the real stand-ins: moto's
 * Secrets Manager and SQS, the real broker's SASL_SSL listener (SCRAM-SHA-512, the test CA), the Lambda emulator.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Kafka, logLevel } from 'kafkajs';
import * as te from '../../testenv';
import { redrive } from '../../cli/redrive/redrive';
import { redriveSettings } from '../../cli/redrive/settings';

jest.setTimeout(90_000);

const TARGETS = path.join(__dirname, '..', 'fixtures', 'targets');

describe('redrive --template with the auth from Secrets Manager', () => {
  const env = te.loadEnv();
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const sqs = new SQSClient(te.awsClientConfig('sqs'));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redrive-settings-'));
  const fns: te.RunningLambda[] = [];
  let target: string;

  beforeAll(async () => {
    target = `redrive-settings-${randomUUID().slice(0, 8)}`;
    fns.push(await te.startLambda({ name: target, dir: TARGETS, handler: 'index.ok' }));
  });
  afterAll(async () => {
    secrets.destroy();
    sqs.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const secret = async (value: string) =>
    (await secrets.send(new CreateSecretCommand({ Name: `redrive-${randomUUID()}`, SecretString: value }))).ARN!;

  /** A template whose mapping names its cluster, function, secrets and on-failure queue literally, as imported ones are. */
  function template(p: { topic: string; secretArn: string; caSecretArn: string; queueArn: string }): string {
    const file = path.join(dir, `${randomUUID()}.template.json`);
    const mapping = {
      Type: 'AWS::Lambda::EventSourceMapping',
      Properties: {
        FunctionName: target,
        Topics: [p.topic],
        SelfManagedEventSource: { Endpoints: { KafkaBootstrapServers: [env.kafka.bootstrap.saslSsl] } },
        SourceAccessConfigurations: [
          { Type: 'SASL_SCRAM_512_AUTH', URI: p.secretArn },
          { Type: 'SERVER_ROOT_CA_CERTIFICATE', URI: p.caSecretArn },
        ],
        DestinationConfig: { OnFailure: { Destination: p.queueArn } },
        StartingPosition: 'TRIM_HORIZON',
      },
    };
    fs.writeFileSync(file, JSON.stringify({ Resources: { OrdersMapping: mapping } }));
    return file;
  }

  const aws = (state: string) => [
    ...['--lambda-endpoint', env.lambda.endpoint, '--aws-endpoint', env.moto.endpoint],
    ...['--region', env.region, '--state-file', path.join(dir, state)],
  ];
  const records = async () =>
    (await te.listInvocations(target)).flatMap((i) =>
      Object.values(JSON.parse(i.payload).records as Record<string, { topic: string; partition: number; offset: number }[]>)
        .flat()
        .map((r) => `${r.topic}-${r.partition}@${r.offset}`),
    );

  test('reads the records again over SASL_SSL with the SCRAM user of a moto secret, from the template on-failure queue', async () => {
    // GIVEN 5 records on a topic, an on-failure record naming offsets 1..3 in a moto queue, the SCRAM user and the
    // root CA in moto secrets, and a template naming all of them
    const topic = `redrive-settings-${randomUUID()}`;
    await te.createTopic(topic, 1);
    const kafka = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [0, 1, 2, 3, 4].map((n) => ({ value: JSON.stringify({ n }) })) });
    await producer.disconnect();
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `redrive-settings-${randomUUID()}` }))).QueueUrl!;
    const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes!
      .QueueArn!;
    const recordsInfo = { [`${topic}-0`]: { firstRecordOffset: '1', lastRecordOffset: '3' } };
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ KafkaBatchInfo: { recordsInfo } }) }));
    const file = template({
      topic,
      secretArn: await secret(JSON.stringify(env.kafka.scram['SCRAM-SHA-512'])),
      caSecretArn: await secret(JSON.stringify({ certificate: env.certs.pem.caCert })),
      queueArn,
    });

    // WHEN redrive runs with the template and the endpoints only
    const notices: string[] = [];
    const o = await redriveSettings(['--template', file, ...aws(`${topic}.json`)], (l) => notices.push(l));
    const err: string[] = [];
    const summary = await redrive(o, { out: () => undefined, err: (l) => err.push(l) });

    // THEN the three records were read over SASL_SSL and reached the template's function once, the message is deleted
    expect(notices).toEqual([]);
    expect(o).toMatchObject({ fromSqs: url, functionName: target, kafka: { sasl: { mechanism: 'scram-sha-512' } } });
    expect(summary).toEqual({ redriven: 3, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect((await records()).filter((r) => r.startsWith(topic))).toEqual([`${topic}-0@1`, `${topic}-0@2`, `${topic}-0@3`]);
    const depth = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(depth.Attributes!.ApproximateNumberOfMessages).toBe('0');
    // AND no output holds the password
    expect([...notices, ...err].join('\n')).not.toContain(env.kafka.scram['SCRAM-SHA-512'].password);
  });

  test('--secret-arn with an mTLS secret (encrypted key and its password) and --ca-secret-arn read over the SSL listener', async () => {
    // GIVEN 3 records, an on-failure record naming them in a moto queue, the client certificate with its PBES2-encrypted
    // key and password in a moto secret, and the root CA in another
    const topic = `redrive-mtls-${randomUUID()}`;
    await te.createTopic(topic, 1);
    const producer = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({ topic, messages: [0, 1, 2].map((n) => ({ value: JSON.stringify({ n }) })) });
    await producer.disconnect();
    const url = (await sqs.send(new CreateQueueCommand({ QueueName: `redrive-mtls-${randomUUID()}` }))).QueueUrl!;
    const recordsInfo = { [`${topic}-0`]: { firstRecordOffset: '0', lastRecordOffset: '2' } };
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ KafkaBatchInfo: { recordsInfo } }) }));
    const { pem, passwords } = env.certs;
    const secretArn = await secret(
      JSON.stringify({ certificate: pem.clientChain, privateKey: pem.clientKeyPbes2, privateKeyPassword: passwords.pbes2 }),
    );
    const caSecretArn = await secret(JSON.stringify({ certificate: pem.caCert }));

    // WHEN redrive runs with the flags only
    const o = await redriveSettings(
      [
        ...['--from-sqs', url, '--bootstrap-servers', env.kafka.bootstrap.ssl, '--function-name', target],
        ...['--secret-arn', secretArn, '--ca-secret-arn', caSecretArn, ...aws(`${topic}.json`)],
      ],
      () => undefined,
    );
    const summary = await redrive(o, { out: () => undefined, err: () => undefined });

    // THEN the records were read with the client certificate and reached the function once
    expect(o.kafka.sasl).toBeUndefined();
    expect(summary).toEqual({ redriven: 3, alreadyDone: 0, failedAgain: 0, expired: 0, unreadable: 0 });
    expect((await records()).filter((r) => r.startsWith(topic))).toEqual([0, 1, 2].map((n) => `${topic}-0@${n}`));
  });

  test('fails naming the secret ARN and the fix when the secret is missing or malformed, never its value', async () => {
    // GIVEN a secret that is not JSON, one without a password, and an ARN that names no secret
    const notJson = await secret('hunter2-not-json');
    const noPassword = await secret(JSON.stringify({ username: 'hunter2-user' }));
    const missing = notJson.replace(/redrive-[^:]+$/, 'redrive-gone-AbCdEf');
    const base = [
      '--from-sqs',
      'q',
      '--bootstrap-servers',
      env.kafka.bootstrap.saslSsl,
      '--function-name',
      target,
      '--sasl',
      'scram-sha-512',
    ];
    const settings = (arn: string) => redriveSettings([...base, '--secret-arn', arn, ...aws('unused.json')], () => undefined);

    // WHEN each is read THEN the error names the ARN, what the secret should hold or the flag, and no value
    await expect(settings(notJson)).rejects.toThrow(
      `secret ${notJson} is not a JSON object; a SASL secret is {"username": "…", "password": "…"}`,
    );
    await expect(settings(noPassword)).rejects.toThrow(`secret ${noPassword} has no "password" string field; a SASL secret is`);
    await expect(settings(missing)).rejects.toThrow(
      new RegExp(
        `^secret ${missing} cannot be read \\(ResourceNotFoundException: .*\\); give the ARN of an existing secret with --secret-arn$`,
      ),
    );
    for (const arn of [notJson, noPassword])
      await expect(settings(arn)).rejects.toThrow(expect.objectContaining({ message: expect.not.stringContaining('hunter2') }));
  });
});

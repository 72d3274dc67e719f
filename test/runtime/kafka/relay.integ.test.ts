import { CreateSecretCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomUUID } from 'node:crypto';
import * as te from '../../../testenv';
import { KafkaRelay, KafkaRelayOptions, RelayError } from '../../../runtime';
import { readTopic } from '../support';

jest.setTimeout(120_000);

describe('KafkaRelay against the real broker', () => {
  const env = te.loadEnv();
  const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager'));
  const relays: KafkaRelay[] = [];
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.disconnect()));
    secrets.destroy();
  });

  async function secret(value: object): Promise<string> {
    const out = await secrets.send(
      new CreateSecretCommand({ Name: `relay-${randomUUID()}`, SecretString: JSON.stringify(value) }),
    );
    return out.ARN!;
  }
  const oneLine = (pem: string) => pem.replace(/\n/g, ' ').trim(); // as Lambda's documentation shows secrets
  const relay = (o: Omit<KafkaRelayOptions, 'secretsClient'>) => {
    const r = new KafkaRelay({ ...o, secretsClient: secrets });
    relays.push(r);
    return r;
  };
  const topic = async () => {
    const t = `relay-${randomUUID()}`;
    await te.createTopic(t, 1);
    return t;
  };
  const item = (offset: number) => ({ record: { topic: 'src', partition: 4, offset }, result: { ok: offset } });

  test.each(['scram-sha-256', 'scram-sha-512'] as const)(
    "%s over SASL_SSL with the root CA from a secret: response records with the Confluent connector's key and headers",
    async (auth) => {
      // GIVEN SCRAM credentials and the root CA in Secrets Manager
      const user = env.kafka.scram[auth === 'scram-sha-256' ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512'];
      const responseTopic = await topic();
      const r = relay({
        bootstrapServers: [env.kafka.bootstrap.saslSsl],
        auth,
        responseTopic,
        secretArn: await secret(user),
        rootCaSecretArn: await secret({ certificate: oneLine(env.certs.pem.caCert) }),
      });
      // WHEN two results are relayed
      await r.sendResponses([item(7), item(8)]);
      // THEN the topic holds them keyed by the source coordinates
      const got = await readTopic(te, responseTopic, 2);
      expect(got.map((m) => JSON.parse(m.key))).toEqual([
        { topic: 'src', partition: 4, offset: 7 },
        { topic: 'src', partition: 4, offset: 8 },
      ]);
      expect(JSON.parse(got[0].value)).toEqual({ ok: 7 });
      expect(got[0].headers).toEqual({ 'source-topic': 'src', 'source-partition': '4', 'source-offset': '7' });
    },
  );

  test('plain (SASL/PLAIN) over SASL_SSL: the broker accepts the PLAIN user from the secret and refuses a wrong password', async () => {
    // GIVEN the broker's PLAIN user in a secret, and the same user with a wrong password
    const responseTopic = await topic();
    const ca = await secret({ certificate: env.certs.pem.caCert });
    const good = relay({
      bootstrapServers: [env.kafka.bootstrap.saslSsl],
      auth: 'plain',
      responseTopic,
      secretArn: await secret(env.kafka.plain),
      rootCaSecretArn: ca,
    });
    const bad = relay({
      bootstrapServers: [env.kafka.bootstrap.saslSsl],
      auth: 'plain',
      responseTopic,
      secretArn: await secret({ username: env.kafka.plain.username, password: 'wrong' }),
      rootCaSecretArn: ca,
    });
    // WHEN each relays a result
    await good.sendResponses([item(3)]);
    const refused = await bad.sendResponses([item(4)]).then(
      () => undefined,
      (e: Error) => e,
    );
    // THEN only the right credentials reach the topic
    const got = await readTopic(te, responseTopic, 1);
    expect(JSON.parse(got[0].key)).toEqual({ topic: 'src', partition: 4, offset: 3 });
    expect(refused).toBeInstanceOf(RelayError);
  });

  test.each([
    ['an unencrypted PKCS#8 key', 'clientKey', undefined],
    ['a PBES2-encrypted key', 'clientKeyPbes2', 'pbes2'],
    ['a PBES1-encrypted key', 'clientKeyPbes1', 'pbes1'],
  ] as const)(
    "mTLS with %s in the mapping's secret format: error records with the Confluent connector's schema",
    async (_label, keyName, password) => {
      const errorTopic = await topic();
      const r = relay({
        bootstrapServers: [env.kafka.bootstrap.ssl],
        auth: 'mtls',
        errorTopic,
        secretArn: await secret({
          certificate: oneLine(env.certs.pem.clientChain),
          privateKey: oneLine(env.certs.pem[keyName]),
          ...(password ? { privateKeyPassword: env.certs.passwords[password] } : {}),
        }),
        rootCaSecretArn: await secret({ certificate: env.certs.pem.caCert }),
      });
      await r.sendErrors([
        {
          topic: 'src',
          partition: 1,
          startOffset: 10,
          endOffset: 12,
          functionName: 'target',
          inputPayload: '[1,2]',
          details: {
            statusCode: 200,
            functionError: 'Unhandled',
            logResult: 'log',
            payload: '{"errorMessage":"x"}',
            executedVersion: '$LATEST',
          },
          records: [
            { offset: 10, value: 'AQI=' },
            { offset: 11, value: null },
          ],
          outcome: 'unknown',
        },
      ]);
      const [m] = await readTopic(te, errorTopic, 1);
      expect(JSON.parse(m.key)).toEqual({ topic: 'src', partition: 1, startOffset: 10, endOffset: 12 });
      expect(JSON.parse(m.value)).toEqual({
        functionName: 'target',
        inputPayload: '[1,2]',
        statusCode: 200,
        functionError: 'Unhandled',
        logResult: 'log',
        payload: '{"errorMessage":"x"}',
        executedVersion: '$LATEST',
        outcome: 'unknown',
        records: [
          { offset: 10, value: 'AQI=' },
          { offset: 11, value: null },
        ],
      });
      expect(m.headers).toMatchObject({ 'source-start-offset': '10', 'source-end-offset': '12' });
    },
  );

  test('GIVEN a send the broker took for one partition and refused for another WHEN the relay sends again THEN every later record is written', async () => {
    // GIVEN a response topic of 2 partitions that takes records of at most 4 KB, and keys of each partition
    const responseTopic = `relay-${randomUUID()}`;
    await te.createTopic(responseTopic, 2, env, [{ name: 'max.message.bytes', value: '4096' }]);
    const { Partitioners } = await import('kafkajs');
    const partitionOf = Partitioners.DefaultPartitioner();
    const metadata = [0, 1].map((partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
    const keyOf = (offset: number) => JSON.stringify({ topic: 'src', partition: 4, offset });
    const offsets = Array.from({ length: 40 }, (_, i) => i);
    const on = (p: number) =>
      offsets.filter(
        (o) => partitionOf({ topic: responseTopic, partitionMetadata: metadata, message: { key: keyOf(o), value: '' } }) === p,
      );
    const [a, b] = [on(0), on(1)];
    const r = relay({ bootstrapServers: [env.kafka.bootstrap.plaintext], responseTopic });
    // WHEN one send holds a small result for partition 0 and one too large for partition 1 THEN it fails
    await expect(
      r.sendResponses([item(a[0]), { record: { topic: 'src', partition: 4, offset: b[0] }, result: 'x'.repeat(8_000) }]),
    ).rejects.toThrow(RelayError);
    // AND the next sends to partition 0, of another number of records and then of the same, succeed
    await r.sendResponses([item(a[1]), item(a[2])]);
    await r.sendResponses([item(a[3])]);
    // THEN partition 0 holds the record the broker took and every later one, each once
    const got = await readTopic(te, responseTopic, 4);
    expect(got.map((m) => JSON.parse(m.key).offset).sort((x, y) => x - y)).toEqual(
      [a[0], a[1], a[2], a[3]].sort((x, y) => x - y),
    );
  });

  test('fails with RelayError for a wrong SCRAM password; reads the secret again and succeeds once it is fixed, same relay', async () => {
    // GIVEN a secret with a stale password
    const user = env.kafka.scram['SCRAM-SHA-512'];
    const responseTopic = await topic();
    const secretArn = await secret({ ...user, password: 'stale-password' });
    const r = relay({
      bootstrapServers: [env.kafka.bootstrap.saslSsl],
      auth: 'scram-sha-512',
      responseTopic,
      secretArn,
      rootCaSecretArn: await secret({ certificate: env.certs.pem.caCert }),
    });
    // WHEN relaying THEN authentication fails with a typed error
    await expect(r.sendResponses([item(1)])).rejects.toThrow(RelayError);
    // WHEN the secret is updated (rotation) THEN the same relay picks it up on the next send
    await secrets.send(new PutSecretValueCommand({ SecretId: secretArn, SecretString: JSON.stringify(user) }));
    await r.sendResponses([item(2)]);
    const [m] = await readTopic(te, responseTopic, 1);
    expect(JSON.parse(m.key).offset).toBe(2);
  });

  test('fails with RelayError for a secret without the password field', async () => {
    const r = relay({
      bootstrapServers: [env.kafka.bootstrap.saslSsl],
      auth: 'scram-sha-512',
      responseTopic: 'x',
      secretArn: await secret({ username: 'u' }),
    });
    await expect(r.sendResponses([item(1)])).rejects.toThrow(/has no "password" string field/);
  });

  test('MSK IAM: the OAUTHBEARER provider returns a token from aws-msk-iam-sasl-signer-js (handshake needs MSK)', async () => {
    // GIVEN an MSK IAM relay with the default token provider and credentials in the environment, as in Lambda
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: env.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: env.credentials.sessionToken,
    });
    const r = relay({
      bootstrapServers: ['b-1.example.kafka.us-east-1.amazonaws.com:9098'],
      auth: 'msk-iam',
      region: 'us-east-1',
    });
    // WHEN the producer settings are resolved and the provider is called
    const settings = await r.settings();
    expect(settings.ssl).toBe(true);
    const sasl = settings.sasl as { mechanism: string; oauthBearerProvider: () => Promise<{ value: string }> };
    expect(sasl.mechanism).toBe('oauthbearer');
    const { value } = await sasl.oauthBearerProvider();
    // THEN the token is a base64url SigV4-presigned kafka-cluster:Connect URL for the region
    const url = new URL(Buffer.from(value, 'base64url').toString('utf8'));
    expect(url.hostname).toBe('kafka.us-east-1.amazonaws.com');
    expect(url.searchParams.get('Action')).toBe('kafka-cluster:Connect');
    expect(url.searchParams.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });
});

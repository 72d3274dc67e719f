/**
 * The secrets KafkaTrigger synthesizes have exactly the JSON shape a real Kafka client can use.
 * GIVEN a trigger synthesized with the testenv PKI, WHEN its secret values are stored in (moto's) Secrets
 * Manager, read back and handed to kafkajs, THEN kafkajs authenticates to the real broker: SASL/SCRAM-512
 * over SASL_SSL with the root CA secret, and mTLS over SSL with the client certificate secret.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateSecretCommand,
  GetRandomPasswordCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { SecretValue } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Kafka, KafkaConfig, SASLOptions, logLevel } from 'kafkajs';
import { KafkaAuth, KafkaCluster, KafkaTrigger } from '../../lib';
import * as te from '../../testenv';
import { testFunction, testStack } from './support';

jest.setTimeout(120_000);

const env = te.loadEnv();
const secrets = new SecretsManagerClient(te.awsClientConfig('secretsmanager', env));

/** Secret resources of a synthesized template, by logical id prefix. */
function secretResources(template: Template): { [id: string]: any } {
  return template.findResources('AWS::SecretsManager::Secret');
}

function resource(template: Template, prefix: string): any {
  const [entry] = Object.entries(secretResources(template)).filter(([id]) => id.startsWith(prefix));
  if (!entry) throw new Error(`no secret ${prefix}* in the template`);
  return entry[1].Properties;
}

/** Stores a secret string in Secrets Manager and reads it back, as Lambda's poller would. */
async function roundTripSecret(value: string): Promise<{ [key: string]: string }> {
  const name = `ckl-trigger-${randomUUID()}`;
  await secrets.send(new CreateSecretCommand({ Name: name, SecretString: value }));
  const read = await secrets.send(new GetSecretValueCommand({ SecretId: name }));
  return JSON.parse(read.SecretString!);
}

/** Connects with the given config and lists topics: a full authenticated round trip to the broker. */
async function describe(config: KafkaConfig): Promise<void> {
  const admin = new Kafka({ ...config, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    expect(cluster.brokers.length).toBeGreaterThan(0);
  } finally {
    await admin.disconnect();
  }
}

function synthesize(auth: KafkaAuth): Template {
  const stack = testStack();
  new KafkaTrigger(stack, 'Trigger', {
    cluster: KafkaCluster.selfManaged({
      bootstrapServers: [env.kafka.bootstrap.ssl],
      rootCaCertificatePem: env.certs.pem.caCert,
    }),
    topics: ['orders'],
    target: testFunction(stack),
    auth,
  });
  return Template.fromStack(stack);
}

test.each([
  ['SCRAM-SHA-512', 'scram-sha-512', (username: string) => KafkaAuth.scram512({ username })],
  ['SCRAM-SHA-256', 'scram-sha-256', (username: string) => KafkaAuth.scram256({ username })],
] as const)(
  'the created %s secret and root CA secret let kafkajs authenticate over SASL_SSL',
  async (brokerMechanism, clientMechanism, auth) => {
    // GIVEN the SCRAM secret the trigger synthesizes: a username and a password Secrets Manager generates
    const template = synthesize(auth(`esm-${randomUUID().slice(0, 8)}`));
    const generate = resource(template, 'TriggerSaslSecret').GenerateSecretString;
    const { RandomPassword } = await secrets.send(
      new GetRandomPasswordCommand({
        PasswordLength: generate.PasswordLength,
        ExcludePunctuation: generate.ExcludePunctuation,
      }),
    );
    const value = JSON.stringify({ ...JSON.parse(generate.SecretStringTemplate), [generate.GenerateStringKey]: RandomPassword });
    const scram = await roundTripSecret(value);
    const rootCa = await roundTripSecret(resource(template, 'TriggerRootCaSecret').SecretString);
    // AND the broker knows that user (what the construct's warning tells the operator to do)
    await te.setScramPassword({ username: scram.username, password: scram.password, mechanism: brokerMechanism }, env);
    // WHEN kafkajs connects with exactly the secrets' fields
    // THEN the broker accepts it
    await describe({
      clientId: 'ckl-trigger-scram',
      brokers: [env.kafka.bootstrap.saslSsl],
      ssl: { ca: [rootCa.certificate] },
      sasl: { mechanism: clientMechanism, username: scram.username, password: scram.password } as SASLOptions,
    });
    // AND a wrong password is refused, so the check above could fail
    await expect(
      describe({
        clientId: 'ckl-trigger-scram-bad',
        brokers: [env.kafka.bootstrap.saslSsl],
        ssl: { ca: [rootCa.certificate] },
        sasl: { mechanism: clientMechanism, username: scram.username, password: `${scram.password}x` } as SASLOptions,
      }),
    ).rejects.toThrow();
  },
);

test('the created mTLS secret (chain, PBES1 key, password) lets kafkajs authenticate over SSL', async () => {
  // GIVEN the client certificate secret synthesized from the testenv PKI: client → intermediate → root, PBES1 key
  const template = synthesize(
    KafkaAuth.mtls({
      certificateChainPem: env.certs.pem.clientChain + env.certs.pem.caCert,
      privateKeyPem: SecretValue.unsafePlainText(env.certs.pem.clientKeyPbes1),
      privateKeyPassword: SecretValue.unsafePlainText(env.certs.passwords.pbes1),
    }),
  );
  const client = await roundTripSecret(resource(template, 'TriggerClientCertificateSecret').SecretString);
  const rootCa = await roundTripSecret(resource(template, 'TriggerRootCaSecret').SecretString);
  expect(Object.keys(client).sort()).toEqual(['certificate', 'privateKey', 'privateKeyPassword']);
  // WHEN kafkajs connects with the secret's certificate, key and password
  // THEN the broker (which requires client certificates) accepts it
  await describe({
    clientId: 'ckl-trigger-mtls',
    brokers: [env.kafka.bootstrap.ssl],
    ssl: { ca: [rootCa.certificate], cert: client.certificate, key: client.privateKey, passphrase: client.privateKeyPassword },
  });
  // AND without the client certificate the broker refuses the connection
  await expect(
    describe({ clientId: 'ckl-trigger-no-cert', brokers: [env.kafka.bootstrap.ssl], ssl: { ca: [rootCa.certificate] } }),
  ).rejects.toThrow();
});

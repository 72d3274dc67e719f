/**
 * Smoke tests: the Apache Kafka stand-in is a real broker on every listener the project supports.
 * GIVEN the test environment started by jest globalSetup (testenv/), WHEN kafkajs clients connect
 * with each authentication method, THEN records round-trip, and bad credentials are refused.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, KafkaConfig, logLevel } from 'kafkajs';
import * as te from '../../testenv';

jest.setTimeout(90_000);

const env = te.loadEnv();

/** Produce one record and read it back with a fresh consumer group; returns the value read. */
async function roundTrip(config: KafkaConfig, topic = `smoke-${randomUUID()}`): Promise<string> {
  const kafka = new Kafka({ ...config, logLevel: logLevel.NOTHING });
  const value = `hello-${randomUUID()}`;
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key: 'k', value }] });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `g-${randomUUID()}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no record consumed within 30s')), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          clearTimeout(timer);
          resolve(String(message.value));
        },
      });
    }).then((v) => {
      expect(v).toBe(value);
      return v;
    });
  } finally {
    await consumer.disconnect();
  }
}

/** Connect an admin client and ask for metadata; rejects when the broker refuses the client. */
async function describeCluster(config: KafkaConfig): Promise<number> {
  const admin = new Kafka({ ...config, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    const c = await admin.describeCluster();
    return c.brokers.length;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

describe('Kafka stand-in', () => {
  test('GIVEN the PLAINTEXT listener WHEN a record is produced THEN it is consumed back', async () => {
    await expect(roundTrip(te.kafkaClientConfig('plaintext'))).resolves.toMatch(/^hello-/);
  });

  test.each(['SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'] as const)(
    'GIVEN SASL_SSL with %s and the test CA WHEN a record is produced THEN it is consumed back',
    async (mechanism) => {
      await expect(roundTrip(te.kafkaClientConfig('saslSsl', { mechanism }))).resolves.toMatch(/^hello-/);
    },
  );

  test('GIVEN the SSL listener and a client cert chained via the intermediate CA WHEN a record is produced THEN it is consumed back', async () => {
    await expect(roundTrip(te.kafkaClientConfig('ssl'))).resolves.toMatch(/^hello-/);
  });

  test('GIVEN the PBES1 (PBE-SHA1-3DES) encrypted client key and its password WHEN connecting over mTLS THEN the broker accepts it', async () => {
    const base = te.kafkaClientConfig('ssl');
    expect(env.certs.pem.clientKeyPbes1).toContain('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    const ssl = { ...base.ssl, key: env.certs.pem.clientKeyPbes1, passphrase: env.certs.passwords.pbes1 };
    await expect(describeCluster({ ...base, ssl })).resolves.toBe(1);
  });

  test('GIVEN a wrong SCRAM-SHA-512 password WHEN connecting THEN authentication is refused', async () => {
    const cfg = te.kafkaClientConfig('saslSsl', { mechanism: 'SCRAM-SHA-512' });
    await expect(
      describeCluster({ ...cfg, sasl: { mechanism: 'scram-sha-512', username: cfg.sasl!.username, password: 'wrong-password' } }),
    ).rejects.toThrow(/SASL SCRAM SHA512 authentication failed|authentication failed/i);
  });

  test('GIVEN the SSL listener WHEN a client presents no certificate THEN the connection is refused', async () => {
    const cfg = te.kafkaClientConfig('ssl');
    await expect(describeCluster({ ...cfg, ssl: { ca: cfg.ssl!.ca } })).rejects.toThrow();
  });

  test('GIVEN the SSL listener WHEN a client presents a certificate from an untrusted CA THEN the connection is refused', async () => {
    const cfg = te.kafkaClientConfig('ssl');
    const ssl = { ca: cfg.ssl!.ca, cert: env.certs.pem.untrustedClientCert, key: env.certs.pem.untrustedClientKey };
    await expect(describeCluster({ ...cfg, ssl })).rejects.toThrow();
  });

  test('GIVEN a SCRAM user WHEN its password is changed at runtime THEN the old password fails and the new one works', async () => {
    const username = `rotate-${randomUUID().slice(0, 8)}`;
    const base = te.kafkaClientConfig('saslSsl', { mechanism: 'SCRAM-SHA-256' });
    const withPw = (password: string): KafkaConfig => ({ ...base, sasl: { mechanism: 'scram-sha-256', username, password } });
    await te.setScramPassword({ username, password: 'first-password', mechanism: 'SCRAM-SHA-256' });
    await expect(describeCluster(withPw('first-password'))).resolves.toBe(1);
    await te.setScramPassword({ username, password: 'second-password', mechanism: 'SCRAM-SHA-256' });
    await expect(describeCluster(withPw('first-password'))).rejects.toThrow(/authentication failed/i);
    await expect(describeCluster(withPw('second-password'))).resolves.toBe(1);
  });

  test('GIVEN createTopic with 3 partitions WHEN reading metadata THEN the topic has 3 partitions', async () => {
    const topic = `parts-${randomUUID()}`;
    await te.createTopic(topic, 3);
    const admin = new Kafka({ ...te.kafkaClientConfig('plaintext'), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const md = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(md.topics[0].partitions).toHaveLength(3);
    } finally {
      await admin.disconnect();
    }
  });

  test('GIVEN the environment WHEN reading env.json THEN the broker runs the configured Kafka version', () => {
    expect(env.kafka.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(env.kafka.libDir).toContain(`kafka-${env.kafka.version}`);
  });
});

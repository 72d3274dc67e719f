'use strict';
/**
 * Apache Kafka, KRaft single node (broker + controller in one JVM), configured for every listener
 * the project supports: PLAINTEXT, SASL_SSL (SCRAM-SHA-256, SCRAM-SHA-512, PLAIN), SSL with
 * required client certificates, plus the CONTROLLER listener. PEM key/trust stores avoid keytool.
 */
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const { TESTENV_DIR, freePort, run, log } = require('./util');

/** Broker JVM flags; CKL_KAFKA_JVM_OPTS (space separated) replaces them, e.g. for benchmarks. */
const JAVA_OPTS = process.env.CKL_KAFKA_JVM_OPTS
  ? process.env.CKL_KAFKA_JVM_OPTS.split(/\s+/).filter(Boolean)
  : ['-Xms512m', '-Xmx512m', '-XX:+UseG1GC', '-Djava.awt.headless=true'];

/**
 * Random Kafka cluster id: 16 random bytes, base64url without padding (what `random-uuid` prints).
 * Never starting with '-', which the StorageTool argument parser would take for an option.
 */
function clusterId() {
  for (;;) {
    const id = crypto.randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Write server.properties and logging config, format the storage with the SCRAM users, and return
 * the env.json `kafka` section plus the service spec used to (re)start the broker.
 */
async function prepareKafka({ runDir, certs, install, properties = {} }) {
  for (const [k, v] of Object.entries(properties)) {
    if (!/^[A-Za-z0-9._-]+$/.test(k) || typeof v !== 'string' || /[\r\n]/.test(v)) {
      throw new Error(
        `kafkaProperties: ${JSON.stringify(k)}=${JSON.stringify(v)} is not a broker property (name of letters, digits, '.', '_', '-'; value a one-line string)`,
      );
    }
  }
  const dir = path.join(runDir, 'kafka');
  const dataDir = path.join(dir, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const [plaintext, saslSsl, ssl, controller] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const pw = () => crypto.randomBytes(9).toString('base64url');
  const scram = {
    'SCRAM-SHA-256': { username: 'ckl-scram256', password: pw() },
    'SCRAM-SHA-512': { username: 'ckl-scram512', password: pw() },
  };
  const plain = { username: 'ckl-plain', password: pw() };
  const h = '127.0.0.1';
  const props = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@${h}:${controller}`,
    listeners: `PLAINTEXT://${h}:${plaintext},SASL_SSL://${h}:${saslSsl},SSL://${h}:${ssl},CONTROLLER://${h}:${controller}`,
    'advertised.listeners': `PLAINTEXT://${h}:${plaintext},SASL_SSL://${h}:${saslSsl},SSL://${h}:${ssl}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512,PLAIN',
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config': 'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required user_${plain.username}="${plain.password}";`,
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': certs.files.brokerKeystore,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': certs.files.caCert,
    // mTLS only on the SSL listener; SASL_SSL clients authenticate with SASL, not certificates.
    'listener.name.ssl.ssl.client.auth': 'required',
    'listener.name.sasl_ssl.ssl.client.auth': 'none',
    'log.dirs': dataDir,
    'auto.create.topics.enable': 'true',
    'num.partitions': '1',
    'default.replication.factor': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '4',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'min.insync.replicas': '1',
    'group.initial.rebalance.delay.ms': '0',
    'log.segment.bytes': String(16 * 1024 * 1024),
    'log.retention.check.interval.ms': '300000',
    // Extra broker settings of this run (e.g. connections.max.reauth.ms); kept in server.properties across restarts.
    ...properties,
  };
  const propsFile = path.join(dir, 'server.properties');
  fs.writeFileSync(
    propsFile,
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  // Kafka 3.x logs with reload4j (log4j 1 syntax), 4.x with log4j2; give each its file.
  const log4j = path.join(dir, 'log4j.properties');
  fs.writeFileSync(
    log4j,
    [
      'log4j.rootLogger=INFO, stdout',
      'log4j.appender.stdout=org.apache.log4j.ConsoleAppender',
      'log4j.appender.stdout.layout=org.apache.log4j.PatternLayout',
      'log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n',
      'log4j.logger.kafka=INFO',
      'log4j.logger.org.apache.kafka=INFO',
      '',
    ].join('\n'),
  );
  const log4j2 = path.join(dir, 'log4j2.properties');
  fs.writeFileSync(
    log4j2,
    [
      'appender.stdout.type=Console',
      'appender.stdout.name=STDOUT',
      'appender.stdout.layout.type=PatternLayout',
      'appender.stdout.layout.pattern=[%d] %p %m (%c)%n',
      'rootLogger.level=INFO',
      'rootLogger.appenderRef.stdout.ref=STDOUT',
      '',
    ].join('\n'),
  );
  const cp = `${install.libDir}/*`;
  const logProps = [`-Dlog4j.configuration=file:${log4j}`, `-Dlog4j2.configurationFile=${log4j2}`];

  const t = Date.now();
  const scramArgs = Object.entries(scram).flatMap(([mech, u]) => [
    '--add-scram',
    `${mech}=[name=${u.username},password=${u.password}]`,
  ]);
  await run(
    'java',
    ['-Xmx256m', ...logProps, '-cp', cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', propsFile, ...scramArgs],
    { cwd: dir, timeout: 120000 },
  );
  log(`Kafka storage formatted in ${((Date.now() - t) / 1000).toFixed(1)}s`);

  const info = {
    version: install.version,
    libDir: install.libDir,
    dir,
    serverProperties: propsFile,
    /** The extra broker properties of this run (start({ kafkaProperties })). */
    properties: { ...properties },
    ports: { plaintext, saslSsl, ssl, controller },
    bootstrap: {
      plaintext: `${h}:${plaintext}`,
      saslSsl: `${h}:${saslSsl}`,
      ssl: `${h}:${ssl}`,
    },
    scram,
    plain,
  };
  const service = {
    cmd: 'java',
    args: [...JAVA_OPTS, ...logProps, `-Dkafka.logs.dir=${path.join(dir, 'logs')}`, '-cp', cp, 'kafka.Kafka', propsFile],
    cwd: dir,
    env: {},
    ready: { kind: 'kafka' },
  };
  return { info, service };
}

/** kafkajs client options per listener, built from env.json. */
function kafkaClientConfig(env, listener = 'plaintext', overrides = {}) {
  const k = env.kafka;
  const ca = [env.certs.pem.caCert];
  const base = { clientId: 'ckl-testenv', brokers: [k.bootstrap[listener]], connectionTimeout: 5000, retry: { retries: 5 } };
  // kafkajs re-authenticates before a request once the session has less than reauthenticationThreshold
  // (default 10 s) left; with a shorter broker session (connections.max.reauth.ms) that is before every
  // request, which the broker refuses (ILLEGAL_SASL_STATE). Keep the threshold inside the session.
  const reauthMs = Number((k.properties || {})['connections.max.reauth.ms']);
  if (listener === 'saslSsl' && reauthMs > 0 && reauthMs <= 20000) base.reauthenticationThreshold = Math.floor(reauthMs / 2);
  if (listener === 'saslSsl') {
    const mech = overrides.mechanism || 'SCRAM-SHA-512';
    const user = mech === 'PLAIN' ? k.plain : k.scram[mech];
    return { ...base, ssl: { ca }, sasl: { mechanism: mech.toLowerCase(), username: user.username, password: user.password } };
  }
  if (listener === 'ssl') {
    return { ...base, ssl: { ca, cert: env.certs.pem.clientChain, key: env.certs.pem.clientKey } };
  }
  return base;
}

/** Ready when every client-facing listener answers a metadata request (also proves TLS/SASL setup). */
async function kafkaReady(env) {
  const { Kafka, logLevel } = require('kafkajs');
  for (const [listener, mechanism] of [['plaintext'], ['saslSsl', 'SCRAM-SHA-256'], ['saslSsl', 'SCRAM-SHA-512'], ['ssl']]) {
    const admin = new Kafka({
      ...kafkaClientConfig(env, listener, { mechanism }),
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
    }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  return true;
}

/**
 * True when every existing topic (internal ones too, e.g. __consumer_offsets) has a leader for each
 * partition, the metadata carries no error, and each leader answers ListOffsets for its partitions
 * (a leader in the metadata whose log is not loaded yet answers UNKNOWN_TOPIC_OR_PARTITION, "This
 * server does not host this topic-partition"). Throws (not ready) with what is missing.
 */
async function partitionsLed(env) {
  const { Kafka, logLevel } = require('kafkajs');
  const admin = new Kafka({ ...kafkaClientConfig(env, 'plaintext'), logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    const names = await admin.listTopics();
    if (!names.length) return true;
    const { topics } = await admin.fetchTopicMetadata({ topics: names });
    const leaderless = topics.flatMap((t) =>
      t.partitions
        .filter((p) => !(p.leader >= 0) || p.partitionErrorCode)
        .map((p) => `${t.name}-${p.partitionId}${p.partitionErrorCode ? ` (error ${p.partitionErrorCode})` : ''}`),
    );
    if (leaderless.length)
      throw new Error(
        `partitions without a leader: ${leaderless.slice(0, 10).join(', ')}${leaderless.length > 10 ? ', ...' : ''}`,
      );
    for (const t of topics) await admin.fetchTopicOffsets(t.name);
    return true;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Change (or create) a SCRAM credential at runtime through the Admin API on the PLAINTEXT listener,
 * e.g. for password-rotation tests. Resolves once the broker accepted it; the new password is
 * usable for new connections right away.
 */
async function setScramPassword(env, { username, password, mechanism = 'SCRAM-SHA-512' }) {
  const src = path.join(TESTENV_DIR, 'java', 'ScramAdmin.java');
  await run(
    'java',
    [
      '-Xmx128m',
      '-cp',
      `${env.kafka.libDir}/*`,
      `-Dlog4j.configuration=file:${path.join(env.kafka.dir, 'log4j.properties')}`,
      src,
      env.kafka.bootstrap.plaintext,
      mechanism,
      username,
      password,
    ],
    { timeout: 60000 },
  );
}

module.exports = { prepareKafka, kafkaReady, partitionsLed, kafkaClientConfig, setScramPassword };

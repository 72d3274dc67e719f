/**
 * The cluster and its auth from the connector's consumer overrides (`consumer.override.*`): bootstrap servers,
 * security.protocol, SASL and TLS settings. Credentials are never printed: the plan names a secret to create.
 */
import { call, Expr, obj, THIS } from './codegen';
import { Derivation } from './derivation';

const C = 'consumer.override.';
const MSK_HOST = /\.kafka(-serverless)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?:\d+$/;

/** The brokers: the consumer's, else another client's of the connector (none: the code has a placeholder). */
export function brokers(d: Derivation): { servers: string[]; from?: string } {
  for (const k of [
    `${C}bootstrap.servers`,
    'aws.lambda.response.bootstrap.servers',
    'reporter.bootstrap.servers',
    'aws.lambda.error.bootstrap.servers',
    'confluent.topic.bootstrap.servers',
  ]) {
    const v = d.get(k);
    if (v)
      return {
        servers: v
          .split(',')
          .map((s) => s.trim().replace(/^[A-Za-z][A-Za-z0-9+._-]*:\/\/([^@/]*@)?/, ''))
          .filter(Boolean),
        from: k,
      };
  }
  return { servers: [] };
}

/** The username of a SASL JAAS line (never its password). */
function jaasUsername(jaas: string | undefined): string | undefined {
  return jaas ? /username\s*=\s*"([^"]*)"/.exec(jaas)?.[1] : undefined;
}

type Method = 'scram512' | 'scram256' | 'plain' | 'iam' | 'mtls' | 'none' | undefined;

/** The KafkaAuth method of the consumer's settings, and a row note for the protocol. */
function method(d: Derivation): { method: Method; tls: boolean; problem?: string } {
  const protocol = d.get(`${C}security.protocol`)?.toUpperCase();
  const mechanism = d.get(`${C}sasl.mechanism`)?.toUpperCase() ?? 'GSSAPI';
  if (protocol === undefined) return { method: undefined, tls: true };
  if (protocol === 'PLAINTEXT') return { method: 'none', tls: false };
  if (protocol === 'SSL')
    return { method: d.get(`${C}ssl.keystore.location`) || d.get(`${C}ssl.keystore.key`) ? 'mtls' : 'none', tls: true };
  const sasl: Record<string, Method> = {
    'SCRAM-SHA-512': 'scram512',
    'SCRAM-SHA-256': 'scram256',
    PLAIN: 'plain',
    AWS_MSK_IAM: 'iam',
  };
  const m = sasl[mechanism];
  if (m === undefined)
    return {
      method: 'scram512',
      tls: true,
      problem: `SASL ${mechanism} is not one Lambda takes; nearest: SCRAM-SHA-512 (generated below), SCRAM-SHA-256, PLAIN, mTLS, or IAM on MSK`,
    };
  if (protocol === 'SASL_PLAINTEXT')
    return {
      method: m,
      tls: true,
      problem: 'Lambda does not take SASL without TLS; nearest: a SASL_SSL listener on the brokers (the code assumes one)',
    };
  return { method: m, tls: true };
}

/** cluster and auth props, and the rows of the consumer's connection keys. */
export function securityKeys(d: Derivation, region: string | undefined): void {
  const { servers, from } = brokers(d);
  const msk = method(d).method === 'iam' || servers.some((s) => MSK_HOST.test(s));
  const m: ReturnType<typeof method> =
    msk && method(d).method === 'plain'
      ? {
          method: 'scram512',
          tls: true,
          problem: 'MSK does not take SASL/PLAIN; nearest: SCRAM-SHA-512 (generated below) or IAM',
        }
      : method(d);
  const placeholder = servers.length === 0;
  const bootstrap = placeholder ? ['REPLACE-ME.kafka.internal:9096'] : servers;
  if (placeholder)
    d.notes.push('The config names no brokers (consumer.override.bootstrap.servers): replace REPLACE-ME.kafka.internal:9096.');
  const tls = m.tls ? undefined : false;
  const auth = authExpr(d, m.method, msk);
  const caKey = `${C}ssl.truststore.location`;
  const rootCa = !msk && (d.get(caKey) || d.get(`${C}ssl.truststore.certificates`)) ? rootCaSecret(d) : undefined;
  const cluster = msk
    ? call(
        'KafkaCluster.msk',
        obj({
          clusterArn: `arn:aws:kafka:${region ?? 'us-east-1'}:111122223333:cluster/REPLACE-ME/REPLACE-ME`,
          bootstrapServers: placeholder ? undefined : bootstrap,
          tls,
        }),
      )
    : call('KafkaCluster.selfManaged', obj({ bootstrapServers: bootstrap, tls, rootCaSecret: rootCa }));
  if (msk)
    d.notes.push("The brokers are MSK: replace the clusterArn placeholder with the cluster's ARN (aws kafka list-clusters-v2).");
  d.set('cluster', cluster, ...(from ? [from] : []), `${C}security.protocol`);
  if (auth) d.set('auth', auth, `${C}security.protocol`, `${C}sasl.mechanism`);
  else
    d.notes.push(
      "The config has no consumer.override.security.protocol: the connector used the worker's consumer settings. Set auth to match them (the default is SCRAM-SHA-512 with a created secret).",
    );
  if (from)
    d.mapped(
      from,
      msk ? 'cluster: KafkaCluster.msk bootstrapServers (for the relay)' : 'cluster: KafkaCluster.selfManaged bootstrapServers',
    );
  securityRows(d, m, msk);
}

function authExpr(d: Derivation, m: Method, msk: boolean): Expr | undefined {
  if (m === undefined) return undefined;
  if (m === 'iam') return call('KafkaAuth.iam');
  if (m === 'none') return call('KafkaAuth.none');
  const username = jaasUsername(d.get(`${C}sasl.jaas.config`));
  if (m === 'mtls') {
    const name = `${d.name}-kafka-client-certificate`;
    d.secret({
      name,
      shape:
        '{"certificate": "<client certificate chain, PEM>", "privateKey": "<its PKCS#8 key, PEM>", "privateKeyPassword"?: "..."}',
      from: [`${C}ssl.keystore.location`, `${C}ssl.keystore.password`, `${C}ssl.key.password`].filter((k) => d.has(k)),
    });
    return call(
      'KafkaAuth.mtls',
      obj({ secret: call('secretsmanager.Secret.fromSecretNameV2', THIS, 'KafkaClientCertificate', name) }),
    );
  }
  const name = msk ? `AmazonMSK_${d.name}` : `${d.name}-kafka-credentials`;
  d.secret({
    name,
    shape: `{"username": "${username ?? '<the username of sasl.jaas.config>'}", "password": "<the password of sasl.jaas.config>"}${msk ? ' (MSK: encrypted with a customer managed key, associated with the cluster)' : ''}`,
    from: [`${C}sasl.jaas.config`].filter((k) => d.has(k)),
  });
  const secret = call('secretsmanager.Secret.fromSecretNameV2', THIS, 'KafkaCredentials', name);
  return call(`KafkaAuth.${m}`, obj({ secret }));
}

function rootCaSecret(d: Derivation): Expr {
  const name = `${d.name}-kafka-root-ca`;
  d.secret({
    name,
    shape: '{"certificate": "<the CA certificate of the truststore, PEM>"} (only when a private CA signed the brokers)',
    from: [`${C}ssl.truststore.location`, `${C}ssl.truststore.password`, `${C}ssl.truststore.certificates`].filter((k) =>
      d.has(k),
    ),
  });
  return call('secretsmanager.Secret.fromSecretNameV2', THIS, 'KafkaRootCa', name);
}

function securityRows(d: Derivation, m: ReturnType<typeof method>, msk: boolean): void {
  const p = `${C}security.protocol`;
  if (m.problem) d.row(p, 'not supported', m.problem, 'auth');
  else
    d.mapped(
      p,
      'auth',
      m.method === 'none'
        ? m.tls
          ? 'KafkaAuth.none() over TLS'
          : 'KafkaAuth.none(), cluster tls: false'
        : `KafkaAuth.${m.method}()`,
    );
  if (m.problem && d.has(`${C}sasl.mechanism`)) d.row(`${C}sasl.mechanism`, 'not supported', m.problem, 'auth');
  d.mapped(`${C}sasl.mechanism`, 'auth', `KafkaAuth.${m.method}()`);
  const iam = m.method === 'iam';
  d.row(
    `${C}sasl.jaas.config`,
    iam ? 'not needed' : 'mapped',
    iam
      ? "IAM: the mapping's and the dispatcher's roles are granted kafka-cluster actions"
      : 'auth secret (see "Secrets to create"): the password is never printed',
    iam ? undefined : 'auth.secret',
  );
  d.row(
    `${C}sasl.client.callback.handler.class`,
    'not needed',
    'Lambda and the relay sign with their roles (IAM) or read the secret',
  );
  for (const k of d.open(`${C}ssl.keystore.`).concat(d.open(`${C}ssl.key.`)))
    d.row(
      k,
      m.method === 'mtls' ? 'mapped' : 'not needed',
      m.method === 'mtls'
        ? 'the client certificate secret (see "Secrets to create")'
        : 'no client certificate with this protocol',
      m.method === 'mtls' ? 'auth.secret' : undefined,
    );
  for (const k of d.open(`${C}ssl.truststore.`))
    d.row(
      k,
      msk ? 'not needed' : 'mapped',
      msk
        ? "MSK's certificates chain to a CA Lambda trusts"
        : 'the root CA secret (see "Secrets to create"), needed only for a private CA',
      msk ? undefined : 'cluster.rootCaSecret',
    );
  const verify = d.get(`${C}ssl.endpoint.identification.algorithm`);
  d.row(
    `${C}ssl.endpoint.identification.algorithm`,
    verify ? 'not needed' : 'not supported',
    verify
      ? "Lambda verifies the brokers' host names"
      : "Lambda always verifies the brokers' host names; nearest: broker certificates that name their hosts",
  );
  for (const k of d.open(new RegExp(`^${C.replace(/\./g, '\\.')}(ssl|sasl)\\.`)))
    d.row(k, 'not needed', 'Lambda and the relay use TLS 1.2+ and the auth method above; no client TLS or SASL tuning');
}

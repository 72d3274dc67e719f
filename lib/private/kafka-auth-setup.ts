import type { X509Certificate } from 'crypto';
import { Annotations, Names, SecretValue, Stack, Token } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { KafkaAuth, KafkaAuthMethod } from '../kafka-auth';
import { KafkaCluster, KafkaClusterKind } from '../kafka-cluster';
import { PemError, parseCertificateChain, parsePrivateKey } from './pem';

/** The ARN to grant a secret by: an imported secret's partial ARN matches its random suffix. */
export function secretArnPattern(secret: secretsmanager.ISecret): string {
  return secret.secretFullArn ?? `${secret.secretArn}-??????`;
}

const MSK_PORTS = { plaintext: 9092, tls: 9094, sasl: 9096, iam: 9098 };

/** Throws a validation error naming the prop, the value and the fix. */
export type Fail = (prop: string, value: unknown, fix: string) => never;

/**
 * Checks a KafkaAuth against its KafkaCluster and creates the secrets it needs (SASL credentials with a generated
 * password, an mTLS client certificate from PEM, the brokers' root CA), with the construct ids and warnings of
 * the construct that owns them: the event source and the dispatcher's relay share these rules.
 */
export class KafkaAuthSetup {
  constructor(
    private readonly scope: Construct,
    private readonly auth: KafkaAuth,
    private readonly cluster: KafkaCluster,
    private readonly fail: Fail,
  ) {}

  /** The MSK cluster's ARN, checked. */
  public mskClusterArn(): string {
    const p = this.cluster.mskProps!;
    if (p.cluster && p.clusterArn) this.fail('cluster.clusterArn', p.clusterArn, 'give either clusterArn or cluster, not both');
    const arn = p.cluster?.attrArn ?? p.clusterArn;
    if (arn === undefined) this.fail('cluster', undefined, 'KafkaCluster.msk() needs clusterArn or cluster');
    if (!Token.isUnresolved(arn) && !/^arn:aws[a-zA-Z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/[^/]+\/[^/]+$/.test(arn)) {
      this.fail('cluster.clusterArn', arn, 'use the cluster ARN, arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>');
    }
    return arn;
  }

  /**
   * The managed VPC connection to a cluster in another account, checked against the cluster ARN and the auth, or
   * undefined for a cluster in this account.
   */
  public mskVpcConnectionArn(): string | undefined {
    const p = this.cluster.mskProps!;
    const arn = p.vpcConnectionArn;
    if (arn === undefined) return undefined;
    if (p.serverless)
      this.fail(
        'cluster.serverless',
        true,
        'Lambda has no cross-account event source mappings for MSK Serverless; read it from a function in its own account, or remove vpcConnectionArn',
      );
    if (p.cluster)
      this.fail(
        'cluster.cluster',
        p.cluster.node.path,
        'a cluster in another account is not a construct of this app; give its ARN as clusterArn with vpcConnectionArn',
      );
    if (this.auth.method === KafkaAuthMethod.NONE) {
      this.fail(
        'auth',
        'KafkaAuth.none()',
        'multi-VPC private connectivity serves IAM, SASL/SCRAM and mTLS clients only; use KafkaAuth.iam(), KafkaAuth.scram512() or KafkaAuth.mtls()',
      );
    }
    if (Token.isUnresolved(arn)) return arn;
    const m = /^arn:(aws[a-zA-Z-]*):kafka:([a-z0-9-]+):(\d{12}):vpc-connection\/(\d{12})\/([^/]+)\/[^/]+$/.exec(arn);
    if (!m)
      this.fail(
        'cluster.vpcConnectionArn',
        arn,
        'use the managed VPC connection ARN, arn:aws:kafka:<region>:<this account>:vpc-connection/<owner account>/<cluster name>/<uuid> (aws kafka list-vpc-connections)',
      );
    const [, , region, , owner, name] = m;
    const clusterArn = p.clusterArn!;
    if (!Token.isUnresolved(clusterArn)) {
      const [, , , clusterRegion, clusterAccount, resource] = clusterArn.split(':');
      const clusterName = resource.split('/')[1];
      if (clusterAccount !== owner || clusterName !== name || clusterRegion !== region) {
        this.fail(
          'cluster.clusterArn',
          clusterArn,
          `the VPC connection ${arn} leads to cluster ${name} of account ${owner} in ${region}; give that cluster's ARN`,
        );
      }
    }
    return arn;
  }

  /** The broker ports clients of this auth connect to; none when the bootstrap servers are tokens. */
  public brokerPorts(): number[] {
    if (this.cluster.kind === KafkaClusterKind.MSK) {
      const m = this.auth.method;
      if (m === KafkaAuthMethod.IAM) return [MSK_PORTS.iam];
      if (m === KafkaAuthMethod.SASL_SCRAM_512) return [MSK_PORTS.sasl];
      if (m === KafkaAuthMethod.MTLS) return [MSK_PORTS.tls];
      return [this.cluster.tls ? MSK_PORTS.tls : MSK_PORTS.plaintext];
    }
    const ports = new Set<number>();
    const servers = this.cluster.selfManagedProps!.bootstrapServers;
    // A list token (e.g. a CommaDelimitedList parameter) has no ports to read at synth.
    for (const server of Token.isUnresolved(servers) ? [] : servers) {
      if (Token.isUnresolved(server)) continue;
      const match = /^[^\s:/]+:(\d{1,5})$/.exec(server) ?? /^\[[0-9a-fA-F:]+\]:(\d{1,5})$/.exec(server);
      const port = match ? Number(match[1]) : NaN;
      if (!(port >= 1 && port <= 65535))
        this.fail('cluster.bootstrapServers', server, 'give each broker as host:port, e.g. b-1.kafka.example.com:9096');
      ports.add(port);
    }
    return [...ports];
  }

  /** Fails on an auth the cluster does not support. */
  public validate(): void {
    const m = this.auth.method;
    const msk = this.cluster.kind === KafkaClusterKind.MSK;
    const sm = this.cluster.selfManagedProps;
    if (msk && this.cluster.mskProps!.serverless && m !== KafkaAuthMethod.IAM) {
      this.fail('auth', m, 'MSK Serverless takes IAM access control only; use KafkaAuth.iam()');
    }
    if (msk && m === KafkaAuthMethod.SASL_PLAIN)
      this.fail(
        'auth',
        'KafkaAuth.plain()',
        'Amazon MSK does not support SASL/PLAIN; use KafkaAuth.scram512(), KafkaAuth.iam() or KafkaAuth.mtls()',
      );
    if (msk && m === KafkaAuthMethod.SASL_SCRAM_256)
      this.fail('auth', 'KafkaAuth.scram256()', 'Amazon MSK supports SASL/SCRAM-SHA-512 only; use KafkaAuth.scram512()');
    if (!msk && m === KafkaAuthMethod.IAM)
      this.fail(
        'auth',
        'KafkaAuth.iam()',
        'IAM access control exists for Amazon MSK only; use SASL/SCRAM, SASL/PLAIN or mTLS for a self-managed cluster',
      );
    if (!this.cluster.tls && m !== KafkaAuthMethod.NONE) {
      this.fail(
        'cluster.tls',
        false,
        `${m} needs a TLS listener (Lambda does not support SASL_PLAINTEXT); enable TLS on the brokers and set tls: true, or use KafkaAuth.none()`,
      );
    }
    if (sm) {
      if (sm.rootCaSecret && sm.rootCaCertificatePem)
        this.fail('cluster.rootCaCertificatePem', '<pem>', 'give either rootCaSecret or rootCaCertificatePem, not both');
      if (!this.cluster.tls && (sm.rootCaSecret || sm.rootCaCertificatePem))
        this.fail('cluster.tls', false, 'a root CA certificate is for TLS listeners; set tls: true or remove the root CA');
      if (sm.bootstrapServers.length === 0)
        this.fail('cluster.bootstrapServers', sm.bootstrapServers, 'give at least one host:port');
      if (sm.vpc && this.cluster.selfManagedProps!.securityGroups?.length === 0)
        this.fail('cluster.securityGroups', [], 'give at least one security group, or leave it unset to create one');
    }
    if (m === KafkaAuthMethod.MTLS) {
      const p = this.auth.mtlsProps!;
      if (p.secret && (p.certificateChainPem || p.privateKeyPem))
        this.fail('auth.secret', p.secret.secretArn, 'give either secret or certificateChainPem + privateKeyPem, not both');
      if (!p.secret && (!p.certificateChainPem || !p.privateKeyPem)) {
        this.fail(
          p.certificateChainPem ? 'auth.privateKeyPem' : 'auth.certificateChainPem',
          undefined,
          'KafkaAuth.mtls() needs secret, or certificateChainPem and privateKeyPem',
        );
      }
    }
    if (msk && m === KafkaAuthMethod.SASL_SCRAM_512 && this.auth.saslProps?.secret) {
      const secret = this.auth.saslProps.secret;
      if (!Token.isUnresolved(secret.secretName) && !secret.secretName.startsWith('AmazonMSK_')) {
        this.fail(
          'auth.secret',
          secret.secretName,
          'Amazon MSK only associates SCRAM secrets whose name starts with "AmazonMSK_"; rename the secret',
        );
      }
      if (!secret.encryptionKey) {
        this.fail(
          'auth.secret.encryptionKey',
          undefined,
          'Amazon MSK refuses SCRAM secrets encrypted with the AWS managed key; encrypt it with a customer managed key and import it with Secret.fromSecretAttributes({ secretCompleteArn, encryptionKey }) so the key can be granted',
        );
      }
    }
  }

  /** The secrets the auth needs and does not name, created in the scope. */
  public createSecrets(): { key?: kms.Key; authSecret?: secretsmanager.ISecret; rootCaSecret?: secretsmanager.ISecret } {
    let key: kms.Key | undefined;
    const secretsKey = () =>
      (key ??= new kms.Key(this.scope, 'SecretsKey', {
        description: `Encrypts the Kafka credentials of ${this.scope.node.path}`,
        enableKeyRotation: true,
      }));
    const m = this.auth.method;
    const msk = this.cluster.kind === KafkaClusterKind.MSK;
    let authSecret: secretsmanager.ISecret | undefined;
    if (m === KafkaAuthMethod.SASL_SCRAM_512 || m === KafkaAuthMethod.SASL_SCRAM_256 || m === KafkaAuthMethod.SASL_PLAIN) {
      const p = this.auth.saslProps ?? {};
      authSecret =
        p.secret ??
        new secretsmanager.Secret(this.scope, 'SaslSecret', {
          // MSK associates only secrets named AmazonMSK_* and encrypted with a customer managed key.
          secretName: msk ? `AmazonMSK_${Names.uniqueResourceName(this.scope, { maxLength: 100, separator: '-' })}` : undefined,
          description: `SASL credentials Lambda uses for ${this.scope.node.path}`,
          encryptionKey: secretsKey(),
          generateSecretString: {
            secretStringTemplate: JSON.stringify({ username: p.username ?? 'lambda-esm' }),
            generateStringKey: 'password',
            excludePunctuation: true,
            passwordLength: 32,
          },
        });
      if (!p.secret) {
        const user = p.username ?? 'lambda-esm';
        const todo = msk
          ? 'associate it with the MSK cluster (aws kafka batch-associate-scram-secret)'
          : m === KafkaAuthMethod.SASL_PLAIN
            ? `add user ${user} with the secret's password to the brokers' PLAIN login configuration`
            : `create user ${user} on the brokers (kafka-configs --alter --entity-type users --entity-name ${user} ` +
              `--add-config '${m === KafkaAuthMethod.SASL_SCRAM_256 ? 'SCRAM-SHA-256' : 'SCRAM-SHA-512'}=[password=<the secret's password>]')`;
        Annotations.of(this.scope).addWarningV2(
          'cdk-kafka-lambda:createdSaslSecret',
          `A SASL secret with a generated password is created; ${todo} and grant the user the ACLs Lambda needs (Describe/Read on the topics and the group, DescribeConfigs on the cluster).`,
        );
      }
    } else if (m === KafkaAuthMethod.MTLS) {
      const p = this.auth.mtlsProps!;
      if (p.secret) {
        authSecret = p.secret;
      } else {
        this.validateClientCertificate(p.certificateChainPem!, p.privateKeyPem!, p.privateKeyPassword);
        const value: { [key: string]: SecretValue } = {
          certificate: SecretValue.unsafePlainText(p.certificateChainPem!),
          privateKey: p.privateKeyPem!,
        };
        if (p.privateKeyPassword) value.privateKeyPassword = p.privateKeyPassword;
        authSecret = new secretsmanager.Secret(this.scope, 'ClientCertificateSecret', {
          description: `mTLS client certificate Lambda uses for ${this.scope.node.path}`,
          encryptionKey: secretsKey(),
          secretObjectValue: value,
        });
      }
    }
    let rootCaSecret: secretsmanager.ISecret | undefined;
    const sm = this.cluster.selfManagedProps;
    if (sm?.rootCaSecret) rootCaSecret = sm.rootCaSecret;
    if (sm?.rootCaCertificatePem) {
      const pem = sm.rootCaCertificatePem;
      if (!Token.isUnresolved(pem)) {
        this.pemCheck('cluster.rootCaCertificatePem', () => {
          if (parseCertificateChain(pem).certificates.length !== 1)
            throw new PemError('must hold exactly one certificate, the root CA');
        });
      }
      rootCaSecret = new secretsmanager.Secret(this.scope, 'RootCaSecret', {
        description: `Root CA certificate of the brokers of ${this.scope.node.path}`,
        encryptionKey: secretsKey(),
        secretObjectValue: { certificate: SecretValue.unsafePlainText(pem) },
      });
    }
    return { key, authSecret, rootCaSecret };
  }

  private pemCheck(prop: string, check: () => void): void {
    try {
      check();
    } catch (e) {
      if (e instanceof PemError) this.fail(prop, '<pem>', e.message);
      throw e;
    }
  }

  /** Literal PEM only: a SecretValue that references SSM or Secrets Manager is resolved at deploy time. */
  private literal(value: SecretValue | undefined): string | undefined {
    if (value === undefined) return undefined;
    const resolved = Stack.of(this.scope).resolve(value);
    return typeof resolved === 'string' && !resolved.startsWith('{{resolve:') ? resolved : undefined;
  }

  private validateClientCertificate(chainPem: string, keyValue: SecretValue, passwordValue?: SecretValue): void {
    for (const [prop, value] of [
      ['auth.privateKeyPem', keyValue],
      ['auth.privateKeyPassword', passwordValue],
    ] as const) {
      const resolved = value && Stack.of(this.scope).resolve(value);
      if (typeof resolved === 'string' && resolved.startsWith('{{resolve:ssm-secure:')) {
        this.fail(
          prop,
          resolved,
          "CloudFormation resolves SSM SecureString references only as a whole property, not inside the secret's JSON; " +
            'use SecretValue.secretsManager(...) or pass an existing secret with KafkaAuth.mtls({ secret })',
        );
      }
    }
    if (Token.isUnresolved(chainPem)) return;
    let leaf: X509Certificate | undefined;
    this.pemCheck('auth.certificateChainPem', () => {
      const chain = parseCertificateChain(chainPem);
      leaf = chain.certificates[0];
      if (!chain.endsWithRoot) {
        Annotations.of(this.scope).addWarningV2(
          'cdk-kafka-lambda:chainWithoutRoot',
          'auth.certificateChainPem does not end with a self-signed root certificate; Lambda expects client → intermediates → root.',
        );
      }
    });
    const keyPem = this.literal(keyValue);
    if (keyPem === undefined) return;
    const password = this.literal(passwordValue);
    this.pemCheck('auth.privateKeyPem', () => {
      const info = parsePrivateKey(keyPem, password);
      if (info.encrypted && passwordValue === undefined) throw new PemError('is encrypted; give privateKeyPassword');
      if (!info.encrypted && passwordValue !== undefined)
        throw new PemError('is not encrypted but privateKeyPassword is set; remove privateKeyPassword');
      if (info.key && leaf && !leaf.checkPrivateKey(info.key))
        throw new PemError('does not belong to the first certificate of certificateChainPem (the client certificate)');
    });
  }
}

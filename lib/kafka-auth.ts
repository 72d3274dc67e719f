import { SecretValue } from 'aws-cdk-lib';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** How Lambda authenticates to the brokers (the SourceAccessConfiguration type). */
export enum KafkaAuthMethod {
  /** SASL/SCRAM-SHA-512 over TLS (SASL_SCRAM_512_AUTH). */
  SASL_SCRAM_512 = 'SASL_SCRAM_512_AUTH',
  /** SASL/SCRAM-SHA-256 over TLS (SASL_SCRAM_256_AUTH). */
  SASL_SCRAM_256 = 'SASL_SCRAM_256_AUTH',
  /** SASL/PLAIN over TLS (BASIC_AUTH), self-managed only. */
  SASL_PLAIN = 'BASIC_AUTH',
  /** Mutual TLS with a client certificate (CLIENT_CERTIFICATE_TLS_AUTH). */
  MTLS = 'CLIENT_CERTIFICATE_TLS_AUTH',
  /** IAM access control, MSK only (no secret; the execution role is granted kafka-cluster:*). */
  IAM = 'IAM',
  /** No client authentication. */
  NONE = 'NONE',
}

/** A SASL (SCRAM or PLAIN) credential. */
export interface KafkaSaslAuthProps {
  /**
   * An existing secret `{"username": "...", "password": "..."}`. For MSK SCRAM its name must start
   * with `AmazonMSK_` and it must be encrypted with a customer managed key: import it with
   * `Secret.fromSecretAttributes({ secretCompleteArn, encryptionKey })` so the key can be granted.
   * @default - a secret is created: the username below, a generated password, a customer managed KMS key
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * Username of the created secret.
   * @default 'lambda-esm'
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly username?: string;
}

/** A client certificate for mutual TLS. */
export interface KafkaMtlsAuthProps {
  /**
   * An existing secret `{"certificate": "<chain>", "privateKey": "<pkcs8>", "privateKeyPassword"?: "..."}`.
   * @default - created from `certificateChainPem` and `privateKeyPem`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly secret?: secretsmanager.ISecret;

  /**
   * The client certificate first, then each intermediate, ending with the root, in PEM.
   * Checked at synth: markers, each certificate issued by the next.
   * @default - required unless `secret` is given
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly certificateChainPem?: string;

  /**
   * The client's private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE KEY`
   * encrypted with PBES1 — Lambda refuses PBES2). A literal (`SecretValue.unsafePlainText`) is checked
   * at synth; a reference (`SecretValue.ssmSecure`, ...) is passed through unchecked.
   * @default - required unless `secret` is given
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly privateKeyPem?: SecretValue;

  /**
   * The password of an encrypted private key.
   * @default - the key is not encrypted
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly privateKeyPassword?: SecretValue;
}

/**
 * How the trigger authenticates to the cluster.
 *
 * @example
 * KafkaAuth.scram512();                       // creates the secret
 * KafkaAuth.mtls({ secret: clientCertSecret });
 * KafkaAuth.iam();                             // MSK only
 */
export class KafkaAuth {
  /** SASL/SCRAM-SHA-512 over TLS. */
  public static scram512(props: KafkaSaslAuthProps = {}): KafkaAuth {
    return new KafkaAuth(KafkaAuthMethod.SASL_SCRAM_512, props, undefined);
  }

  /** SASL/SCRAM-SHA-256 over TLS. */
  public static scram256(props: KafkaSaslAuthProps = {}): KafkaAuth {
    return new KafkaAuth(KafkaAuthMethod.SASL_SCRAM_256, props, undefined);
  }

  /** SASL/PLAIN over TLS (self-managed clusters only; MSK does not support it). */
  public static plain(props: KafkaSaslAuthProps = {}): KafkaAuth {
    return new KafkaAuth(KafkaAuthMethod.SASL_PLAIN, props, undefined);
  }

  /** Mutual TLS with a client certificate. */
  public static mtls(props: KafkaMtlsAuthProps): KafkaAuth {
    return new KafkaAuth(KafkaAuthMethod.MTLS, undefined, props);
  }

  /** IAM access control (MSK only). */
  public static iam(): KafkaAuth {
    return new KafkaAuth(KafkaAuthMethod.IAM, undefined, undefined);
  }

  /** No client authentication (the cluster must allow unauthenticated access). */
  public static none(): KafkaAuth {
    return new KafkaAuth(KafkaAuthMethod.NONE, undefined, undefined);
  }

  private constructor(
    /** The method. */
    public readonly method: KafkaAuthMethod,
    /** SASL props, for SCRAM and PLAIN. */
    public readonly saslProps?: KafkaSaslAuthProps,
    /** mTLS props. */
    public readonly mtlsProps?: KafkaMtlsAuthProps,
  ) {}
}

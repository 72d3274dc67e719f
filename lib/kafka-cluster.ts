import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as msk from 'aws-cdk-lib/aws-msk';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';

/** Which kind of Kafka cluster a trigger reads from. */
export enum KafkaClusterKind {
  /** Apache Kafka run by you or a provider (Confluent Cloud, ...): `SelfManagedEventSource`. */
  SELF_MANAGED = 'SELF_MANAGED',
  /** Amazon MSK: `EventSourceArn` is the cluster ARN. */
  MSK = 'MSK',
}

/** A self-managed cluster. */
export interface SelfManagedKafkaClusterProps {
  /**
   * The brokers to bootstrap from, as `host:port`.
   * @see https://docs.aws.amazon.com/lambda/latest/api/API_SelfManagedEventSource.html
   */
  readonly bootstrapServers: string[];

  /**
   * The VPC the brokers are reachable in. Without it Lambda connects over the internet.
   * @default - the brokers are reached over the internet
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets where Lambda places the event source's network interfaces (VPC_SUBNET).
   * @default - the private subnets of `vpc`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly subnets?: ec2.SubnetSelection;

  /**
   * Security groups of the event source (VPC_SECURITY_GROUP).
   * @default - one is created with the rules Lambda's Kafka network guide lists (broker port in from itself, 443 and the broker port out)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * Whether the brokers' listener uses TLS. SASL and mTLS require it; Lambda does not support SASL_PLAINTEXT.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly tls?: boolean;

  /**
   * The brokers' root CA certificate in PEM, when a private CA signed them. A secret
   * `{"certificate": "<pem>"}` is created from it (SERVER_ROOT_CA_CERTIFICATE).
   * @default - the brokers' certificates chain to a CA Lambda trusts
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-encryption.html
   */
  readonly rootCaCertificatePem?: string;

  /**
   * An existing SERVER_ROOT_CA_CERTIFICATE secret (`{"certificate": "<pem>"}`).
   * @default - none, or created from `rootCaCertificatePem`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-encryption.html
   */
  readonly rootCaSecret?: secretsmanager.ISecret;
}

/** An Amazon MSK cluster, by ARN or construct. */
export interface MskClusterProps {
  /**
   * The cluster ARN (`arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>`).
   * @default - taken from `cluster`
   * @see https://docs.aws.amazon.com/msk/latest/developerguide/what-is-msk.html
   */
  readonly clusterArn?: string;

  /**
   * The cluster construct (provisioned or serverless). Give this or `clusterArn`.
   * @default - `clusterArn` is used
   * @see https://docs.aws.amazon.com/msk/latest/developerguide/what-is-msk.html
   */
  readonly cluster?: msk.CfnCluster;

  /**
   * The managed VPC connection (MSK multi-VPC private connectivity) to a provisioned cluster in another account,
   * `arn:aws:kafka:<region>:<this account>:vpc-connection/<owner account>/<cluster name>/<uuid>`: the event source
   * mapping reads through it. `clusterArn` is then the remote cluster's ARN, whose owner attaches the cluster policy
   * the trigger prints (`KafkaTrigger.ownerClusterPolicy`). MSK Serverless has no cross-account mappings.
   * @default - the cluster is in this account; the mapping reads from `clusterArn`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/msk-cross-account.html
   */
  readonly vpcConnectionArn?: string;

  /**
   * Whether the cluster is MSK Serverless, which takes IAM auth only and no cross-account mapping.
   * @default false
   * @see https://docs.aws.amazon.com/msk/latest/developerguide/serverless.html
   */
  readonly serverless?: boolean;

  /**
   * The cluster's VPC. Given, the trigger creates the VPC endpoints Lambda needs in it.
   * Lambda discovers the cluster's network itself, so this is only for endpoints and rules.
   * @default - no endpoints (a NAT gateway serves)
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html
   */
  readonly vpc?: ec2.IVpc;

  /**
   * Subnets for the VPC endpoints.
   * @default - the private subnets of `vpc`
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly subnets?: ec2.SubnetSelection;

  /**
   * The cluster's security groups, which the event source uses. Given, the rules Lambda's MSK network guide lists for the
   * auth's broker port are added to them.
   * @default - no rules are added
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly securityGroups?: ec2.ISecurityGroup[];

  /**
   * The brokers as `host:port` for the auth's listener (`aws kafka get-bootstrap-brokers`), for the dispatcher's
   * relay, which produces to the cluster as a client does. The event source mapping finds them itself.
   * @default - none; a relay to this cluster needs them
   * @see https://docs.aws.amazon.com/msk/latest/developerguide/msk-get-bootstrap-brokers.html
   */
  readonly bootstrapServers?: string[];

  /**
   * Whether unauthenticated clients use the TLS listener (9094) instead of plaintext (9092).
   * SASL/SCRAM, IAM and mTLS always use TLS.
   * @default true
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-auth.html
   */
  readonly tls?: boolean;
}

/**
 * The Kafka cluster a trigger reads from.
 *
 * @example
 * KafkaCluster.selfManaged({ bootstrapServers: ['b-1.example.com:9096'] });
 * KafkaCluster.msk({ clusterArn: 'arn:aws:kafka:us-east-1:111122223333:cluster/orders/abc-1' });
 */
export class KafkaCluster {
  /** A self-managed Apache Kafka cluster. */
  public static selfManaged(props: SelfManagedKafkaClusterProps): KafkaCluster {
    return new KafkaCluster(KafkaClusterKind.SELF_MANAGED, props, undefined);
  }

  /** An Amazon MSK cluster. */
  public static msk(props: MskClusterProps): KafkaCluster {
    return new KafkaCluster(KafkaClusterKind.MSK, undefined, props);
  }

  private constructor(
    /** The kind of cluster. */
    public readonly kind: KafkaClusterKind,
    /** Props of a self-managed cluster. */
    public readonly selfManagedProps?: SelfManagedKafkaClusterProps,
    /** Props of an MSK cluster. */
    public readonly mskProps?: MskClusterProps,
  ) {}

  /** The cluster's VPC, if known. */
  public get vpc(): ec2.IVpc | undefined {
    return this.selfManagedProps?.vpc ?? this.mskProps?.vpc;
  }

  /** The cluster's security groups, when given. */
  public get securityGroups(): ec2.ISecurityGroup[] | undefined {
    return (this.selfManagedProps ?? this.mskProps)?.securityGroups;
  }

  /** The subnets selection, when given. */
  public get subnets(): ec2.SubnetSelection | undefined {
    return (this.selfManagedProps ?? this.mskProps)?.subnets;
  }

  /** The brokers to bootstrap from, when known (always for self-managed; MSK when given). */
  public get bootstrapServers(): string[] | undefined {
    return (this.selfManagedProps ?? this.mskProps)?.bootstrapServers;
  }

  /** Whether listeners use TLS. */
  public get tls(): boolean {
    return (this.selfManagedProps ?? this.mskProps)?.tls ?? true;
  }
}

import * as ec2 from 'aws-cdk-lib/aws-ec2';

/** Existing VPC endpoints of the services the event sources and dispatchers call. */
export interface ExistingKafkaVpcEndpoints {
  /**
   * Lambda endpoint.
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly lambda?: ec2.InterfaceVpcEndpoint;
  /**
   * STS endpoint.
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly sts?: ec2.InterfaceVpcEndpoint;
  /**
   * Secrets Manager endpoint.
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
   */
  readonly secretsManager?: ec2.InterfaceVpcEndpoint;
  /**
   * SQS endpoint (SQS destination).
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
   */
  readonly sqs?: ec2.InterfaceVpcEndpoint;
  /**
   * SNS endpoint (SNS destination).
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
   */
  readonly sns?: ec2.InterfaceVpcEndpoint;
  /**
   * S3 endpoint (S3 destination).
   * @default - none
   * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
   */
  readonly s3?: ec2.InterfaceVpcEndpoint;
  /**
   * Glue endpoint (the dispatcher's schemas in a Glue Schema Registry).
   * @default - none
   * @see https://docs.aws.amazon.com/glue/latest/dg/vpc-interface-endpoints.html
   */
  readonly glue?: ec2.InterfaceVpcEndpoint;
  /**
   * DynamoDB gateway endpoint (the dispatcher's idempotency table).
   * @default - none
   * @see https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/vpc-endpoints-dynamodb.html
   */
  readonly dynamoDb?: ec2.GatewayVpcEndpoint;
}

/** Whether the trigger creates, reuses or skips VPC endpoints. */
export enum KafkaVpcEndpointsMode {
  /** Create the endpoints. */
  CREATE = 'CREATE',
  /** Create none (a NAT gateway serves). */
  NONE = 'NONE',
  /** Reuse existing endpoints. */
  EXISTING = 'EXISTING',
}

/**
 * The VPC endpoints through which the event source's network interfaces reach Lambda, STS, Secrets Manager and
 * the destination service, and the dispatcher reaches Lambda, Secrets Manager and DynamoDB.
 *
 * @see https://docs.aws.amazon.com/lambda/latest/dg/with-kafka-cluster-network.html
 */
export class KafkaVpcEndpoints {
  /** Create the endpoints the callers need (once per VPC and stack), private DNS on, with restricted policies. */
  public static create(): KafkaVpcEndpoints {
    return new KafkaVpcEndpoints(KafkaVpcEndpointsMode.CREATE);
  }

  /** Create none: a NAT gateway (or endpoints managed elsewhere) serves. */
  public static none(): KafkaVpcEndpoints {
    return new KafkaVpcEndpoints(KafkaVpcEndpointsMode.NONE);
  }

  /**
   * Reuse endpoints that exist: each caller adds its policy statements to them and allows 443 from its
   * security groups.
   */
  public static existing(endpoints: ExistingKafkaVpcEndpoints): KafkaVpcEndpoints {
    return new KafkaVpcEndpoints(KafkaVpcEndpointsMode.EXISTING, endpoints);
  }

  /** Create, none or existing. */
  public readonly mode: KafkaVpcEndpointsMode;
  /** The reused endpoints. */
  public readonly endpoints?: ExistingKafkaVpcEndpoints;

  private constructor(mode: KafkaVpcEndpointsMode, endpoints?: ExistingKafkaVpcEndpoints) {
    this.mode = mode;
    this.endpoints = endpoints;
  }
}

import { Annotations, Duration, Lazy, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ESM_LIMITS } from '../../contract/esm-limits';
import {
  BOUNDS,
  DEFAULTS,
  DISPATCHER_CONFIG_ENV,
  DISPATCHER_CONFIG_VERSION,
  DispatcherConfig,
  IDEMPOTENCY_PARTITION_KEY,
  IDEMPOTENCY_TTL_ATTRIBUTE,
} from '../../contract/dispatcher-config';
import {
  DispatcherErrorBehavior,
  DispatcherInvocationType,
  DispatcherPayloadFormat,
  IdempotencyMode,
  KafkaDispatcherProps,
  KafkaRelayProps,
} from '../dispatcher-props';
import { DispatcherSourceKind, DispatcherTriggerBinding, DispatcherTriggerOptions } from '../dispatcher-target';
import { ValidationError } from './errors';
import { acknowledgeCreatedSecrets, acknowledgeWildcards } from './nag';
import { DispatcherSchemas } from './schemas';
import { SchemaAccess } from './schema-access';
import { DispatcherRoutes, dispatcherRoutes } from './routes';
import { TargetAccess, targetAccess } from './target-access';
import { connectToBrokers, grantKeyVia, relaySetup } from './relay-setup';
import { ENI_ACTIONS, EndpointNeed, NAT_EGRESS_METADATA, provideEndpoints } from './vpc-endpoints';
import { KafkaVpcEndpoints, KafkaVpcEndpointsMode } from '../vpc-endpoints';

/**
 * How long a strict key stays in progress after an in-process pipeline's end when no route's target may outlive it:
 * the code ran inside the function, so nothing of it runs once the function has ended; the hold covers the clocks of
 * two execution environments differing, as the stores' leases allow (HOLD_CLOCK_SKEW_MS).
 */
const IN_PROCESS_HOLD_MS = 5_000;

/** The props with their defaults. */
interface DispatcherSettings {
  readonly timeout: Duration;
  readonly timeMargin: Duration;
  readonly invocationType: DispatcherInvocationType;
  readonly payloadFormat: DispatcherPayloadFormat;
  readonly onError: DispatcherErrorBehavior;
  readonly idempotencyMode: IdempotencyMode;
  readonly recordsPerInvocation: number;
  readonly concurrency: number;
  readonly maxAttempts: number;
  readonly maxStoredResultBytes: number;
  readonly ttl: Duration;
  readonly pointer?: string;
}

/** Where the function runs, when in a VPC. */
export interface DispatcherNetwork {
  readonly vpc?: ec2.IVpc;
  readonly subnetSelection?: ec2.SubnetSelection;
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/** How the dispatcher invokes its default target and its routes' targets. */
interface DispatcherTargets {
  readonly access?: TargetAccess;
  readonly routes?: DispatcherRoutes;
}

/** The function a pipeline runs in, and who it is. */
export interface PipelineHost {
  /** The public construct: it owns the table, endpoints and outputs, and errors name it. */
  readonly scope: Construct;
  readonly fn: lambda.Function;
  readonly role: iam.IRole;
  /** The function's log group, when it is known (its writes are acknowledged to cdk-nag). */
  readonly logGroup?: logs.ILogGroup;
  readonly network: DispatcherNetwork;
  /** The function's timeout, and the prop that sets it (for messages). */
  readonly timeout: Duration;
  readonly timeoutProp: string;
  /** The default target is the function's own code (InProcessDispatcher), not `props.target`. */
  readonly inProcess: boolean;
  /** How messages name the function: "the dispatcher MyStack/Dispatcher". */
  readonly label: string;
}

/** A metric of the pipeline's embedded metrics (runtime/metrics.ts), by the service dimension the configuration names. */
export function dispatcherMetric(serviceName: string, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: DEFAULTS.metricsNamespace,
    metricName,
    dimensionsMap: { service: serviceName },
    statistic: 'Sum',
    ...props,
  });
}

/** The default target and the routes' targets. */
export function targetsOf(props: KafkaDispatcherProps): lambda.IFunction[] {
  return [...(props.target ? [props.target] : []), ...(props.routes ?? []).map((r) => r.target)];
}

/** The targets' longest timeout in ms, when it is given or known (lambda.Functions'; 3 s when one sets none). */
function targetTimeoutMs(props: KafkaDispatcherProps): number | undefined {
  if (props.targetTimeout !== undefined) return props.targetTimeout.toMilliseconds();
  const targets = targetsOf(props);
  if (!targets.every((t) => t instanceof lambda.Function)) return undefined;
  const timeouts = targets.map((t) => ((t as lambda.Function).timeout ?? Duration.seconds(3)).toMilliseconds());
  return timeouts.some((t) => Token.isUnresolved(t)) ? undefined : Math.max(...timeouts);
}

/**
 * The dispatcher's pipeline in a function: its settings checked, its targets granted, its idempotency table, relay,
 * schemas, endpoints in a VPC, and the configuration the runtime reads, written when the app synthesizes (by then every
 * trigger that targets the function has bound to it). KafkaDispatcher runs it in a function of its own;
 * InProcessDispatcher in the user's function, with the user's code as the default target.
 */
export class DispatcherPipeline {
  public readonly table?: dynamodb.Table;
  public readonly serviceName: string;
  public readonly reportBatchItemFailures: boolean;
  public readonly relay?: KafkaRelayProps;
  public readonly relaySecret?: secretsmanager.ISecret;
  public readonly vpcEndpoints: { [service: string]: ec2.VpcEndpoint } = {};
  public readonly targetOwnerPolicy?: iam.PolicyDocument;

  private readonly scope: Construct;
  private readonly role: iam.IRole;
  /** Fails naming a prop of the public construct (a value, for the helpers that check props). */
  private readonly fail = (prop: string, value: unknown, fix: string): never => {
    throw new ValidationError(this.scope, prop, value, fix);
  };
  /** The parallelization factors of the KinesisTriggers bound to this pipeline. */
  private readonly kinesisParallelization: Array<number | undefined> = [];
  private readonly schemas: DispatcherSchemas;
  /** Gives the function a route to a service it calls from its VPC (no-op outside one). */
  private readonly reach: (needs: EndpointNeed[], ports: number[]) => void = () => undefined;

  constructor(
    private readonly host: PipelineHost,
    props: KafkaDispatcherProps,
  ) {
    this.scope = host.scope;
    this.role = host.role;
    const settings = this.settings(props);
    this.reportBatchItemFailures = props.reportBatchItemFailures ?? false;
    this.relay = props.relay;
    this.serviceName = this.scope.node.path;

    const targets = this.grantTargets(props, settings);
    this.targetOwnerPolicy = targets.access?.ownerPolicy;
    const needs: EndpointNeed[] = [...(targets.access?.needs ?? []), ...(targets.routes?.needs ?? [])];
    this.schemas = new DispatcherSchemas(props.schemas, this.fail);
    const schemaPorts = this.grantSchemaAccess(this.schemas.ownAccess, needs);
    this.warnOnUnroutedRecords(props, settings.onError);
    this.table = this.createTable(props, settings, needs);
    const relay = this.setUpRelay(props, settings, targets.routes?.responseTopics, needs, host.network.vpc);
    this.relaySecret = relay?.secret;
    if (host.network.vpc) this.reach = this.reachFromVpc(props, host.network, needs, schemaPorts);

    const config = this.config(props, settings, targets, relay?.config);
    host.fn.addEnvironment(
      DISPATCHER_CONFIG_ENV,
      Lazy.string({ produce: () => Stack.of(this.scope).toJsonString(this.withBindings(config)) }),
    );
    this.acknowledgeNagFindings(targetsOf(props));
  }

  /** The props with their defaults, checked. */
  private settings(props: KafkaDispatcherProps): DispatcherSettings {
    const s: DispatcherSettings = {
      timeout: this.host.timeout,
      timeMargin: props.timeMargin ?? Duration.millis(DEFAULTS.timeMarginMs),
      invocationType: (!this.host.inProcess && props.invocationType) || DispatcherInvocationType.REQUEST_RESPONSE,
      payloadFormat: props.payloadFormat ?? DispatcherPayloadFormat.CONFLUENT,
      onError: props.onError ?? DispatcherErrorBehavior.FAIL,
      idempotencyMode: props.idempotencyMode ?? IdempotencyMode.BATCHED,
      recordsPerInvocation: props.recordsPerInvocation ?? DEFAULTS.recordsPerInvocation,
      concurrency: props.concurrency ?? DEFAULTS.concurrency,
      maxAttempts: props.maxAttempts ?? DEFAULTS.maxAttempts,
      maxStoredResultBytes: props.maxStoredResultBytes ?? DEFAULTS.maxStoredResultBytes,
      ttl: props.idempotencyTtl ?? Duration.seconds(DEFAULTS.ttlSeconds),
      pointer: props.idempotencyKeyPointer,
    };
    const { timeout, timeMargin, ttl, pointer } = s;
    this.integerIn(
      'recordsPerInvocation',
      s.recordsPerInvocation,
      BOUNDS.recordsPerInvocation,
      `the event source mapping sends at most ${ESM_LIMITS.batchSize[1]} records`,
    );
    this.integerIn('concurrency', s.concurrency, BOUNDS.concurrency, 'use a bound of partitions invoked in parallel');
    this.integerIn('maxAttempts', s.maxAttempts, BOUNDS.maxAttempts, 'count the first attempt');
    this.integerIn(
      'maxStoredResultBytes',
      s.maxStoredResultBytes,
      BOUNDS.maxStoredResultBytes,
      'a DynamoDB item holds at most 400 KB',
    );
    if (!timeout.isUnresolved() && !timeMargin.isUnresolved() && timeMargin.toMilliseconds() >= timeout.toMilliseconds()) {
      this.fail(
        'timeMargin',
        timeMargin.toHumanString(),
        `it must be shorter than ${this.host.timeoutProp} (${timeout.toHumanString()}): lower timeMargin or raise ${this.host.timeoutProp}`,
      );
    }
    this.warnOnTargetOutlasting(props, timeout, timeMargin);
    if (!ttl.isUnresolved() && (ttl.toSeconds() < BOUNDS.ttlSeconds[0] || ttl.toSeconds() > BOUNDS.ttlSeconds[1])) {
      this.fail(
        'idempotencyTtl',
        ttl.toHumanString(),
        `use ${BOUNDS.ttlSeconds.map((x) => Duration.seconds(x).toHumanString()).join(' to ')}`,
      );
    }
    if (pointer !== undefined && !Token.isUnresolved(pointer) && !pointer.startsWith('/')) {
      this.fail('idempotencyKeyPointer', pointer, 'use a JSON pointer starting with "/" (e.g. "/orderId")');
    }
    if (props.idempotency === false && (pointer !== undefined || props.idempotencyMode !== undefined)) {
      this.fail(
        'idempotency',
        false,
        'idempotencyKeyPointer and idempotencyMode need idempotency: remove them or set idempotency to true',
      );
    }
    return s;
  }

  /** Grants the invocation of the default target and of each route's target, and checks that there is one. */
  private grantTargets(props: KafkaDispatcherProps, s: DispatcherSettings): DispatcherTargets {
    if (props.target === undefined && !props.routes?.length && !this.host.inProcess) {
      this.fail('target', undefined, 'give the function to invoke (target), or routes to choose one per record');
    }
    if (props.target === undefined && (props.targetRole !== undefined || props.targetRoleExternalId !== undefined)) {
      this.fail(
        'targetRole',
        props.targetRole?.roleArn ?? props.targetRoleExternalId,
        'targetRole and targetRoleExternalId are for target: set target, or give each route its own targetRole',
      );
    }
    const access =
      props.target === undefined
        ? undefined
        : targetAccess(this.scope, {
            target: props.target,
            targetRole: props.targetRole,
            targetRoleExternalId: props.targetRoleExternalId,
            role: this.role,
            propPrefix: '',
            outputId: 'TargetOwnerPolicy',
            fail: this.fail,
          });
    const routes =
      props.routes === undefined
        ? undefined
        : dispatcherRoutes(this.scope, {
            routes: props.routes,
            invocationType: s.invocationType,
            payloadFormat: s.payloadFormat,
            relay: props.relay,
            role: this.role,
            fail: this.fail,
          });
    return { access, routes };
  }

  private warnOnUnroutedRecords(props: KafkaDispatcherProps, onError: DispatcherErrorBehavior): void {
    if (props.target === undefined && !this.host.inProcess && onError === DispatcherErrorBehavior.FAIL) {
      Annotations.of(this.scope).addWarningV2(
        'cdk-kafka-lambda:unroutedRecordsFail',
        'routes without target and onError FAIL: a record no route takes fails its batch at every retry, holding up its partition until the ' +
          "mapping's retries end. Set target for such records, or onError LOG (with relay.errorTopic) to set them aside.",
      );
    }
  }

  /** The idempotency table (unless idempotency is off), its grants and its endpoint need. */
  private createTable(props: KafkaDispatcherProps, s: DispatcherSettings, needs: EndpointNeed[]): dynamodb.Table | undefined {
    if (props.idempotency === false) return undefined;
    const table = new dynamodb.Table(this.scope, 'IdempotencyTable', {
      partitionKey: { name: IDEMPOTENCY_PARTITION_KEY, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: IDEMPOTENCY_TTL_ATTRIBUTE,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.tableEncryptionKey ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
      encryptionKey: props.tableEncryptionKey,
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // Strict: a conditional put and delete per key. Batched: records keyed by their coordinates are kept per range,
    // whose item is updated conditionally; those of Kinesis shards that may interleave, and business keys, per key.
    const actions =
      s.idempotencyMode === IdempotencyMode.STRICT
        ? ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem']
        : ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', ...(s.pointer === undefined ? ['dynamodb:UpdateItem'] : [])];
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [table.tableArn] }));
    // DynamoDB calls KMS for the table's key itself: the grant holds through DynamoDB only, and no KMS endpoint is needed.
    if (props.tableEncryptionKey)
      grantKeyVia(this.role, props.tableEncryptionKey, 'dynamodb', [
        'kms:Decrypt',
        'kms:Encrypt',
        'kms:GenerateDataKey*',
        'kms:DescribeKey',
      ]);
    needs.push({
      key: 'dynamoDb',
      label: 'DynamoDB (the idempotency table)',
      statements: [this.endpointStatement(actions, [table.tableArn])],
    });
    return table;
  }

  /** The relay's configuration, secret, grants and endpoint need, and in a VPC its rules to the brokers. */
  private setUpRelay(
    props: KafkaDispatcherProps,
    s: DispatcherSettings,
    routeResponseTopics: string[] | undefined,
    needs: EndpointNeed[],
    vpc: ec2.IVpc | undefined,
  ): { config: DispatcherConfig['relay']; secret?: secretsmanager.ISecret } | undefined {
    const relay = props.relay;
    if (relay === undefined) {
      if (s.onError === DispatcherErrorBehavior.LOG) {
        Annotations.of(this.scope).addWarningV2(
          'cdk-kafka-lambda:dispatcherLogWithoutErrorTopic',
          "onError is LOG but no relay.errorTopic is set: failures are written to the function's CloudWatch log only. Set relay.errorTopic to keep them in Kafka.",
        );
      }
      return undefined;
    }
    const setup = relaySetup(this.scope, this.role, relay, s.invocationType, s.onError, this.fail, routeResponseTopics);
    if (setup.secretArns.length) {
      needs.push({
        key: 'secretsManager',
        label: 'Secrets Manager (the relay credentials)',
        statements: [this.endpointStatement(['secretsmanager:GetSecretValue'], setup.secretArns)],
      });
    }
    if (vpc) connectToBrokers(this.scope, this.host.fn, relay.cluster, setup.brokerPorts, vpc);
    return { config: setup.config, secret: setup.secret };
  }

  /**
   * In a VPC: the endpoints (or NAT egress) and rules to reach each service the dispatcher calls; returns how to reach
   * those a trigger's binding adds.
   */
  private reachFromVpc(
    props: KafkaDispatcherProps,
    network: DispatcherNetwork,
    needs: EndpointNeed[],
    schemaPorts: number[],
  ): (needs: EndpointNeed[], ports: number[]) => void {
    const vpc = network.vpc!;
    const securityGroups = network.securityGroups!;
    const mode = props.vpcEndpoints ?? KafkaVpcEndpoints.create();
    const subnets = vpc.selectSubnets(network.subnetSelection).subnets;
    const reach = (more: EndpointNeed[], ports: number[]) => {
      const provided = provideEndpoints(this.scope, {
        vpc,
        endpoints: mode,
        subnets,
        callerGroups: securityGroups,
        caller: this.host.label,
        needs: more,
      });
      Object.assign(this.vpcEndpoints, provided.endpoints);
      for (const port of ports) {
        for (const group of securityGroups)
          group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(port), `The schema registry (port ${port})`);
      }
    };
    reach(needs, schemaPorts);
    for (const group of securityGroups)
      group.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), `HTTPS to the AWS services ${this.host.label} calls`);
    if (mode.mode === KafkaVpcEndpointsMode.NONE)
      (this.host.fn.node.defaultChild as lambda.CfnFunction).addMetadata(NAT_EGRESS_METADATA, 'nat');
    return reach;
  }

  /** The runtime's configuration as the props decide it; `withBindings` adds what the triggers bound. */
  private config(
    props: KafkaDispatcherProps,
    s: DispatcherSettings,
    targets: DispatcherTargets,
    relay: DispatcherConfig['relay'],
  ): DispatcherConfig {
    const { invocationType, payloadFormat, recordsPerInvocation, concurrency, maxAttempts, onError, timeMargin } = s;
    return {
      version: DISPATCHER_CONFIG_VERSION,
      target: {
        inProcess: this.host.inProcess || undefined,
        functionName: props.target?.functionArn,
        invocationType,
        payloadFormat,
        recordsPerInvocation,
        concurrency,
        maxAttempts,
        baseDelayMs: DEFAULTS.baseDelayMs,
        maxDelayMs: DEFAULTS.maxDelayMs,
        timeoutMs: this.host.inProcess && !props.routes?.length ? IN_PROCESS_HOLD_MS : targetTimeoutMs(props),
        includeTargetLogTail: props.includeTargetLogTail === true ? true : undefined,
        assumeRole: targets.access?.assumeRole,
      },
      routes: targets.routes?.config,
      onError,
      reportBatchItemFailures: this.reportBatchItemFailures,
      timeMarginMs: timeMargin.toMilliseconds(),
      idempotency:
        this.table === undefined
          ? undefined
          : {
              tableName: this.table.tableName,
              mode: s.idempotencyMode,
              ttlSeconds: s.ttl.toSeconds(),
              keyPointer: s.pointer,
              maxStoredResultBytes: s.maxStoredResultBytes,
              kinesisRanges: undefined, // withBindings
            },
      relay,
      schemas: undefined, // withBindings
      metrics: { namespace: DEFAULTS.metricsNamespace, service: this.serviceName },
    };
  }

  /** The configuration with what the triggers bound: Kinesis ranges, and the fields their mappings decode. */
  private withBindings(config: DispatcherConfig): DispatcherConfig {
    return {
      ...config,
      idempotency: config.idempotency && { ...config.idempotency, kinesisRanges: this.kinesisShardsInOrder() || undefined },
      schemas: this.schemas.config(),
    };
  }

  /**
   * A trigger targets the dispatcher's function (IDispatcherTarget): a KinesisTrigger with its parallelization factor;
   * a KafkaTrigger with a schema registry, whose validated fields arrive in its record format (JSON, or SOURCE with the
   * schema id in their metadata). Errors name the trigger's props.
   */
  public bindTrigger(trigger: Construct, options: DispatcherTriggerOptions): DispatcherTriggerBinding {
    if (options.sourceKind === DispatcherSourceKind.KINESIS) this.kinesisParallelization.push(options.parallelizationFactor);
    if (options.schemaRegistry !== undefined && options.schemaRegistryConfig !== undefined) {
      const fail = (prop: string, value: unknown, fix: string): never => {
        throw new ValidationError(trigger, prop, value, fix);
      };
      const access = this.schemas.bindMapping(options.schemaRegistry, options.schemaRegistryConfig, fail);
      if (access !== undefined) {
        const needs: EndpointNeed[] = [];
        this.reach(needs, this.grantSchemaAccess(access, needs, false));
      }
    }
    return {
      name: `KafkaDispatcher ${this.scope.node.path}`,
      reportBatchItemFailures: this.reportBatchItemFailures,
      relay: this.relay,
      metricsServiceName: this.serviceName,
    };
  }

  /**
   * Grants the registry's reads to the role (unless the mapping's policy already does), adds its endpoint need; returns
   * the registry's port for the security group.
   */
  private grantSchemaAccess(access: SchemaAccess | undefined, needs: EndpointNeed[], grant = true): number[] {
    if (access === undefined) return [];
    if (grant) {
      access.statements.forEach((s) => this.role.addToPrincipalPolicy(s));
      for (const secret of access.secrets)
        if (secret.encryptionKey) grantKeyVia(this.role, secret.encryptionKey, 'secretsmanager', ['kms:Decrypt']);
    }
    if (access.endpoint) {
      const label =
        access.endpoint === 'glue' ? 'Glue (the schema registry)' : 'Secrets Manager (the schema registry credentials)';
      const statements = access.statements.map((s) => this.endpointStatement(s.actions, s.resources));
      needs.push({ key: access.endpoint, label, statements });
    }
    return access.port === undefined ? [] : [access.port];
  }

  /** Every Kinesis mapping that targets it processes each shard in sequence order: one batch of a shard at a time. */
  private kinesisShardsInOrder(): boolean {
    return this.kinesisParallelization.length > 0 && this.kinesisParallelization.every((f) => f === undefined || f === 1);
  }

  private integerIn(prop: string, value: number, [min, max]: readonly [number, number], hint: string): void {
    if (Token.isUnresolved(value)) return;
    if (!Number.isInteger(value) || value < min || value > max)
      this.fail(prop, value, `use an integer from ${min} to ${max}: ${hint}`);
  }

  /** A VPC endpoint policy statement admitting this dispatcher's role. */
  private endpointStatement(actions: string[], resources: string[]): iam.PolicyStatement {
    return new iam.PolicyStatement({ actions, resources, principals: [new iam.ArnPrincipal(this.role.roleArn)] });
  }

  /** A target that may run longer than the dispatcher waits is cut off at the deadline and retried with an unknown outcome. */
  private warnOnTargetOutlasting(props: KafkaDispatcherProps, timeout: Duration, timeMargin: Duration): void {
    const target = targetTimeoutMs(props);
    if (target === undefined || Token.isUnresolved(target) || timeout.isUnresolved() || timeMargin.isUnresolved()) return;
    const wait = timeout.toMilliseconds() - timeMargin.toMilliseconds();
    if (target <= wait) return;
    const prop = props.targetTimeout !== undefined ? 'targetTimeout' : 'target.timeout';
    Annotations.of(this.scope).addWarningV2(
      'cdk-kafka-lambda:targetOutlastsDispatcher',
      `${prop} (${target / 1000} s) is longer than ${this.host.timeoutProp} less timeMargin (${wait / 1000} s): an invocation that runs that long is given up at the ` +
        "dispatcher's deadline, its records are retried with an unknown outcome and the target may run them twice. " +
        `Set ${this.host.timeoutProp} to at least ${Math.ceil((target + timeMargin.toMilliseconds()) / 1000)} s or shorten the target's timeout.`,
    );
  }

  /** Acknowledges, with reasons, the cdk-nag AwsSolutions findings the dispatcher causes on purpose. */
  private acknowledgeNagFindings(targets: lambda.IFunction[]): void {
    const policy = this.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    const reasons: { [kind: string]: string } = {
      invoke: "The dispatcher invokes the target's versions and aliases (grantInvoke).",
      logs: 'The dispatcher writes log streams of its own log group only; stream names are chosen by Lambda.',
      eni: "Lambda creates the function's network interfaces with this role: their ids are unknown before creation and ec2:Describe* has no resource-level permissions.",
      secret: "An imported secret is matched by its ARN's random suffix.",
      kms: "kms:GenerateDataKey* names the key's data key variants, on one key, through one service.",
      schemas:
        'A record names its schema version only at run time: GetSchemaVersion is granted on the schemas of one Glue registry.',
    };
    const stack = Stack.of(this.scope);
    const invokeAll = new Set(targets.map((target) => JSON.stringify(stack.resolve(`${target.functionArn}:*`))));
    const logs = this.host.logGroup && JSON.stringify(stack.resolve(this.host.logGroup.logGroupArn));
    acknowledgeWildcards(policy, (statement, resource) => {
      const r = JSON.stringify(resource);
      if (invokeAll.has(r)) return reasons.invoke;
      if (r === logs) return reasons.logs;
      if (r === '"*"' && [statement.Action].flat().every((a: string) => ENI_ACTIONS.includes(a))) return reasons.eni;
      if ([statement.Action].flat().includes('secretsmanager:GetSecretValue')) return reasons.secret;
      if ([statement.Action].flat().some((a: string) => a.startsWith('kms:'))) return reasons.kms;
      if ([statement.Action].flat().includes('glue:GetSchemaVersion')) return reasons.schemas;
      return undefined;
    });
    acknowledgeCreatedSecrets(this.scope, [this.relaySecret]);
  }
}

import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { DEFAULTS } from '../../contract/dispatcher-config';
import { HANDLER_RUNTIME, handlerCode } from './handler-runtime';
import { acknowledgeWildcards } from './nag';

/** The metric the health function writes (runtime/mapping-health.ts), per mapping and per trigger. */
export const MAPPING_HEALTHY_METRIC = 'MappingHealthy';

/** How often the health function reads the mappings. */
export const MAPPING_HEALTH_RATE = Duration.minutes(5);

/** `MappingHealthy` (1 healthy, 0 not) of one mapping or, without a UUID, of all of a trigger's: the minimum per 5 minutes. */
export function mappingHealthyMetric(
  trigger: Construct,
  eventSourceMappingUuid?: string,
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: DEFAULTS.metricsNamespace,
    metricName: MAPPING_HEALTHY_METRIC,
    dimensionsMap:
      eventSourceMappingUuid === undefined ? { Trigger: trigger.node.path } : { EventSourceMappingUUID: eventSourceMappingUuid },
    statistic: cloudwatch.Stats.MINIMUM,
    period: MAPPING_HEALTH_RATE,
    ...props,
  });
}

export interface MappingHealthCheckProps {
  /** The trigger's mappings. */
  readonly mappings: lambda.CfnEventSourceMapping[];
  /** The mappings' ARNs (arn:...:event-source-mapping:<uuid>). */
  readonly mappingArns: string[];
  /** The trigger was deployed with `enabled: false`. */
  readonly disabledOnPurpose: boolean;
  /** Create the alarm. */
  readonly alarm: boolean;
  /** "Kafka" or "Kinesis", for descriptions. */
  readonly source: string;
}

/**
 * A function on an EventBridge schedule that reads the trigger's mappings (GetEventSourceMapping, on exactly their
 * ARNs) and writes `MappingHealthy` per mapping in its log (embedded metric format: no PutMetricData), and an alarm
 * on it. Not in a VPC: it calls the Lambda API only.
 */
export class MappingHealthCheck extends Construct {
  public readonly function: lambda.Function;
  public readonly role: iam.Role;
  public readonly logGroup: logs.LogGroup;
  public readonly rule: events.Rule;
  public readonly alarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: MappingHealthCheckProps) {
    super(scope, id);
    const trigger = scope;
    this.role = new iam.Role(this, 'ServiceRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the cdk-kafka-lambda mapping health check of ${trigger.node.path}`,
    });
    this.logGroup = new logs.LogGroup(this, 'LogGroup', { retention: logs.RetentionDays.ONE_MONTH });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [this.logGroup.logGroupArn] }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['lambda:GetEventSourceMapping'], resources: props.mappingArns }),
    );
    this.function = new lambda.Function(this, 'Function', {
      runtime: HANDLER_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: handlerCode('mapping-health'),
      timeout: Duration.seconds(30),
      memorySize: 128,
      role: this.role,
      logGroup: this.logGroup,
      // The next scheduled run checks again; a retry would only write a second datapoint.
      retryAttempts: 0,
      environment: {
        CKL_MAPPING_UUIDS: props.mappings.map((m) => m.ref).join(','),
        CKL_TRIGGER: trigger.node.path,
        CKL_MAPPINGS_DISABLED_ON_PURPOSE: String(props.disabledOnPurpose),
        POWERTOOLS_METRICS_NAMESPACE: DEFAULTS.metricsNamespace,
      },
      description: `cdk-kafka-lambda: health of the event source mappings of ${trigger.node.path}`.slice(0, 256),
    });
    this.function.node.addDependency(this.role);
    this.rule = new events.Rule(this, 'Schedule', {
      schedule: events.Schedule.rate(MAPPING_HEALTH_RATE),
      description: `Runs the mapping health check of ${trigger.node.path}`.slice(0, 512),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 2, maxEventAge: Duration.minutes(5) })],
    });
    if (props.alarm) this.alarm = this.createAlarm(trigger, props.source);
    const logArn = JSON.stringify(Stack.of(this).resolve(this.logGroup.logGroupArn));
    acknowledgeWildcards(this.role.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined, (_s, resource) =>
      JSON.stringify(resource) === logArn
        ? 'The health function writes log streams of its own log group only; stream names are chosen by Lambda.'
        : undefined,
    );
  }

  private createAlarm(trigger: Construct, source: string): cloudwatch.Alarm {
    return new cloudwatch.Alarm(trigger, 'MappingHealthAlarm', {
      alarmDescription: (
        `An event source mapping of the ${source} trigger ${trigger.node.path} is unhealthy: it is not Enabled (stopped, ` +
        'disabled outside the deployment, or being deleted), or Lambda reports a PROBLEM in its LastProcessingResult ' +
        '(e.g. "PROBLEM: Connection error", an authentication or permission problem), on 2 of the last 3 checks; no data ' +
        "means the check did not run. Look at the WARN and ERROR lines of the health function's log group " +
        `(${this.function.node.path}), which name the mapping's UUID, State, StateTransitionReason and LastProcessingResult, ` +
        'and at the mapping in the Lambda console (aws lambda get-event-source-mapping --uuid <uuid>).'
      ).slice(0, 1024),
      metric: mappingHealthyMetric(trigger),
      threshold: 1,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
  }
}

/** The trigger's health check, unless `mappingHealth` is false. */
export function watchMappings(
  trigger: Construct,
  props: { readonly mappingHealth?: boolean; readonly alarms?: boolean; readonly enabled?: boolean },
  mappings: lambda.CfnEventSourceMapping[],
  mappingArns: string[],
  source: string,
): MappingHealthCheck | undefined {
  if (!(props.mappingHealth ?? true)) return undefined;
  return new MappingHealthCheck(trigger, 'MappingHealth', {
    mappings,
    mappingArns,
    disabledOnPurpose: props.enabled === false,
    alarm: props.alarms ?? true,
    source,
  });
}

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ESM_LIMITS } from '../../contract/esm-limits';
import { OnFailureBindOptions, OnFailureDestination } from '../destination';
import { acknowledgeFinding } from './nag';
import { EndpointNeed } from './vpc-endpoints';

/**
 * Binds an on-failure destination to an event source, and the VPC endpoint its send goes through.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/kafka-on-failure.html
 */
export function bindOnFailure(
  scope: Construct,
  d: OnFailureDestination,
  options: OnFailureBindOptions,
): { destination: string; queue?: sqs.IQueue; bucket?: s3.IBucket; endpoint?: EndpointNeed } {
  const c = d.bind(scope, options);
  const endpoint =
    c.endpointService === undefined
      ? undefined
      : {
          key: c.endpointService as EndpointNeed['key'],
          label: c.endpointService.toUpperCase(),
          statements: [c.endpointStatement!],
        };
  return { destination: c.destination, queue: c.queue, bucket: c.bucket, endpoint };
}

/** A metric Lambda publishes (AWS/Lambda), per minute unless the options say otherwise. */
export function lambdaMetric(
  metricName: string,
  dimensionsMap: { [name: string]: string },
  statistic: string,
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/Lambda',
    metricName,
    dimensionsMap,
    statistic,
    period: Duration.minutes(1),
    ...props,
  });
}

/** A consumer-lag metric of the function (OffsetLag, IteratorAge): its maximum per minute. */
export function consumerLagMetric(
  target: lambda.IFunction,
  metricName: string,
  props?: cloudwatch.MetricOptions,
): cloudwatch.Metric {
  return lambdaMetric(metricName, { FunctionName: target.functionName }, cloudwatch.Stats.MAXIMUM, props);
}

/** An alarm on any error of the function, and one on any message in the on-failure queue. */
export function errorAlarms(
  scope: Construct,
  target: lambda.IFunction,
  queue: sqs.IQueue | undefined,
  queueDescription: string,
): cloudwatch.Alarm[] {
  const anyOf = (id: string, alarmDescription: string, metric: cloudwatch.IMetric) =>
    new cloudwatch.Alarm(scope, id, {
      alarmDescription,
      metric,
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  const alarms = [
    anyOf(
      'ErrorsAlarm',
      `The function of ${scope.node.path} returned errors`,
      target.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
    ),
  ];
  if (queue) {
    alarms.push(
      anyOf(
        'OnFailureQueueDepthAlarm',
        queueDescription,
        queue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM }),
      ),
    );
  }
  return alarms;
}

/** Acknowledges the findings on the destination resources a trigger created itself. */
export function acknowledgeOnFailureFindings(
  owner: Construct,
  queue: sqs.IQueue | undefined,
  bucket: s3.IBucket | undefined,
  source: string,
): void {
  if (bucket instanceof s3.Bucket && bucket.node.scope === owner) {
    acknowledgeFinding(
      bucket,
      'AwsSolutions-S1',
      'The bucket only receives failed-batch records from Lambda; access logs would need a second bucket the user did not ask for.',
    );
  }
  if (queue instanceof sqs.Queue && queue.node.scope === owner) {
    acknowledgeFinding(
      queue,
      'AwsSolutions-SQS3',
      `This queue is itself the dead-letter destination of the ${source} event source.`,
    );
  }
}

/** The event source mapping's record age bounds, as messages name them: "60 seconds to 7 days (604800 seconds)". */
export function recordAgeRange(): string {
  const [min, max] = ESM_LIMITS.maxRecordAgeSeconds;
  return `${min} seconds to ${Duration.seconds(max).toHumanString()} (${max} seconds)`;
}

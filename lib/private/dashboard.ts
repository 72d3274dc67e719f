import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MetricName } from '../../contract/dispatcher-config';
import { TriggerDashboardOptions } from '../trigger-props';
import { dispatcherMetric } from './pipeline';

/** The dispatcher's embedded metrics a trigger's dashboard draws. */
export const DASHBOARD_DISPATCHER_METRICS: MetricName[] = [
  'RecordsIn',
  'RecordsInvoked',
  'RecordsFailed',
  'RecordsSkippedDuplicate',
  'ReinvokedForLostResult',
];

/** The mapping's own metrics (EventCount, ErrorCount) a trigger's dashboard draws, by the metric type that turns them on. */
export const DASHBOARD_MAPPING_METRICS: { [type: string]: string[] } = {
  [lambda.MetricType.EVENT_COUNT]: ['PolledEventCount', 'InvokedEventCount', 'FilteredOutEventCount'],
  [lambda.MetricType.ERROR_COUNT]: ['FailedInvokeEventCount', 'DroppedEventCount', 'OnFailureDestinationDeliveredEventCount'],
};

/** What a trigger's dashboard draws, each from the trigger's own `metric*` methods. */
export interface TriggerDashboardParts {
  /** OffsetLag or IteratorAge. */
  readonly lag: cloudwatch.Metric;
  /** The mapping's own metrics, per mapping (empty when `metrics` is not set). */
  readonly mappingMetrics: cloudwatch.Metric[];
  /** The `service` dimension of the dispatcher's metrics, when the target is a dispatcher. */
  readonly dispatcherService?: string;
  readonly target: lambda.IFunction;
  readonly onFailureQueue?: sqs.IQueue;
  /** MappingHealthy, per mapping (empty when mapping health is off). */
  readonly health: cloudwatch.Metric[];
  readonly healthAlarm?: cloudwatch.Alarm;
}

/** One dashboard of a trigger: lag, the mapping's metrics, the dispatcher's, the target's errors, the destination, health. */
export function createTriggerDashboard(
  scope: Construct,
  id: string,
  parts: TriggerDashboardParts,
  options: TriggerDashboardOptions = {},
): cloudwatch.Dashboard {
  const period = options.period ?? Duration.minutes(5);
  // A metric's own period wins over the widget's: each is drawn at the dashboard's.
  const graph = (title: string, left: cloudwatch.Metric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
    new cloudwatch.GraphWidget({ title, left: left.map((m) => m.with({ period })), width: 12, height: 6, period, ...extra });
  const widgets: cloudwatch.IWidget[] = [graph(`Consumer lag (${parts.lag.metricName})`, [parts.lag])];
  if (parts.mappingMetrics.length) widgets.push(graph('Event source mapping', parts.mappingMetrics));
  if (parts.dispatcherService !== undefined) {
    const service = parts.dispatcherService;
    widgets.push(
      graph(
        'Dispatcher records',
        DASHBOARD_DISPATCHER_METRICS.map((name) => dispatcherMetric(service, name)),
      ),
    );
  }
  widgets.push(
    graph('Target errors and throttles', [
      parts.target.metricErrors({ statistic: cloudwatch.Stats.SUM }),
      parts.target.metricThrottles({ statistic: cloudwatch.Stats.SUM }),
    ]),
  );
  if (parts.onFailureQueue) {
    widgets.push(
      graph('On-failure queue depth', [
        parts.onFailureQueue.metricApproximateNumberOfMessagesVisible({ statistic: cloudwatch.Stats.MAXIMUM }),
      ]),
    );
  }
  if (parts.healthAlarm)
    widgets.push(new cloudwatch.AlarmWidget({ title: 'Mapping health alarm', alarm: parts.healthAlarm, width: 12, height: 6 }));
  if (parts.health.length) {
    widgets.push(graph('Mapping healthy (1) or not (0)', parts.health, { leftYAxis: { min: 0, max: 1 } }));
  }
  const dashboard = new cloudwatch.Dashboard(scope, id, {
    dashboardName: options.dashboardName,
    defaultInterval: Duration.hours(3),
  });
  for (let i = 0; i < widgets.length; i += 2) dashboard.addWidgets(...widgets.slice(i, i + 2));
  return dashboard;
}

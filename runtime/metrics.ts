/**
 * CloudWatch embedded metric format (EMF): counters collected during one invocation and written as
 * one JSON line, which CloudWatch Logs turns into metrics without an API call.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { DEFAULTS, METRIC_NAMES, MetricName } from '../contract/dispatcher-config';

export { METRIC_NAMES };
export type { MetricName };

export interface EmfMetricsOptions {
  /** @default the POWERTOOLS_METRICS_NAMESPACE environment variable, else "CdkKafkaLambda" */
  readonly namespace?: string;
  /** One dimension set, e.g. { service: "orders-dispatcher" }. */
  readonly dimensions?: Record<string, string>;
  readonly write?: (line: string) => void;
}

export class EmfMetrics {
  private readonly namespace: string;
  private readonly dimensions: Record<string, string>;
  private readonly write: (line: string) => void;
  private counts = new Map<MetricName, number>();

  constructor(options: EmfMetricsOptions = {}) {
    this.namespace = options.namespace ?? process.env.POWERTOOLS_METRICS_NAMESPACE ?? DEFAULTS.metricsNamespace;
    this.dimensions = options.dimensions ?? { service: process.env.POWERTOOLS_SERVICE_NAME ?? 'cdk-kafka-lambda' };
    this.write = options.write ?? ((line) => process.stdout.write(line));
  }

  add(name: MetricName, value = 1): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
  }

  get(name: MetricName): number {
    return this.counts.get(name) ?? 0;
  }

  /** Writes the collected counters (all of them, zeros included, so dashboards see no gaps) and resets. */
  flush(): void {
    const values: Record<string, number> = {};
    for (const name of METRIC_NAMES) values[name] = this.counts.get(name) ?? 0;
    this.write(
      JSON.stringify({
        _aws: {
          Timestamp: Date.now(),
          CloudWatchMetrics: [
            {
              Namespace: this.namespace,
              Dimensions: [Object.keys(this.dimensions)],
              Metrics: METRIC_NAMES.map((Name) => ({ Name, Unit: 'Count' })),
            },
          ],
        },
        ...this.dimensions,
        ...values,
      }) + '\n',
    );
    this.counts = new Map();
  }
}

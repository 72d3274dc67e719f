/**
 * Health of event source mappings: reads each mapping with Lambda's GetEventSourceMapping and writes, per mapping, one
 * CloudWatch embedded-metric-format line (`MappingHealthy` 1 or 0) and one log line naming its state and the problem
 * Lambda reports. A mapping's State and LastProcessingResult have no CloudWatch metric of their own.
 * @see https://docs.aws.amazon.com/lambda/latest/api/API_GetEventSourceMapping.html
 */
import type { Logger } from './logger';

/** The environment the KafkaTrigger and KinesisTrigger constructs give the health function. */
export const MAPPING_HEALTH_ENV = {
  /** The mappings' UUIDs, comma-separated. */
  mappings: 'CKL_MAPPING_UUIDS',
  /** The trigger's construct path: the value of the `Trigger` dimension. */
  trigger: 'CKL_TRIGGER',
  /** "true" when the trigger was deployed with `enabled: false`: Disabled is then what was asked for. */
  disabledOnPurpose: 'CKL_MAPPINGS_DISABLED_ON_PURPOSE',
} as const;

/**
 * The metric's name; written per mapping (dimension `EventSourceMappingUUID`) and, once all were read, per trigger
 * (dimension `Trigger`: 1 when every mapping is healthy).
 */
export const MAPPING_HEALTHY_METRIC = 'MappingHealthy';

/** States in which a mapping polls, or is about to: the states the Lambda documentation lists, less the stopping ones. */
export const RUNNING_STATES: readonly string[] = ['Creating', 'Enabling', 'Enabled', 'Updating'];

/** States of a mapping that does not poll. */
export const STOPPED_STATES: readonly string[] = ['Disabling', 'Disabled'];

/**
 * LastProcessingResult texts that name a problem: "PROBLEM: ..." and the Kafka authentication and authorization
 * errors as the Lambda troubleshooting page lists them (with-kafka-troubleshoot: "Cluster failed to authorize Lambda",
 * "SASL authentication failed", "Server failed to authenticate Lambda", "Lambda failed to authenticate server",
 * "Provided certificate or private key is invalid").
 */
const PROBLEM_RESULTS: readonly RegExp[] = [
  /^PROBLEM/i,
  /failed to authori[sz]e/i,
  /authentication failed/i,
  /failed to authenticate/i,
  /certificate or private key is invalid/i,
];

/** The configuration could not be read from the environment. */
export class MappingHealthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingHealthConfigError';
  }
}

/** GetEventSourceMapping failed for some mappings (other than their not existing): no metric was written for them. */
export class MappingHealthCheckError extends Error {
  constructor(
    message: string,
    readonly failures: string[],
  ) {
    super(message);
    this.name = 'MappingHealthCheckError';
  }
}

export interface MappingHealthConfig {
  readonly mappingUuids: string[];
  readonly trigger: string;
  readonly disabledOnPurpose: boolean;
}

/** What GetEventSourceMapping answers that the check reads. */
export interface MappingStatus {
  readonly State?: string;
  readonly StateTransitionReason?: string;
  readonly LastProcessingResult?: string;
}

export interface MappingVerdict {
  readonly healthy: boolean;
  /** Why it is unhealthy; absent when healthy. */
  readonly reason?: string;
}

/**
 * Healthy: the mapping is in a running state (Creating, Enabling, Enabled, Updating) and its LastProcessingResult does
 * not start with "PROBLEM". Disabling and Disabled are healthy only when the trigger was deployed disabled
 * (`enabled: false`); otherwise the mapping stopped although it should poll. Deleting, and any state not listed, is
 * unhealthy.
 */
export function assessMapping(status: MappingStatus, disabledOnPurpose: boolean): MappingVerdict {
  const state = status.State ?? 'unknown';
  const result = status.LastProcessingResult ?? '';
  if (STOPPED_STATES.includes(state)) {
    return disabledOnPurpose
      ? { healthy: true }
      : { healthy: false, reason: `the mapping is ${state} although the trigger enables it` };
  }
  if (!RUNNING_STATES.includes(state)) return { healthy: false, reason: `the mapping is ${state}` };
  if (PROBLEM_RESULTS.some((p) => p.test(result))) return { healthy: false, reason: result };
  return { healthy: true };
}

/** Reads the configuration the constructs write. */
export function mappingHealthConfigFromEnv(env: NodeJS.ProcessEnv = process.env): MappingHealthConfig {
  const mappingUuids = (env[MAPPING_HEALTH_ENV.mappings] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (!mappingUuids.length) {
    throw new MappingHealthConfigError(`${MAPPING_HEALTH_ENV.mappings}: no mapping UUID is set (comma-separated UUIDs expected)`);
  }
  return {
    mappingUuids,
    trigger: env[MAPPING_HEALTH_ENV.trigger] ?? 'cdk-kafka-lambda',
    disabledOnPurpose: env[MAPPING_HEALTH_ENV.disabledOnPurpose] === 'true',
  };
}

/** One EMF line: `MappingHealthy` of one mapping (with its UUID), or of the whole trigger (without). */
export function mappingHealthEmf(
  namespace: string,
  trigger: string,
  uuid: string | undefined,
  healthy: boolean,
  now = Date.now(),
): string {
  return (
    JSON.stringify({
      _aws: {
        Timestamp: now,
        CloudWatchMetrics: [
          {
            Namespace: namespace,
            Dimensions: uuid === undefined ? [['Trigger']] : [['EventSourceMappingUUID']],
            Metrics: [{ Name: MAPPING_HEALTHY_METRIC, Unit: 'Count' }],
          },
        ],
      },
      ...(uuid === undefined ? {} : { EventSourceMappingUUID: uuid }),
      Trigger: trigger,
      [MAPPING_HEALTHY_METRIC]: healthy ? 1 : 0,
    }) + '\n'
  );
}

export interface MappingHealthDeps {
  /** GetEventSourceMapping; an error named ResourceNotFoundException means the mapping does not exist. */
  readonly getMapping: (uuid: string) => Promise<MappingStatus>;
  readonly logger: Logger;
  readonly namespace: string;
  readonly write: (line: string) => void;
}

/**
 * Checks each mapping: writes its metric and a log line (INFO when healthy, WARN with the problem when not), then the
 * trigger's: 1 only when every mapping was read and is healthy. A mapping that does not exist is unhealthy. When
 * GetEventSourceMapping fails otherwise, no metric is written for that mapping, the trigger's is 0, and the check
 * throws once all mappings were tried.
 */
export async function checkMappingHealth(config: MappingHealthConfig, deps: MappingHealthDeps): Promise<MappingVerdict[]> {
  const verdicts: MappingVerdict[] = [];
  const failures: string[] = [];
  for (const uuid of config.mappingUuids) {
    let status: MappingStatus;
    try {
      status = await deps.getMapping(uuid);
    } catch (e) {
      if ((e as Error)?.name !== 'ResourceNotFoundException') {
        deps.logger.error('GetEventSourceMapping failed: no health metric for this mapping', {
          eventSourceMappingUuid: uuid,
          error: { name: (e as Error)?.name, message: (e as Error)?.message },
        });
        failures.push(uuid);
        continue;
      }
      status = { State: 'NotFound' };
    }
    const verdict =
      status.State === 'NotFound'
        ? { healthy: false, reason: 'the mapping does not exist' }
        : assessMapping(status, config.disabledOnPurpose);
    verdicts.push(verdict);
    deps.write(mappingHealthEmf(deps.namespace, config.trigger, uuid, verdict.healthy));
    const fields = {
      eventSourceMappingUuid: uuid,
      healthy: verdict.healthy,
      state: status.State,
      stateTransitionReason: status.StateTransitionReason,
      lastProcessingResult: status.LastProcessingResult,
      ...(verdict.reason === undefined ? {} : { problem: verdict.reason }),
    };
    if (verdict.healthy) deps.logger.info('event source mapping is healthy', fields);
    else deps.logger.warn('event source mapping is unhealthy', fields);
  }
  // The trigger's datapoint comes last, once every mapping was read: a run cut short (its timeout) writes none, which
  // the alarm takes as breaching, instead of the 1s of the mappings read before hiding the others.
  const healthy = !failures.length && verdicts.every((v) => v.healthy);
  deps.write(mappingHealthEmf(deps.namespace, config.trigger, undefined, healthy));
  if (failures.length) {
    throw new MappingHealthCheckError(`GetEventSourceMapping failed for ${failures.join(', ')}`, failures);
  }
  return verdicts;
}

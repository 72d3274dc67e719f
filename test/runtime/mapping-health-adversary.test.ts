/**
 * Adversarial tests of the mapping health check: what the alarm (the `Trigger` dimension's minimum) reads when a
 * mapping cannot be read, and LastProcessingResult texts the Lambda documentation lists.
 */
import { assessMapping, checkMappingHealth, MappingHealthCheckError, MappingStatus } from '../../runtime/mapping-health';

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined } as any;

/** The MappingHealthy values a metric of the given dimension set receives from the EMF lines written. */
function datapoints(lines: string[], dimension: 'Trigger' | 'EventSourceMappingUUID'): number[] {
  return lines
    .map((l) => JSON.parse(l))
    .filter((m) => m._aws.CloudWatchMetrics.some((d: any) => d.Dimensions.some((s: string[]) => s.join() === dimension)))
    .map((m) => m.MappingHealthy);
}

describe('mapping health, attacked', () => {
  test.each(['ThrottlingException', 'TooManyRequestsException', 'AccessDeniedException'])(
    'GIVEN a trigger with two mappings WHEN GetEventSourceMapping fails (%s) for one and the other is healthy THEN the alarm (Trigger dimension, minimum) does not read the trigger as healthy',
    async (name) => {
      const lines: string[] = [];
      const statuses: Record<string, MappingStatus | Error> = {
        'uuid-ok': { State: 'Enabled', LastProcessingResult: 'OK' },
        'uuid-unread': Object.assign(new Error('Rate exceeded'), { name }),
      };
      const run = checkMappingHealth(
        { mappingUuids: Object.keys(statuses), trigger: 'Stack/Orders', disabledOnPurpose: false },
        {
          getMapping: async (uuid) => {
            const s = statuses[uuid];
            if (s instanceof Error) throw s;
            return s;
          },
          logger: quiet,
          namespace: 'CdkKafkaLambda',
          write: (l) => lines.push(l),
        },
      );
      // WHEN the check runs THEN it fails naming the mapping
      await expect(run).rejects.toBeInstanceOf(MappingHealthCheckError);
      // AND the readable mapping's own metric is 1, the unreadable one's has no datapoint
      expect(datapoints(lines, 'EventSourceMappingUUID')).toEqual([1]);
      // AND the alarm's metric (Trigger, minimum) is not 1: no datapoint (missing: breaching) or a 0
      const trigger = datapoints(lines, 'Trigger');
      expect(trigger.length === 0 || Math.min(...trigger) === 0).toBe(true);
    },
  );

  test('GIVEN a trigger with two mappings WHEN the run is cut short (its timeout) after the first, healthy one THEN the trigger has no datapoint, which the alarm takes as breaching', async () => {
    // GIVEN the second GetEventSourceMapping never answers
    const lines: string[] = [];
    let firstRead!: () => void;
    const read = new Promise<void>((resolve) => (firstRead = resolve));
    void checkMappingHealth(
      { mappingUuids: ['uuid-ok', 'uuid-slow'], trigger: 'Stack/Orders', disabledOnPurpose: false },
      {
        getMapping: async (uuid) => {
          if (uuid === 'uuid-ok') return { State: 'Enabled', LastProcessingResult: 'OK' };
          firstRead();
          return new Promise<MappingStatus>(() => undefined);
        },
        logger: quiet,
        namespace: 'CdkKafkaLambda',
        write: (l) => lines.push(l),
      },
    );
    // WHEN the function stops while the second read is pending
    await read;
    // THEN the first mapping's metric is 1 and the trigger's alarm metric has nothing
    expect(datapoints(lines, 'EventSourceMappingUUID')).toEqual([1]);
    expect(datapoints(lines, 'Trigger')).toEqual([]);
  });

  test.each([
    'Cluster failed to authorize Lambda',
    'SASL authentication failed',
    'Server failed to authenticate Lambda',
    'Lambda failed to authenticate server',
    'Provided certificate or private key is invalid',
  ])(
    'GIVEN an Enabled Kafka mapping WHEN its LastProcessingResult is the documented error "%s" (as the troubleshooting page lists it) THEN it is unhealthy',
    (LastProcessingResult) => {
      const verdict = assessMapping({ State: 'Enabled', LastProcessingResult }, false);
      expect(verdict).toEqual({ healthy: false, reason: LastProcessingResult });
    },
  );
});

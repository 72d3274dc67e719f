import {
  MappingHealthConfigError,
  assessMapping,
  mappingHealthConfigFromEnv,
  mappingHealthEmf,
} from '../../runtime/mapping-health';

describe('assessMapping', () => {
  test.each([
    ['Creating', 'No records processed', false, true],
    ['Enabling', 'No records processed', false, true],
    ['Enabled', 'OK', false, true],
    ['Enabled', undefined, false, true],
    ['Updating', 'OK', false, true],
    ['Enabled', 'PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS', false, false],
    ['Updating', 'PROBLEM: Function call failed', false, false],
    ['Disabling', 'OK', false, false],
    ['Disabled', 'OK', false, false],
    ['Disabling', 'OK', true, true],
    ['Disabled', 'PROBLEM: Connection error.', true, true],
    ['Deleting', 'OK', true, false],
    ['Deleting', 'OK', false, false],
    [undefined, 'OK', false, false],
  ])(
    'State %s, LastProcessingResult %s, disabled on purpose %s: healthy %s',
    (State, LastProcessingResult, onPurpose, healthy) => {
      // GIVEN a mapping's state WHEN assessed THEN
      const verdict = assessMapping({ State, LastProcessingResult }, onPurpose);
      expect(verdict.healthy).toBe(healthy);
      expect(verdict.reason === undefined).toBe(healthy);
    },
  );

  test('the problem of an Enabled mapping is its LastProcessingResult, word for word', () => {
    expect(assessMapping({ State: 'Enabled', LastProcessingResult: 'PROBLEM: Connection error. x' }, false).reason).toBe(
      'PROBLEM: Connection error. x',
    );
  });
});

describe('mappingHealthConfigFromEnv', () => {
  test('reads the UUIDs, the trigger and whether Disabled is on purpose', () => {
    expect(
      mappingHealthConfigFromEnv({ CKL_MAPPING_UUIDS: 'a, b', CKL_TRIGGER: 'S/T', CKL_MAPPINGS_DISABLED_ON_PURPOSE: 'true' }),
    ).toEqual({ mappingUuids: ['a', 'b'], trigger: 'S/T', disabledOnPurpose: true });
  });

  test('fails with MappingHealthConfigError naming the variable when no UUID is set', () => {
    expect(() => mappingHealthConfigFromEnv({})).toThrow(MappingHealthConfigError);
    expect(() => mappingHealthConfigFromEnv({ CKL_MAPPING_UUIDS: ' , ' })).toThrow(/CKL_MAPPING_UUIDS/);
  });
});

test('mappingHealthEmf: one line, MappingHealthy of a mapping (its UUID) or of its trigger', () => {
  expect(JSON.parse(mappingHealthEmf('CdkKafkaLambda', 'S/T', undefined, true, 42))._aws.CloudWatchMetrics[0].Dimensions).toEqual(
    [['Trigger']],
  );
  const line = mappingHealthEmf('CdkKafkaLambda', 'S/T', 'u-1', false, 42);
  expect(line.endsWith('\n')).toBe(true);
  expect(JSON.parse(line)).toEqual({
    _aws: {
      Timestamp: 42,
      CloudWatchMetrics: [
        {
          Namespace: 'CdkKafkaLambda',
          Dimensions: [['EventSourceMappingUUID']],
          Metrics: [{ Name: 'MappingHealthy', Unit: 'Count' }],
        },
      ],
    },
    EventSourceMappingUUID: 'u-1',
    Trigger: 'S/T',
    MappingHealthy: 0,
  });
});

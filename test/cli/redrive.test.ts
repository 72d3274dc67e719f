/** The redrive command's flags and what it reads from on-failure and error records. */
import { parseRedriveArgs } from '../../cli/redrive/options';
import { errorRecordItem, onFailureRanges } from '../../cli/redrive/sources';

describe('redrive flags', () => {
  const base = ['--bootstrap-servers', 'b:9092', '--function-name', 'dispatcher'];

  test('one source is required, and the brokers and the function', () => {
    expect(() => parseRedriveArgs(base)).toThrow(
      /give one source: --from-sqs QUEUE_URL, --from-s3 s3:\/\/BUCKET\[\/PREFIX\] or --from-error-topic TOPIC/,
    );
    expect(() => parseRedriveArgs([...base, '--from-sqs', 'q', '--from-error-topic', 'e'])).toThrow(/give one source/);
    expect(() => parseRedriveArgs([...base, '--from-sqs', 'q', '--from-s3', 's3://b'])).toThrow(/give one source/);
    expect(() => parseRedriveArgs([...base, '--from-s3', 'bucket'])).toThrow(/--from-s3 must be s3:\/\/BUCKET/);
    expect(() => parseRedriveArgs(['--from-error-topic', 'e', '--function-name', 'f'])).toThrow(
      /--bootstrap-servers is required/,
    );
    expect(() => parseRedriveArgs(['--from-sqs', 'q', '--bootstrap-servers', 'b:1'])).toThrow(/--function-name is required/);
    expect(() => parseRedriveArgs([...base, '--from-sqs', 'q', '--max-records-per-second', '0'])).toThrow(
      /--max-records-per-second must be a number above 0, got "0"/,
    );
  });

  test('defaults: the state file under the current directory, 100 records per invocation, SASL as local reads it', () => {
    const o = parseRedriveArgs([
      ...base,
      '--from-error-topic',
      'errors',
      '--sasl',
      'scram-sha-512',
      '--username',
      'u',
      '--password',
      'p',
    ]);
    expect(o).toMatchObject({
      fromErrorTopic: 'errors',
      stateFile: `${process.cwd()}/.cdk-kafka-lambda-redrive.json`,
      batchSize: 100,
      dryRun: false,
      kafka: { brokers: ['b:9092'], sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' } },
    });
  });
});

describe('redrive sources', () => {
  test('an on-failure record gives its ranges per topic-partition, also delivered through SNS', () => {
    const rec = {
      KafkaBatchInfo: {
        recordsInfo: {
          'my-topic-0': { firstRecordOffset: '4', lastRecordOffset: '9' },
          'my-topic-12': { firstRecordOffset: '0', lastRecordOffset: '0' },
        },
      },
    };
    const want = [
      { topic: 'my-topic', partition: 0, first: 4, last: 9 },
      { topic: 'my-topic', partition: 12, first: 0, last: 0 },
    ];
    expect(onFailureRanges(JSON.stringify(rec))).toEqual(want);
    expect(onFailureRanges(JSON.stringify({ Type: 'Notification', Message: JSON.stringify(rec) }))).toEqual(want);
    expect(() => onFailureRanges(JSON.stringify({ KinesisBatchInfo: {} }))).toThrow(/not a Kafka on-failure record/);
  });

  test('an error record: carried records as they are, truncated ones by offset, no records by its key range', () => {
    const key = JSON.stringify({ topic: 't', partition: 2, startOffset: 5, endOffset: 8 });
    const item = errorRecordItem(
      'e',
      key,
      JSON.stringify({
        records: [
          { offset: 5, value: 'YQ==' },
          { truncated: true, offset: 6 },
          { offset: 7, value: 'Yw==' },
        ],
      }),
    );
    expect(item.records.map((r) => [r.topic, r.partition, r.offset])).toEqual([
      ['t', 2, 5],
      ['t', 2, 7],
    ]);
    expect(item.ranges).toEqual([{ topic: 't', partition: 2, first: 6, last: 6 }]);
    expect(errorRecordItem('e', key, JSON.stringify({ functionName: 'f' })).ranges).toEqual([
      { topic: 't', partition: 2, first: 5, last: 7 },
    ]);
  });
});

describe('redrive invocations', () => {
  test("the dispatcher's skipped duplicates come from the last embedded-metric line of the log tail", () => {
    const { skippedDuplicates } = require('../../cli/redrive/invoke') as typeof import('../../cli/redrive/invoke');
    const emf = (n: number) => `{"_aws":{"Timestamp":1},"service":"d","RecordsIn":3,"RecordsSkippedDuplicate":${n}}`;
    expect(skippedDuplicates(`START\n${emf(1)}\nEND`)).toBe(1);
    expect(skippedDuplicates(`${emf(1)}\n2026-12-07T00:00:00Z\tid\tINFO\t${emf(3)}\n{"_aws":{"cut`)).toBe(3);
    expect(skippedDuplicates('a plain log line\n')).toBe(0);
  });
});

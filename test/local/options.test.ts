import { parseCli } from '../../local/cli';
import { LocalEsmConfigError, validateOptions } from '../../local/esm';

const base = { kafka: { brokers: ['127.0.0.1:9092'] }, topics: ['t'], functionName: 'f' };

describe('local event source mapping options', () => {
  test.each([
    [{ batchSize: 0 }, /batchSize must be an integer from 1 to 10000, got 0/],
    [{ batchSize: 10001 }, /batchSize .* got 10001/],
    [{ maxBatchingWindowSeconds: 301 }, /maxBatchingWindowSeconds must be from 0 to 300, got 301/],
    [{ retryAttempts: -2 }, /retryAttempts must be -1 .* got -2/],
    [{ maximumRecordAgeSeconds: 59 }, /maximumRecordAgeSeconds must be -1 or 60 to 604800, got 59/],
    [{ startingPosition: 'AT_TIMESTAMP' }, /startingPositionTimestamp is required/],
    [{ topics: [] }, /at least one topic/],
    [{ handler: 'x.handler' }, /exactly one of functionName .* or handler/],
  ])('fails with LocalEsmConfigError for %j', (bad, message) => {
    expect(() => validateOptions({ ...base, ...bad } as any)).toThrow(LocalEsmConfigError);
    expect(() => validateOptions({ ...base, ...bad } as any)).toThrow(message);
  });

  test.each([[1], [10000]])('accepts batchSize %d', (batchSize) => {
    expect(() => validateOptions({ ...base, batchSize })).not.toThrow();
  });

  test('flags map to options; timestamps in seconds become milliseconds', () => {
    const o = parseCli(['--bootstrap-servers', 'a:1,b:2', '--topic', 't1', '--topic', 't2', '--function-name', 'f', '--batch-size', '10',
      '--batching-window', '2', '--starting-position', 'AT_TIMESTAMP', '--starting-position-timestamp', '1700000000', '--bisect',
      '--retry-attempts', '3', '--on-failure', 'kafka://dlq', '--event-source-arn', 'arn:aws:kafka:us-east-1:1:cluster/c/u', '--sasl', 'scram-sha-512', '--username', 'u', '--password', 'p', '--tls']);
    expect(o).toMatchObject({
      kafka: { brokers: ['a:1', 'b:2'], sasl: { mechanism: 'scram-sha-512', username: 'u', password: 'p' }, ssl: {} },
      topics: ['t1', 't2'], functionName: 'f', batchSize: 10, maxBatchingWindowSeconds: 2, startingPosition: 'AT_TIMESTAMP',
      startingPositionTimestamp: 1_700_000_000_000, bisectBatchOnFunctionError: true, retryAttempts: 3, onFailure: 'kafka://dlq',
      eventSource: { eventSourceArn: 'arn:aws:kafka:us-east-1:1:cluster/c/u', bootstrapServers: 'a:1,b:2' },
    });
  });

  test.each([
    [['--topic', 't', '--function-name', 'f'], /--bootstrap-servers .* is required/],
    [['--bootstrap-servers', 'a:1', '--batch-size', 'ten'], /--batch-size must be a number, got "ten"/],
    [['--bootstrap-servers', 'a:1', '--sasl', 'gssapi'], /--sasl must be scram-sha-256, scram-sha-512 or plain, got "gssapi"/],
  ])('fails on bad flags %j', (argv, message) => {
    expect(() => parseCli(argv)).toThrow(message);
  });
});

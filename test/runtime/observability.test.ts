import { EmfMetrics, JsonLogger, METRIC_NAMES } from '../../runtime';

describe('EmfMetrics', () => {
  test('writes one CloudWatch embedded-metric-format line with every counter, then resets', () => {
    // GIVEN counters added during an invocation
    const lines: string[] = [];
    const metrics = new EmfMetrics({ namespace: 'Ns', dimensions: { service: 'svc' }, write: (l) => lines.push(l) });
    metrics.add('RecordsIn', 3);
    metrics.add('RecordsFailed');
    metrics.add('RecordsFailed');
    // WHEN flushed twice
    metrics.flush();
    metrics.flush();
    // THEN the first line declares all metrics under the namespace and dimension, with values at the top level
    const emf = JSON.parse(lines[0]);
    expect(lines[0].endsWith('\n')).toBe(true);
    expect(emf._aws.CloudWatchMetrics).toEqual([
      { Namespace: 'Ns', Dimensions: [['service']], Metrics: METRIC_NAMES.map((Name) => ({ Name, Unit: 'Count' })) },
    ]);
    expect(typeof emf._aws.Timestamp).toBe('number');
    expect(emf).toMatchObject({ service: 'svc', RecordsIn: 3, RecordsFailed: 2, RecordsDropped: 0 });
    // AND the second starts from zero
    expect(JSON.parse(lines[1])).toMatchObject({ RecordsIn: 0, RecordsFailed: 0 });
  });
});

describe('JsonLogger', () => {
  test('one JSON object per line with level, message, service, appended fields and serialized errors; below the level nothing', () => {
    const lines: string[] = [];
    const logger = new JsonLogger({ service: 'svc', level: 'INFO', write: (l) => lines.push(l) });
    logger.append({ function_request_id: 'r-1' });
    logger.debug('hidden');
    logger.error('boom', { error: Object.assign(new RangeError('bad'), { topic: 't' }), big: 10n });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]);
    expect(line).toMatchObject({
      level: 'ERROR',
      message: 'boom',
      service: 'svc',
      function_request_id: 'r-1',
      big: '10',
      error: { name: 'RangeError', message: 'bad', topic: 't' },
    });
    expect(line.error.stack).toContain('RangeError: bad');
  });
});

/**
 * The mapping health bundle (assets/mapping-health/index.js) under the Lambda emulator, configured as KafkaTrigger and
 * KinesisTrigger configure it, its Lambda client pointed (AWS_ENDPOINT_URL_LAMBDA) at a stand-in for
 * GetEventSourceMapping served by this test: mappings in each State the Lambda API documents and with the
 * LastProcessingResult values it reports. What is checked is what the function writes: the embedded-metric-format
 * lines CloudWatch turns into `MappingHealthy`, and the log lines.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { LambdaClient } from '@aws-sdk/client-lambda';
import * as te from '../../testenv';
import { invokeFunction } from './support';

jest.setTimeout(120_000);

const BUNDLE = path.join(__dirname, '..', '..', 'assets', 'mapping-health');
const CONNECTION_ERROR =
  'PROBLEM: Connection error. Your event source VPC must be able to connect to Lambda and STS, Secrets Manager (if event source authentication is required), and your Provisioned Mode poller.';

/** A mapping as GetEventSourceMapping answers it, and whether the check must call it healthy. */
interface Case {
  readonly state: string;
  readonly lastProcessingResult: string;
  readonly stateTransitionReason: string;
  readonly healthy: boolean;
  readonly problem?: string | RegExp;
}

const CASES: Case[] = [
  { state: 'Creating', lastProcessingResult: 'No records processed', stateTransitionReason: 'USER_INITIATED', healthy: true },
  { state: 'Enabling', lastProcessingResult: 'No records processed', stateTransitionReason: 'USER_INITIATED', healthy: true },
  { state: 'Enabled', lastProcessingResult: 'OK', stateTransitionReason: 'USER_INITIATED', healthy: true },
  {
    state: 'Enabled',
    lastProcessingResult: CONNECTION_ERROR,
    stateTransitionReason: 'USER_INITIATED',
    healthy: false,
    problem: CONNECTION_ERROR,
  },
  { state: 'Updating', lastProcessingResult: 'OK', stateTransitionReason: 'USER_INITIATED', healthy: true },
  {
    state: 'Disabling',
    lastProcessingResult: 'OK',
    stateTransitionReason: 'USER_INITIATED',
    healthy: false,
    problem: /Disabling although the trigger enables it/,
  },
  {
    state: 'Disabled',
    lastProcessingResult: CONNECTION_ERROR,
    stateTransitionReason: 'LAMBDA_INITIATED',
    healthy: false,
    problem: /Disabled although the trigger enables it/,
  },
  { state: 'Deleting', lastProcessingResult: 'OK', stateTransitionReason: 'USER_INITIATED', healthy: false, problem: /Deleting/ },
];

/** The lines of the function's log that are JSON objects (the emulator's own lines are not). */
function jsonLines(logFile: string): any[] {
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

describe('mapping health bundle under the Lambda emulator', () => {
  const lambda = new LambdaClient(te.awsClientConfig('lambda', undefined, { maxAttempts: 1 }));
  const mappings = new Map<string, Case>(CASES.map((c) => [randomUUID(), c]));
  const missing = randomUUID();
  const denied = randomUUID();
  const requests: { method?: string; url?: string; signed: boolean }[] = [];
  const fns: te.RunningLambda[] = [];
  let server: http.Server;
  let endpoint: string;

  beforeAll(async () => {
    expect(fs.existsSync(path.join(BUNDLE, 'index.js'))).toBe(true); // built by npm run build
    // The stand-in for GetEventSourceMapping: GET /2015-03-31/event-source-mappings/<uuid>.
    server = http.createServer((req, res) => {
      requests.push({ method: req.method, url: req.url, signed: /^AWS4-HMAC-SHA256 /.test(req.headers.authorization ?? '') });
      const uuid = /^\/2015-03-31\/event-source-mappings\/([^/?]+)/.exec(req.url ?? '')?.[1];
      const answer = (status: number, body: object, errorType?: string) => {
        res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
        res.end(JSON.stringify(body));
      };
      const c = uuid === undefined ? undefined : mappings.get(uuid);
      if (req.method !== 'GET' || uuid === undefined)
        return answer(400, { message: 'unexpected request' }, 'InvalidParameterValueException');
      if (uuid === denied)
        return answer(403, { message: 'not authorized to perform: lambda:GetEventSourceMapping' }, 'AccessDeniedException');
      if (c === undefined)
        return answer(404, { Type: 'User', Message: 'The resource you requested does not exist.' }, 'ResourceNotFoundException');
      return answer(200, {
        UUID: uuid,
        State: c.state,
        StateTransitionReason: c.stateTransitionReason,
        LastProcessingResult: c.lastProcessingResult,
        FunctionArn: 'arn:aws:lambda:us-east-1:111122223333:function:target',
        Topics: ['orders'],
        BatchSize: 100,
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
  });
  afterAll(async () => {
    lambda.destroy();
    await Promise.all(fns.map((f) => f.stop()));
    await new Promise((resolve) => server.close(resolve));
  });

  async function healthFunction(uuids: string[], disabledOnPurpose: boolean): Promise<te.RunningLambda> {
    const fn = await te.startLambda({
      name: `mapping-health-${randomUUID().slice(0, 8)}`,
      dir: BUNDLE,
      handler: 'index.handler',
      env: {
        AWS_ENDPOINT_URL_LAMBDA: endpoint,
        CKL_MAPPING_UUIDS: uuids.join(','),
        CKL_TRIGGER: 'Stack/Orders',
        CKL_MAPPINGS_DISABLED_ON_PURPOSE: String(disabledOnPurpose),
        POWERTOOLS_METRICS_NAMESPACE: 'CdkKafkaLambda',
      },
    });
    fns.push(fn);
    return fn;
  }

  test('writes MappingHealthy 1 or 0 per mapping for each documented State and LastProcessingResult, and logs the problem', async () => {
    // GIVEN mappings in every State, one reporting a connection problem, and one that does not exist
    const uuids = [...mappings.keys(), missing];
    const fn = await healthFunction(uuids, false);
    // WHEN the schedule runs the function
    const out = await invokeFunction(lambda, fn.name, { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });
    // THEN it succeeds, having read each mapping once with a signed GetEventSourceMapping
    expect(out.functionError).toBeUndefined();
    expect(out.body).toEqual({ healthy: [...CASES.map((c) => c.healthy), false] });
    for (const uuid of uuids) {
      expect(requests.filter((r) => r.url === `/2015-03-31/event-source-mappings/${uuid}`)).toEqual([
        { method: 'GET', url: `/2015-03-31/event-source-mappings/${uuid}`, signed: true },
      ]);
    }
    const lines = jsonLines(fn.logFile);
    // AND one EMF line per mapping (MappingHealthy by mapping), then one for the trigger (0: some are unhealthy), in
    // the CdkKafkaLambda namespace
    const emf = lines.filter((l) => l._aws);
    expect(emf).toHaveLength(uuids.length + 1);
    emf.forEach((line, i) => {
      expect(line._aws.CloudWatchMetrics).toEqual([
        {
          Namespace: 'CdkKafkaLambda',
          Dimensions: i < uuids.length ? [['EventSourceMappingUUID']] : [['Trigger']],
          Metrics: [{ Name: 'MappingHealthy', Unit: 'Count' }],
        },
      ]);
      expect(line.Trigger).toBe('Stack/Orders');
      expect(typeof line._aws.Timestamp).toBe('number');
    });
    expect(emf[uuids.length]).toMatchObject({ MappingHealthy: 0 });
    expect(emf[uuids.length].EventSourceMappingUUID).toBeUndefined();
    const metricOf = (uuid: string) => emf.find((l) => l.EventSourceMappingUUID === uuid)?.MappingHealthy;
    for (const [uuid, c] of mappings)
      expect([c.state, c.lastProcessingResult, metricOf(uuid)]).toEqual([c.state, c.lastProcessingResult, c.healthy ? 1 : 0]);
    expect(metricOf(missing)).toBe(0);
    // AND one log line per mapping: INFO when healthy, WARN naming State, reason, result and the problem when not
    const logs = lines.filter((l) => l.message?.startsWith('event source mapping is'));
    expect(logs).toHaveLength(uuids.length);
    for (const [uuid, c] of mappings) {
      const log = logs.find((l) => l.eventSourceMappingUuid === uuid);
      expect(log).toMatchObject({
        level: c.healthy ? 'INFO' : 'WARN',
        message: c.healthy ? 'event source mapping is healthy' : 'event source mapping is unhealthy',
        service: 'Stack/Orders',
        function_request_id: expect.any(String),
        healthy: c.healthy,
        state: c.state,
        stateTransitionReason: c.stateTransitionReason,
        lastProcessingResult: c.lastProcessingResult,
      });
      if (c.problem === undefined) expect(log.problem).toBeUndefined();
      else expect(log.problem).toEqual(typeof c.problem === 'string' ? c.problem : expect.stringMatching(c.problem));
      // Only the fields of the mapping's state: nothing else of the answer (its configuration) is logged.
      expect(log.FunctionArn ?? log.Topics ?? log.BatchSize).toBeUndefined();
    }
    expect(logs.find((l) => l.eventSourceMappingUuid === missing)).toMatchObject({
      level: 'WARN',
      healthy: false,
      problem: 'the mapping does not exist',
    });
  });

  test('with enabled: false a Disabled mapping is healthy; a failed read writes no metric, logs an ERROR and fails the run', async () => {
    // GIVEN a trigger deployed disabled whose role may not read one of its mappings
    const disabled = [...mappings].find(([, c]) => c.state === 'Disabled')![0];
    const fn = await healthFunction([disabled, denied], true);
    // WHEN the schedule runs the function
    const out = await invokeFunction(lambda, fn.name, {});
    // THEN the run fails with the typed error naming the mapping it could not read
    expect(out).toMatchObject({
      functionError: 'Unhandled',
      body: { errorType: 'MappingHealthCheckError', errorMessage: `GetEventSourceMapping failed for ${denied}` },
    });
    const lines = jsonLines(fn.logFile);
    // AND the Disabled mapping is healthy, the unreadable one has no metric of its own, and the trigger's, written once
    // every mapping was tried, is 0
    const emf = lines.filter((l) => l._aws);
    expect(emf.map((l) => [l.EventSourceMappingUUID, l.Trigger, l.MappingHealthy])).toEqual([
      [disabled, expect.any(String), 1],
      [undefined, expect.any(String), 0],
    ]);
    expect(emf[1]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['Trigger']]);
    expect(lines.find((l) => l.eventSourceMappingUuid === denied)).toMatchObject({
      level: 'ERROR',
      message: 'GetEventSourceMapping failed: no health metric for this mapping',
      error: { name: 'AccessDeniedException' },
    });
  });
});

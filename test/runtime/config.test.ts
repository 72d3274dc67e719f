import { DispatcherConfigError, parseDispatcherConfig } from '../../runtime';

const valid = {
  version: 2,
  target: {
    functionName: 'f',
    invocationType: 'RequestResponse',
    payloadFormat: 'confluent',
    recordsPerInvocation: 10,
    concurrency: 2,
    maxAttempts: 3,
    baseDelayMs: 10,
    maxDelayMs: 100,
    assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/path/invoker', externalId: 'ext-1', durationSeconds: 900 },
  },
  onError: 'log',
  reportBatchItemFailures: true,
  timeMarginMs: 5000,
  idempotency: { tableName: 't', mode: 'strict', ttlSeconds: 3600, maxStoredResultBytes: 1000, keyPointer: '/id' },
  relay: {
    bootstrapServers: ['b:9092'],
    auth: 'scram-sha-512',
    secretArn: 'arn:s',
    tls: true,
    responseTopic: 'r',
    clientId: 'c',
  },
};

describe('parseDispatcherConfig', () => {
  test('accepts a complete configuration', () => {
    expect(parseDispatcherConfig(JSON.stringify(valid))).toEqual(valid);
  });

  test('accepts routes without a default target function', () => {
    const routes = [
      {
        match: { topics: ['a'], header: { name: 'type', value: '' }, keyPrefix: 'vip-' },
        functionName: 'f',
        invocationType: 'Event',
        payloadFormat: 'raw',
      },
      {
        match: {},
        functionName: 'g',
        invocationType: 'RequestResponse',
        payloadFormat: 'confluent',
        responseTopic: 'r',
        assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/r' },
      },
    ];
    const config = parseDispatcherConfig(
      JSON.stringify({ ...valid, target: { ...valid.target, functionName: undefined }, routes }),
    );
    expect(config.routes).toEqual(routes);
    expect(config.target.functionName).toBeUndefined();
  });

  test('accepts schemas with a Confluent registry and Glue', () => {
    const schemas = {
      key: 'confluent',
      value: 'mapping-source',
      confluent: { url: 'https://r:8081', auth: 'mtls', secretArn: 'arn:s', rootCaSecretArn: 'arn:ca' },
      glue: { region: 'eu-west-1' },
    };
    expect(parseDispatcherConfig(JSON.stringify({ ...valid, schemas })).schemas).toEqual(schemas);
  });

  test.each([
    [
      'a field format is unknown',
      { key: 'bytes', value: 'avro' },
      /config.schemas.value must be one of bytes, confluent, glue, mapping-json, mapping-source, got "avro"/,
    ],
    [
      'confluent has no registry',
      { key: 'confluent', value: 'bytes' },
      /config.schemas.key is confluent: config.schemas.confluent \(the registry's URL\) is required/,
    ],
    ['glue has no registry', { key: 'bytes', value: 'glue' }, /config.schemas.value is glue: config.schemas.glue is required/],
    [
      'mapping-source has no registry',
      { key: 'bytes', value: 'mapping-source' },
      /config.schemas.value is mapping-source: config.schemas.confluent or config.schemas.glue/,
    ],
    [
      'the registry URL is not http(s)',
      { key: 'confluent', value: 'bytes', confluent: { url: 'r:8081', auth: 'none' } },
      /config.schemas.confluent.url must be an http:\/\/ or https:\/\/ URL, got "r:8081"/,
    ],
    [
      'basic auth has no secret',
      { key: 'confluent', value: 'bytes', confluent: { url: 'http://r', auth: 'basic' } },
      /config.schemas.confluent.secretArn must be a non-empty string/,
    ],
    [
      'mTLS is over http',
      { key: 'confluent', value: 'bytes', confluent: { url: 'http://r', auth: 'mtls', secretArn: 'arn:s' } },
      /config.schemas.confluent.url must be https:\/\/ for auth mtls/,
    ],
  ])('refuses schemas when %s', (_, schemas, message) => {
    expect(() => parseDispatcherConfig(JSON.stringify({ ...valid, schemas }))).toThrow(message);
  });

  test.each([
    ['it is not set', undefined, /CKL_DISPATCHER_CONFIG: is not set/],
    ['it is not JSON', '{', /is not valid JSON/],
    [
      'the version is an older one (1: target.batchSize, idempotency.maxResultBytes, target.logTail)',
      JSON.stringify({ ...valid, version: 1 }),
      /config.version must be 2, got 1: deploy the dispatcher and the construct from the same cdk-kafka-lambda version/,
    ],
    [
      'the payload format is unknown',
      JSON.stringify({ ...valid, target: { ...valid.target, payloadFormat: 'avro' } }),
      /config.target.payloadFormat must be one of confluent, nordstrom-plain, nordstrom-json, raw, got "avro"/,
    ],
    [
      'the batch size is 0',
      JSON.stringify({ ...valid, target: { ...valid.target, recordsPerInvocation: 0 } }),
      /config.target.recordsPerInvocation must be an integer in \[1, 10000\], got 0/,
    ],
    [
      'SCRAM has no secret',
      JSON.stringify({ ...valid, relay: { ...valid.relay, secretArn: undefined } }),
      /config.relay.secretArn is required for auth scram-sha-512/,
    ],
    [
      'a server has no port',
      JSON.stringify({ ...valid, relay: { ...valid.relay, bootstrapServers: ['b'] } }),
      /bootstrapServers must be a non-empty list of "host:port", got \["b"\]/,
    ],
    [
      'the key pointer is not a pointer',
      JSON.stringify({ ...valid, idempotency: { ...valid.idempotency, keyPointer: 'id' } }),
      /keyPointer must be a JSON pointer/,
    ],
    [
      'kinesisRanges is not a boolean',
      JSON.stringify({ ...valid, idempotency: { ...valid.idempotency, kinesisRanges: 'yes' } }),
      /config.idempotency.kinesisRanges must be a boolean/,
    ],
    [
      'the role is not a role ARN',
      JSON.stringify({ ...valid, target: { ...valid.target, assumeRole: { roleArn: 'arn:aws:iam::111:user/u' } } }),
      /config.target.assumeRole.roleArn must be an IAM role ARN \(arn:aws:iam::<account>:role\/<name>\), got "arn:aws:iam::111:user\/u"/,
    ],
    [
      'the external ID has a space',
      JSON.stringify({
        ...valid,
        target: { ...valid.target, assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/r', externalId: 'a b' } },
      }),
      /config.target.assumeRole.externalId must be 2 to 1224 characters/,
    ],
    [
      'the session is shorter than STS allows',
      JSON.stringify({
        ...valid,
        target: { ...valid.target, assumeRole: { roleArn: 'arn:aws:iam::111111111111:role/r', durationSeconds: 60 } },
      }),
      /config.target.assumeRole.durationSeconds must be an integer in \[900, 43200\], got 60/,
    ],
    ['routes is empty', JSON.stringify({ ...valid, routes: [] }), /config.routes must be a non-empty list, got \[\]/],
    [
      'a route has no function',
      JSON.stringify({ ...valid, routes: [{ match: {}, invocationType: 'Event', payloadFormat: 'raw' }] }),
      /config.routes\[0\].functionName must be a non-empty string/,
    ],
    [
      'a route matches an empty topic list',
      JSON.stringify({
        ...valid,
        routes: [{ match: { topics: [] }, functionName: 'f', invocationType: 'Event', payloadFormat: 'raw' }],
      }),
      /config.routes\[0\].match.topics must be a non-empty list of topic names/,
    ],
    [
      'a route matches a header value that is not a string',
      JSON.stringify({
        ...valid,
        routes: [
          { match: { header: { name: 'type', value: 1 } }, functionName: 'f', invocationType: 'Event', payloadFormat: 'raw' },
        ],
      }),
      /config.routes\[0\].match.header.value must be a string, got 1/,
    ],
    [
      'a route responds without a relay',
      JSON.stringify({
        ...valid,
        relay: undefined,
        routes: [{ match: {}, functionName: 'f', invocationType: 'RequestResponse', payloadFormat: 'raw', responseTopic: 'r' }],
      }),
      /a responseTopic needs config.relay/,
    ],
    [
      'there is neither a target function nor routes',
      JSON.stringify({ ...valid, target: { ...valid.target, functionName: undefined } }),
      /config.target.functionName must be a non-empty string/,
    ],
  ])('fails with DispatcherConfigError when %s', (_label, json, message) => {
    expect(() => parseDispatcherConfig(json)).toThrow(DispatcherConfigError);
    expect(() => parseDispatcherConfig(json)).toThrow(message);
  });
});

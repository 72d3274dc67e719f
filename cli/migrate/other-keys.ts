/** Converters, Kafka Connect's own framework keys, and whatever no table names. */
import { call, enumMember, Expr, obj, THIS } from './codegen';
import { Derivation, hasUserInfo, stripUserInfo } from './derivation';

const PLAIN_CONVERTERS = [
  'org.apache.kafka.connect.storage.StringConverter',
  'org.apache.kafka.connect.converters.ByteArrayConverter',
  'org.apache.kafka.connect.json.JsonConverter',
];
const CONFLUENT_REGISTRY = [
  'io.confluent.connect.avro.AvroConverter',
  'io.confluent.connect.protobuf.ProtobufConverter',
  'io.confluent.connect.json.JsonSchemaConverter',
];
const GLUE_REGISTRY = /^com\.amazonaws\.services\.schemaregistry\.kafkaconnect\./;

/** key.converter, value.converter and their settings: a schema registry becomes `schemas`. */
export function converterKeys(d: Derivation, region: string | undefined): void {
  let registry: Expr | undefined;
  const formats: Record<string, Expr> = {};
  for (const field of ['key', 'value'] as const) {
    const k = `${field}.converter`;
    const cls = d.get(k);
    if (cls === undefined) continue;
    if (PLAIN_CONVERTERS.includes(cls)) {
      d.row(k, 'not needed', 'the dispatcher reads the bytes: JSON when they parse, else text (base64 when not UTF-8)');
    } else if (CONFLUENT_REGISTRY.includes(cls) || GLUE_REGISTRY.test(cls)) {
      const glue = GLUE_REGISTRY.test(cls);
      registry ??= glue ? glueRegistry(d, field, region) : confluentRegistry(d, field);
      formats[field] = enumMember('RecordFieldFormat', glue ? 'GLUE' : 'CONFLUENT');
      d.mapped(k, `schemas.${field}`, "the dispatcher decodes the registry's wire format to JSON");
    } else {
      d.row(
        k,
        'not supported',
        'a converter of your own; nearest: schemas (Confluent or Glue registry), or decode in the function',
      );
    }
  }
  if (registry) d.set('schemas', obj({ registry, ...formats }, 'RecordSchemas'), 'key.converter', 'value.converter');
  for (const field of ['key', 'value']) {
    const envelope = d.get(`${field}.converter.schemas.enable`)?.toLowerCase() === 'true';
    d.row(
      `${field}.converter.schemas.enable`,
      envelope ? 'not supported' : 'not needed',
      envelope
        ? 'the target receives the JSON as written, its {schema, payload} envelope included; nearest: read .payload in the function'
        : 'the JSON reaches the target as written',
    );
    for (const k of d.open(`${field}.converter.`)) d.row(k, 'not needed', 'no converter settings: see the converter row');
  }
  d.row(
    'header.converter',
    'not needed',
    'header values reach the target as text (base64 when not UTF-8) in the Nordstrom formats',
  );
  for (const k of d.open('header.converter.')) d.row(k, 'not needed', 'see header.converter');
}

function confluentRegistry(d: Derivation, field: string): Expr {
  const p = `${field}.converter.`;
  const given = d.get(`${p}schema.registry.url`)?.split(',')[0].trim() ?? 'https://REPLACE-ME-registry.example.com';
  // basic.auth.credentials.source=URL: the credentials are the URL's user info; they go to the secret, not the code.
  const inUrl = hasUserInfo(given);
  const url = stripUserInfo(given);
  d.mapped(
    `${p}schema.registry.url`,
    'schemas.registry',
    `RecordSchemaRegistry.confluent url (the first, when several)${inUrl ? '; its user info goes to the registry secret, not the code' : ''}`,
  );
  const basic =
    inUrl ||
    d.get(`${p}basic.auth.credentials.source`) !== undefined ||
    d.has(`${p}basic.auth.user.info`) ||
    d.has(`${p}schema.registry.basic.auth.user.info`);
  if (!basic) return call('RecordSchemaRegistry.confluent', obj({ url }));
  const name = `${d.name}-schema-registry`;
  d.secret({
    name,
    shape: `{"username": "...", "password": "..."} (from ${inUrl ? "the registry URL's user info" : 'basic.auth.user.info'})`,
    from: [...(inUrl ? [`${p}schema.registry.url`] : []), ...d.open(p).filter((k) => /user\.info$/.test(k))],
  });
  for (const k of d.open(p).filter((k) => /basic\.auth\./.test(k)))
    d.mapped(k, 'schemas.registry', 'authentication BASIC with the registry secret (see "Secrets to create")');
  return call(
    'RecordSchemaRegistry.confluent',
    obj({
      url,
      authentication: enumMember('ConfluentRegistryAuthentication', 'BASIC'),
      secret: call('secretsmanager.Secret.fromSecretNameV2', THIS, 'SchemaRegistryCredentials', name),
    }),
  );
}

function glueRegistry(d: Derivation, field: string, region: string | undefined): Expr {
  const p = `${field}.converter.`;
  const name = d.get(`${p}registry.name`) ?? 'REPLACE-ME';
  const r = d.get(`${p}region`) ?? region ?? 'us-east-1';
  d.mapped(`${p}registry.name`, 'schemas.registry', 'RecordSchemaRegistry.glue registryArn');
  d.mapped(`${p}region`, 'schemas.registry', 'the region of the registry ARN');
  return call('RecordSchemaRegistry.glue', obj({ registryArn: `arn:aws:glue:${r}:111122223333:registry/${name}` }));
}

/** Kafka Connect's framework keys, then the connector's remaining keys. */
export function frameworkKeys(d: Derivation, connectorGroup: string): void {
  d.row(
    'tasks.max',
    'not needed',
    'Lambda scales its pollers up to one consumer per partition; nearest for a fixed floor: provisionedPollers',
  );
  for (const k of d.open(/^(transforms|predicates)(\.|$)/))
    d.row(
      k,
      'not supported',
      'the mapping has no single message transforms; nearest: transform in the function, or drop records with KafkaTrigger filters',
    );
  for (const k of d.open(/^confluent\.(license|topic)/)) d.row(k, 'not needed', "Confluent Platform's license and its topic");
  d.mapped(
    `consumer.override.group.id`,
    'migrate offsets',
    `the connector's group (${connectorGroup}), which migrate offsets copies from`,
  );
  const reset = d.get('consumer.override.auto.offset.reset')?.toLowerCase();
  if (reset === 'earliest' || reset === 'latest') {
    d.set(
      'startingPosition',
      enumMember('lambda.StartingPosition', reset === 'earliest' ? 'TRIM_HORIZON' : 'LATEST'),
      'consumer.override.auto.offset.reset',
    );
    d.mapped(
      'consumer.override.auto.offset.reset',
      'startingPosition',
      "only where the mapping's group has no offsets: migrate offsets gives it the connector's",
    );
  } else
    d.row('consumer.override.auto.offset.reset', 'not supported', 'startingPosition takes TRIM_HORIZON (earliest) or LATEST');
  for (const k of d.open(/^(consumer|producer|admin)\.override\./))
    d.row(k, 'not needed', "Lambda configures the mapping's consumers, the construct the relay's producer");
  d.row('config.action.reload', 'not needed', 'a deployment replaces the configuration');
  for (const k of ['retries.max', 'retry.backoff.millis', 'retriable.error.codes'])
    d.row(
      k,
      'not needed',
      'the dispatcher retries throttled (429), 5xx and timed-out invocations with exponential backoff (KafkaDispatcher maxAttempts, default 5)',
    );
  for (const k of ['http.proxy.host', 'http.proxy.port'])
    d.row(k, 'not supported', 'the dispatcher calls Lambda directly; nearest: a VPC endpoint (vpcEndpoints) or a NAT gateway');
  for (const k of d.unaccounted())
    d.row(
      k,
      'not supported',
      `not a documented key of the ${d.kind === 'confluent' ? 'Confluent' : 'Nordstrom'} connector or of Kafka Connect: nothing reads it; check what it did`,
    );
}

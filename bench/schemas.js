'use strict';
/**
 * Schema decoding: Avro and Protobuf values in the Confluent wire format decoded by the dispatcher's path, by
 * Powertools' kafkaConsumer, by the least work possible (the floor) and by Confluent's deserializers, each run a
 * fresh process (schema-worker.js), the four taking turns; then what the schema codecs cost to ship and load: the
 * dispatcher bundle's and its lazily loaded libraries' sizes, the time `require` of the bundle adds to a bare node,
 * and the first use of each codec (its library required, a schema compiled, a record decoded). For comparison,
 * @aws-lambda-powertools/kafka and @confluentinc/schemaregistry's deserializers are bundled as the dispatcher is.
 */
const fs = require('fs');
const path = require('path');
const { execFile, spawnSync } = require('child_process');
const { ROOT, median } = require('./common');
const { requireMs } = require('./cold-start');
const { schemaGoals } = require('./shape');
const {
  FRAMED_BYTES,
  AVRO_SCHEMA,
  JSON_SCHEMA,
  PROTO,
  avroOrder,
  avroValue,
  protobufValue,
  protoDescriptor,
} = require('./schema-fixtures');

const IMPLS = ['ours', 'powertools', 'floor', 'confluent'];
const DISPATCHER = path.join(ROOT, 'assets', 'dispatcher');
const OUT = path.join(__dirname, '.out', 'schemas');

function decodeOnce(format, impl, records) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(__dirname, 'schema-worker.js'), format, impl, String(records)],
      { maxBuffer: 1 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`schema-worker ${format} ${impl}: ${stderr || err.message}`));
        resolve(JSON.parse(stdout).rps);
      },
    );
  });
}

async function benchFormat(format, records, runs, log) {
  const rps = Object.fromEntries(IMPLS.map((impl) => [impl, []]));
  for (let i = 0; i < runs; i++) {
    for (const impl of IMPLS) rps[impl].push(await decodeOnce(format, impl, records));
  }
  const r = {
    records,
    record_bytes: FRAMED_BYTES,
    ...Object.fromEntries(IMPLS.map((impl) => [`${impl}_rps`, Math.round(median(rps[impl]))])),
  };
  log(
    `schemas ${format}: ${IMPLS.map((impl) => `${impl} ${r[`${impl}_rps`]}`).join(', ')} records/s (median of ${runs} processes)`,
  );
  return r;
}

/** The peers bundled as the dispatcher is (esbuild, minified, CommonJS, @aws-sdk/* external), and the dispatcher's codecs module beside its lazy files. */
async function bundles() {
  const { ESBUILD_TARGET } = require(path.join(ROOT, 'build', 'lib', 'private', 'handler-runtime.js'));
  const esbuild = require('esbuild');
  const options = { bundle: true, platform: 'node', format: 'cjs', target: ESBUILD_TARGET, minify: true, logLevel: 'error' };
  const lazy = lazyModules();
  const entries = {
    // What a Lambda function needs to decode Avro and Protobuf with kafkaConsumer: avro-js and protobufjs bundled in.
    powertools: "module.exports = require('@aws-lambda-powertools/kafka');",
    confluent:
      "const { AvroDeserializer, ProtobufDeserializer, JsonDeserializer } = require('@confluentinc/schemaregistry'); module.exports = { AvroDeserializer, ProtobufDeserializer, JsonDeserializer };",
  };
  const files = {};
  for (const [name, contents] of Object.entries(entries)) {
    files[name] = path.join(OUT, name, 'index.js');
    await esbuild.build({ ...options, stdin: { contents, resolveDir: ROOT }, outfile: files[name], external: ['@aws-sdk/*'] });
  }
  // runtime/schemas/codecs.ts as the dispatcher bundle has it, its libraries required from the shipped lazy files.
  files.codecs = path.join(OUT, 'codecs', 'index.js');
  await esbuild.build({
    ...options,
    entryPoints: [path.join(ROOT, 'runtime', 'schemas', 'codecs.ts')],
    outfile: files.codecs,
    external: Object.keys(lazy),
  });
  fs.rmSync(path.join(OUT, 'codecs', 'node_modules'), { force: true });
  fs.symlinkSync(path.join(DISPATCHER, 'node_modules'), path.join(OUT, 'codecs', 'node_modules'));
  return files;
}

/** The lazily loaded libraries beside the dispatcher bundle (node_modules/<name>/index.js) and their sizes. */
function lazyModules() {
  const dir = path.join(DISPATCHER, 'node_modules');
  const found = {};
  const walk = (rel) => {
    for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(name);
      else if (e.name === 'index.js') found[rel] = fs.statSync(path.join(dir, name)).size;
    }
  };
  walk('');
  return Object.fromEntries(Object.entries(found).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** A first use of each codec: the schema as the registry serves it and one record's data after the 5-byte header. */
const FIRST_USES = {
  avro: () => ({ text: { format: 'AVRO', schema: AVRO_SCHEMA }, data: avroValue(0).subarray(5) }),
  protobuf: () => ({ text: { format: 'PROTOBUF', schema: PROTO }, data: protobufValue(0).subarray(5) }),
  protobuf_descriptor: () => ({
    text: { format: 'PROTOBUF', schema: protoDescriptor().file },
    data: protobufValue(0).subarray(5),
  }),
  json: () => ({ text: { format: 'JSON', schema: JSON_SCHEMA }, data: Buffer.from(JSON.stringify(avroOrder(0))) }),
};

/**
 * Milliseconds of a codec's first use in a fresh process that has loaded the dispatcher bundle: its lazy file
 * required, the schema compiled and one record decoded (protobufjs generates its decoder on the first one).
 */
function firstUseMs(codecsFile, use) {
  const { text, data } = use();
  const script = `require(${JSON.stringify(path.join(DISPATCHER, 'index.js'))});
const { compileCodec } = require(${JSON.stringify(codecsFile)});
const text = ${JSON.stringify(text)};
const data = Buffer.from(${JSON.stringify(data.toString('base64'))}, 'base64');
const s = process.hrtime.bigint();
compileCodec(text, 'confluent').decode(data);
process.stdout.write(String(Number(process.hrtime.bigint() - s) / 1e6));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`first use of ${text.format} failed: ${r.stderr}`);
  return Number(r.stdout);
}

async function benchLoad(runs, log) {
  const ours = path.join(DISPATCHER, 'index.js');
  if (!fs.existsSync(ours)) throw new Error(`${ours} is missing: run npm run build first`);
  const files = await bundles();
  const t = { ours: [], powertools: [], confluent: [], ...Object.fromEntries(Object.keys(FIRST_USES).map((k) => [k, []])) };
  for (let i = 0; i < runs; i++) {
    for (const impl of ['ours', 'powertools', 'confluent']) t[impl].push(requireMs(impl === 'ours' ? ours : files[impl]));
    for (const [k, use] of Object.entries(FIRST_USES)) t[k].push(firstUseMs(files.codecs, use));
  }
  const r = {
    bundle_bytes: fs.statSync(ours).size,
    lazy_bytes: lazyModules(),
    require_ms_over_node: round(median(t.ours)),
    first_use_ms: Object.fromEntries(Object.keys(FIRST_USES).map((k) => [k, round(median(t[k]))])),
    powertools_bundle_bytes: fs.statSync(files.powertools).size,
    powertools_require_ms_over_node: round(median(t.powertools)),
    confluent_bundle_bytes: fs.statSync(files.confluent).size,
    confluent_require_ms_over_node: round(median(t.confluent)),
  };
  log(
    `schemas load (median of ${runs} fresh processes): ours ${r.bundle_bytes} B, require ${r.require_ms_over_node} ms, first use ${JSON.stringify(r.first_use_ms)} ms; ` +
      `powertools ${r.powertools_bundle_bytes} B, ${r.powertools_require_ms_over_node} ms; confluent ${r.confluent_bundle_bytes} B, ${r.confluent_require_ms_over_node} ms`,
  );
  return r;
}

async function benchSchemas({ records, runs, loadRuns }, log) {
  const avro = await benchFormat('avro', records, runs, log);
  const protobuf = await benchFormat('protobuf', records, runs, log);
  const load = await benchLoad(loadRuns, log);
  const s = { avro, protobuf, load };
  return { ...s, goals: schemaGoals(s) };
}

const round = (x) => Math.round(x * 10) / 10;

module.exports = { benchSchemas };

/**
 * Real schema registries and their serializers for the integration tests: a Confluent-compatible registry (Apicurio
 * Registry's ccompat API, testenv/registry/start.sh) with @confluentinc/schemaregistry, and the AWS Glue Schema
 * Registry's SerDes (Python aws-glue-schema-registry in a cached venv; the Java schema-registry-serde for Protobuf)
 * against moto's Glue API; an mTLS front for the registry.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { create, createFileRegistry, DescFile, fromBinary, setExtension, toBinary } from '@bufbuild/protobuf';
import * as wkt from '@bufbuild/protobuf/wkt';
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { SchemaRegistryClient, SubjectNameStrategyType } from '@confluentinc/schemaregistry';
import * as protobuf from 'protobufjs';
import * as te from '../../testenv';
import { closedPort } from '../runtime/support';

const descriptor = require('protobufjs/ext/descriptor');

const { pythonVenv } = require('../../scripts/lib/python-venv');

const START_REGISTRY = path.join(__dirname, '..', '..', 'testenv', 'registry', 'start.sh');
const GLUE_PRODUCER = path.join(__dirname, '..', 'fixtures', 'schemas', 'glue_produce.py');
const GLUE_PROTOBUF_PRODUCER = path.join(__dirname, '..', 'fixtures', 'schemas', 'GlueProtobufProduce.java');

/** A Confluent-compatible registry that runs until `process.kill(pid)`. */
export interface ConfluentCompatibleRegistry {
  url: string;
  pid: number;
}

/**
 * Starts the registry on a free loopback port; with `basicAuth` ("user:password") every API call needs it. Its pid
 * file is among the test run's, so that the test environment's teardown (or its watchdog) stops it too.
 */
export async function startConfluentRegistry(
  basicAuth?: string,
  env: te.TestEnv = te.loadEnv(),
): Promise<ConfluentCompatibleRegistry> {
  const port = await closedPort();
  const { stdout } = await promisify(execFile)('bash', [START_REGISTRY, String(port)], {
    env: {
      ...process.env,
      ...(basicAuth ? { REGISTRY_BASIC_AUTH: basicAuth } : {}),
      REGISTRY_PIDFILE: path.join(env.runDir, 'pids', `registry-${port}.pid`),
      REGISTRY_LOG: path.join(env.runDir, 'logs', `registry-${port}.log`),
    },
    maxBuffer: 1 << 20,
  });
  const vars = Object.fromEntries(
    stdout
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
  return { url: vars.REGISTRY_CCOMPAT_URL, pid: Number(vars.REGISTRY_PID) };
}

/** An mTLS front of a registry: its URL, and the TLS handshakes it refused (counted outside the code under test). */
export interface MtlsFront {
  url: string;
  refusedHandshakes: number;
  close(): Promise<void>;
}

/**
 * An HTTPS front of `registry` on a free loopback port, as a gateway that authenticates clients by certificate: its
 * certificate is the test PKI's server certificate (127.0.0.1, under the root CA), it requires a client certificate
 * that chains to the root CA, and it forwards each request with `upstreamAuth` ("user:password") as basic auth.
 * (Apicurio's own HTTPS cannot require client certificates: Quarkus fixes client-auth at build time.)
 */
export async function startMtlsFront(
  registry: ConfluentCompatibleRegistry,
  upstreamAuth: string,
  certs: te.CertInfo = te.loadEnv().certs,
): Promise<MtlsFront> {
  const upstream = new URL(registry.url);
  const authorization = `Basic ${Buffer.from(upstreamAuth).toString('base64')}`;
  const server = https.createServer(
    { key: certs.pem.brokerKey, cert: certs.pem.brokerCert, ca: certs.pem.caCert, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const forward = http.request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: { ...req.headers, host: upstream.host, authorization },
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const front: MtlsFront = {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}${upstream.pathname}`,
    refusedHandshakes: 0,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('tlsClientError', () => {
    front.refusedHandshakes++;
  });
  return front;
}

/**
 * The tests' producer client of `registry` ("user:password" auth). Each request has a deadline, so one the registry
 * leaves unanswered is retried by the client's own retries instead of holding the test until its timeout: under CPU
 * load, now and then a request of this client is never answered (not one of the runtime's: those have a deadline).
 */
export function confluentClient(registry: ConfluentCompatibleRegistry, userInfo: string): SchemaRegistryClient {
  return new SchemaRegistryClient({
    baseURLs: [registry.url],
    basicAuthCredentials: { credentialsSource: 'USER_INFO', userInfo },
    createAxiosDefaults: { timeout: 5_000 },
    maxRetries: 5,
    retriesWaitMs: 100,
    retriesMaxWaitMs: 1_000,
  });
}

/**
 * A serializer's config with subjects named by topic (`<topic>-key`, `<topic>-value`). The client's default strategy
 * first asks the registry's associations API, which Apicurio does not have (every call a 404).
 */
export const serde = <T extends object>(config: T) => ({ subjectNameStrategyType: SubjectNameStrategyType.TOPIC, ...config });

/**
 * The .proto files Confluent's Protobuf serializer treats as built in (it registers no reference for them), as
 * @bufbuild descriptors by file name: google/protobuf from @bufbuild/protobuf/wkt, google/type and confluent from
 * @confluentinc/schemaregistry (what its deserializer resolves them from).
 */
export function builtinProtoFiles(): Map<string, DescFile> {
  const files = new Map<string, DescFile>();
  const add = (module: Record<string, unknown>) => {
    for (const v of Object.values(module))
      if ((v as DescFile | undefined)?.kind === 'file') files.set((v as DescFile).proto.name, v as DescFile);
  };
  // The well-known types, not the compiler's plugin.proto or the language features files @bufbuild/protobuf/wkt has too.
  add(
    Object.fromEntries(
      Object.entries(wkt).filter(([k]) =>
        /^file_google_protobuf_(any|api|descriptor|duration|empty|field_mask|source_context|struct|timestamp|type|wrappers)$/.test(
          k,
        ),
      ),
    ),
  );
  const dist = path.join(path.dirname(require.resolve('@confluentinc/schemaregistry/package.json')), 'dist');
  for (const dir of ['google/type', 'confluent', 'confluent/types']) {
    for (const f of fs.readdirSync(path.join(dist, dir)).filter((n) => n.endsWith('_pb.js')))
      add(require(path.join(dist, dir, f)));
  }
  return files;
}

/** A .proto file, written as a serializer's user would, with what each serializer takes and a root to encode messages. */
export interface ProtoFileBuild {
  /** protobufjs, field names in lowerCamelCase (its default): encodes the file's messages from values with those names. */
  root: protobuf.Root;
  /** @bufbuild descriptors of the file and the built-in files it imports (Confluent's serializer). */
  registry: ReturnType<typeof createFileRegistry>;
  /** A serialized FileDescriptorSet: the built-in files it imports, dependencies first, then the file (the Glue SerDe producer). */
  descriptorSet: Uint8Array;
}

/**
 * A .proto file (named `fileName`), which may import the built-in files (builtinProtoFiles) and set confluent/meta.proto
 * options (`doc` and `tags`, on the file, messages and fields), as descriptors: its own through protobufjs' descriptor
 * extension, the built-in ones as the packages ship them.
 */
export function protoFile(proto: string, fileName: string): ProtoFileBuild {
  const builtins = builtinProtoFiles();
  const parsed = protobuf.parse(proto, { keepCase: true });
  const imports = parsed.imports ?? [];
  const needed: DescFile[] = [];
  const need = (name: string) => {
    const file = builtins.get(name);
    if (file === undefined) throw new Error(`${fileName} imports ${name}, not a built-in file`);
    if (needed.includes(file)) return;
    for (const dep of file.dependencies) need(`${dep.name}.proto`);
    needed.push(file);
  };
  imports.forEach(need);
  const builtinSet = create(FileDescriptorSetSchema, { file: needed.map((f) => f.proto) });
  const root: protobuf.Root =
    needed.length === 0
      ? new protobuf.Root()
      : (protobuf.Root as any).fromDescriptor(
          descriptor.FileDescriptorSet.decode(toBinary(FileDescriptorSetSchema, builtinSet)),
          { keepCase: true },
        );
  protobuf.parse(proto, root, { keepCase: true });
  root.resolveAll();
  // protobufjs writes one file per package: the one of this file's package holds its own definitions only.
  const pkg = parsed.package ?? '';
  const own = (root as any).toDescriptor('proto3').file.find((f: any) => (f.package ?? '') === pkg);
  own.name = fileName;
  own.dependency = imports;
  // protobufjs writes message field types as written; descriptors name them in full. It names a map's entry type as
  // the field, protoc (and so every descriptor a registry sees) as the field in CamelCase with "Entry".
  const qualify = (messages: any[], scope: protobuf.Namespace) =>
    messages.forEach((m) => {
      const type = scope.get(m.name) as protobuf.Type | null;
      for (const f of m.field) {
        if (!f.typeName) continue;
        const field = type?.fields[f.name];
        if (field?.map) {
          const entry = m.nestedType.find((n: any) => n.name === f.typeName);
          entry.name = `${protobuf.util.ucFirst(protobuf.util.camelCase(f.name))}Entry`;
          f.typeName = `${type!.fullName}.${entry.name}`;
          for (const e of entry.field) if (e.typeName) e.typeName = type!.lookupTypeOrEnum(e.typeName).fullName;
        } else if (field) {
          f.typeName = field.resolvedType!.fullName;
        }
      }
      if (type)
        qualify(
          m.nestedType.filter((n: any) => !n.options?.mapEntry),
          type,
        );
    });
  qualify(own.messageType, pkg ? (root.lookup(pkg) as protobuf.Namespace) : root);
  const file = fromBinary(FileDescriptorProtoSchema, descriptor.FileDescriptorProto.encode(own).finish());
  setMetaOptions(file, parsed.root, pkg);
  const registry = createFileRegistry(file, (name) => builtins.get(name));
  const encoding: protobuf.Root =
    needed.length === 0
      ? new protobuf.Root()
      : (protobuf.Root as any).fromDescriptor(descriptor.FileDescriptorSet.decode(toBinary(FileDescriptorSetSchema, builtinSet)));
  protobuf.parse(proto, encoding);
  return {
    root: encoding,
    registry,
    descriptorSet: toBinary(FileDescriptorSetSchema, create(FileDescriptorSetSchema, { file: [...builtinSet.file, file] })),
  };
}

/** confluent/meta.proto's options as the file's text sets them (protobufjs parses them, its descriptors leave them out). */
function setMetaOptions(file: wkt.FileDescriptorProto, parsed: protobuf.Root, pkg: string): void {
  if (!file.dependency.includes('confluent/meta.proto')) return;

  const meta = require(
    path.join(path.dirname(require.resolve('@confluentinc/schemaregistry/package.json')), 'dist', 'confluent', 'meta_pb.js'),
  );
  const metaOf = (options: Record<string, unknown> | undefined, option: string) => {
    const entries = Object.entries(options ?? {}).filter(([k]) => k.startsWith(`(confluent.${option}).`));
    if (entries.length === 0) return undefined;
    const value: Record<string, unknown> = {};
    for (const [k, v] of entries) {
      const field = k.slice(`(confluent.${option}).`.length);
      value[field] = field === 'tags' ? [v] : v;
    }
    return create(meta.MetaSchema, value);
  };
  const set = (target: { options?: any }, schema: any, extension: any, value: unknown) => {
    if (value === undefined) return;
    target.options ??= create(schema);
    setExtension(target.options, extension, value as any);
  };
  const ns = pkg ? (parsed.lookup(pkg) as protobuf.Namespace) : parsed;
  set(file, wkt.FileOptionsSchema, meta.file_meta, metaOf(ns.options, 'file_meta'));
  const messages = (protos: wkt.DescriptorProto[], scope: protobuf.Namespace) =>
    protos.forEach((m) => {
      const type = scope.get(m.name) as protobuf.Type | null;
      if (type === null) return; // a map's entry
      set(m, wkt.MessageOptionsSchema, meta.message_meta, metaOf(type.options, 'message_meta'));
      for (const f of m.field) set(f, wkt.FieldOptionsSchema, meta.field_meta, metaOf(type.fields[f.name].options, 'field_meta'));
      messages(m.nestedType, type);
    });
  messages(file.messageType, ns);
}

/** A .proto file (named `fileName`) as @bufbuild descriptors, what Confluent's Protobuf serializer takes. */
export function protoFileRegistry(proto: string, fileName: string) {
  return protoFile(proto, fileName).registry;
}

/** A Protobuf record for the Glue SerDe: its message type's full name and its value (protobufjs' JSON form). */
export interface GlueProtobufRecord {
  type: string;
  value: object;
}

/**
 * A job for the Glue SerDes: Avro and JSON Schema through the Python SerDe (test/fixtures/schemas/glue_produce.py),
 * Protobuf through the Java one (test/fixtures/schemas/GlueProtobufProduce.java), which has the Protobuf serializer
 * the Python one lacks. Each schema is registered as `<topic>-<format>-<index>`.
 */
export interface GlueProduceJob {
  registry: string;
  topic: string;
  schemas: (
    | { format: 'AVRO' | 'JSON'; definition: string; compress?: boolean; base64Fields?: string[]; records: unknown[] }
    | { format: 'PROTOBUF'; definition: string; compress?: boolean; records: GlueProtobufRecord[] }
  )[];
}

/** Each schema's records' bytes (base64) as the Glue SerDe wrote them, and each schema's version id. */
export interface GlueProduced {
  encoded: string[][];
  versionIds: string[];
}

/** Serializes with the Glue SerDes against moto's Glue API (the registry is created when it does not exist). */
export function glueProduce(env: te.TestEnv, job: GlueProduceJob): GlueProduced {
  const awsEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: env.moto.endpoint,
    AWS_DEFAULT_REGION: env.region,
    AWS_ACCESS_KEY_ID: env.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: env.credentials.secretAccessKey,
  };
  // The Python SerDe creates the registry and writes the Avro and JSON Schema records; it skips the Protobuf ones.
  const python = pythonVenv('glue-serde', ['aws-glue-schema-registry==1.1.3']);
  const out: GlueProduced = JSON.parse(
    execFileSync(python, [GLUE_PRODUCER], { input: JSON.stringify(job), env: awsEnv }).toString(),
  );
  for (const [i, s] of job.schemas.entries()) {
    if (s.format !== 'PROTOBUF') continue;
    const { root, descriptorSet } = protoFile(s.definition, `${job.topic}-${i}.proto`);
    const messages = s.records.map(({ type, value }) => {
      const t = root.lookupType(type);
      return { type, bytes: Buffer.from(t.encode(t.fromObject(value)).finish()).toString('base64') };
    });
    const input = JSON.stringify({
      registry: job.registry,
      topic: job.topic,
      schemaName: `${job.topic}-protobuf-${i}`,
      compress: s.compress ?? false,
      descriptorSet: Buffer.from(descriptorSet).toString('base64'),
      messages,
    });
    const java = JSON.parse(
      execFileSync('java', ['-Xmx256m', '-cp', `${env.moto.glueSerdeLibDir}/*`, GLUE_PROTOBUF_PRODUCER], {
        input,
        env: awsEnv,
        timeout: 120_000,
      }).toString(),
    );
    out.encoded[i] = java.encoded;
    // The schema version id, as the SerDe wrote it into the header (bytes 2 to 17).
    const id = Buffer.from(java.encoded[0], 'base64').subarray(2, 18).toString('hex');
    out.versionIds[i] = `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
  }
  return out;
}

/**
 * Real schema registries and their serializers for the integration tests: a Confluent-compatible registry (Apicurio
 * Registry's ccompat API, testenv/registry/start.sh) with @confluentinc/schemaregistry, and the AWS Glue Schema
 * Registry's Python SerDe (aws-glue-schema-registry, in a cached venv) against moto's Glue API.
 */
import { execFile, execFileSync } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { createFileRegistry, fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { SchemaRegistryClient, SubjectNameStrategyType } from '@confluentinc/schemaregistry';
import * as protobuf from 'protobufjs';
import * as te from '../../testenv';
import { closedPort } from '../runtime/support';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const descriptor = require('protobufjs/ext/descriptor');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { pythonVenv } = require('../../scripts/lib/python-venv');

const START_REGISTRY = path.join(__dirname, '..', '..', 'testenv', 'registry', 'start.sh');
const GLUE_PRODUCER = path.join(__dirname, '..', 'fixtures', 'schemas', 'glue_produce.py');

/** A Confluent-compatible registry that runs until `process.kill(pid)`. */
export interface ConfluentCompatibleRegistry { url: string; pid: number }

/**
 * Starts the registry on a free loopback port; with `basicAuth` ("user:password") every API call needs it. Its pid
 * file is among the test run's, so that the test environment's teardown (or its watchdog) stops it too.
 */
export async function startConfluentRegistry(basicAuth?: string, env: te.TestEnv = te.loadEnv()): Promise<ConfluentCompatibleRegistry> {
  const port = await closedPort();
  const { stdout } = await promisify(execFile)('bash', [START_REGISTRY, String(port)], {
    env: {
      ...process.env, ...(basicAuth ? { REGISTRY_BASIC_AUTH: basicAuth } : {}),
      REGISTRY_PIDFILE: path.join(env.runDir, 'pids', `registry-${port}.pid`), REGISTRY_LOG: path.join(env.runDir, 'logs', `registry-${port}.log`),
    },
    maxBuffer: 1 << 20,
  });
  const vars = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
  return { url: vars.REGISTRY_CCOMPAT_URL, pid: Number(vars.REGISTRY_PID) };
}

/** An mTLS front of a registry: its URL, and the TLS handshakes it refused (counted outside the code under test). */
export interface MtlsFront { url: string; refusedHandshakes: number; close(): Promise<void> }

/**
 * An HTTPS front of `registry` on a free loopback port, as a gateway that authenticates clients by certificate: its
 * certificate is the test PKI's server certificate (127.0.0.1, under the root CA), it requires a client certificate
 * that chains to the root CA, and it forwards each request with `upstreamAuth` ("user:password") as basic auth.
 * (Apicurio's own HTTPS cannot require client certificates: Quarkus fixes client-auth at build time.)
 */
export async function startMtlsFront(registry: ConfluentCompatibleRegistry, upstreamAuth: string, certs: te.CertInfo = te.loadEnv().certs): Promise<MtlsFront> {
  const upstream = new URL(registry.url);
  const authorization = `Basic ${Buffer.from(upstreamAuth).toString('base64')}`;
  const server = https.createServer({ key: certs.pem.brokerKey, cert: certs.pem.brokerCert, ca: certs.pem.caCert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const forward = http.request({ host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: { ...req.headers, host: upstream.host, authorization } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const front: MtlsFront = {
    url: `https://127.0.0.1:${(server.address() as { port: number }).port}${upstream.pathname}`,
    refusedHandshakes: 0,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
  server.on('tlsClientError', () => { front.refusedHandshakes++; });
  return front;
}

/**
 * The tests' producer client of `registry` ("user:password" auth). Each request has a deadline, so one the registry
 * leaves unanswered is retried by the client's own retries instead of holding the test until its timeout: under CPU
 * load, Apicurio now and then never answers a request on a reused connection.
 */
export function confluentClient(registry: ConfluentCompatibleRegistry, userInfo: string): SchemaRegistryClient {
  return new SchemaRegistryClient({
    baseURLs: [registry.url], basicAuthCredentials: { credentialsSource: 'USER_INFO', userInfo },
    createAxiosDefaults: { timeout: 5_000 }, maxRetries: 5, retriesWaitMs: 100, retriesMaxWaitMs: 1_000,
  });
}

/**
 * A serializer's config with subjects named by topic (`<topic>-key`, `<topic>-value`). The client's default strategy
 * first asks the registry's associations API, which Apicurio does not have (every call a 404).
 */
export const serde = <T extends object>(config: T) => ({ subjectNameStrategyType: SubjectNameStrategyType.TOPIC, ...config });

/**
 * A .proto file (its first file named `fileName`) as @bufbuild descriptors, what Confluent's Protobuf serializer takes,
 * via protobufjs' descriptor extension.
 */
export function protoFileRegistry(proto: string, fileName: string) {
  const root = protobuf.parse(proto, { keepCase: true }).root;
  root.resolveAll();
  const set = (root as any).toDescriptor('proto3');
  set.file[0].name = fileName;
  const pkg = set.file[0].package ? `${set.file[0].package}.` : '';
  // protobufjs writes message field types as written; descriptors name them in full.
  const qualify = (messages: any[], scope: string) => messages.forEach((m) => {
    const type = root.lookupType(`${scope}${m.name}`);
    for (const f of m.field) if (f.typeName) f.typeName = type.fields[f.name].resolvedType!.fullName;
    qualify(m.nestedType, `${scope}${m.name}.`);
  });
  qualify(set.file[0].messageType, pkg);
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptor.FileDescriptorSet.encode(set).finish()));
}

/** A job for the Glue SerDe: see test/fixtures/schemas/glue_produce.py. */
export interface GlueProduceJob {
  registry: string;
  topic: string;
  schemas: { format: 'AVRO' | 'JSON' | 'PROTOBUF'; definition: string; compress?: boolean; base64Fields?: string[]; records: unknown[] }[];
}

/** Each schema's records' bytes (base64) as the Glue SerDe wrote them, and each schema's version id. */
export interface GlueProduced { encoded: string[][]; versionIds: string[] }

/** Serializes with the Glue SerDe against moto's Glue API (the registry is created when it does not exist). */
export function glueProduce(env: te.TestEnv, job: GlueProduceJob): GlueProduced {
  const python = pythonVenv('glue-serde', ['aws-glue-schema-registry==1.1.3']);
  const out = execFileSync(python, [GLUE_PRODUCER], {
    input: JSON.stringify(job),
    env: { ...process.env, AWS_ENDPOINT_URL: env.moto.endpoint, AWS_DEFAULT_REGION: env.region, AWS_ACCESS_KEY_ID: env.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: env.credentials.secretAccessKey },
  });
  return JSON.parse(out.toString());
}

/**
 * Protobuf message bytes as the Glue serializer writes them: the message's index among the file's message types
 * sorted by full name (`sortedNames`), then the message; base64.
 */
export function glueProtobufBytes(proto: string, sortedNames: string[], typeName: string, value: object): string {
  const type = protobuf.parse(proto).root.lookupType(typeName);
  const body = type.encode(type.fromObject(value)).finish();
  return Buffer.concat([Buffer.from([sortedNames.indexOf(typeName)]), body]).toString('base64');
}

/** Types for testenv/index.js (plain CommonJS), so TypeScript tests get checked calls. */

export type KafkaListener = 'plaintext' | 'saslSsl' | 'ssl';
export type ScramMechanism = 'SCRAM-SHA-256' | 'SCRAM-SHA-512';

export interface UserPassword {
  username: string;
  password: string;
}

export interface CertInfo {
  dir: string;
  files: Record<CertName, string>;
  pem: Record<CertName, string>;
  passwords: { pbes1: string; pbes2: string };
}
export type CertName =
  | 'caCert'
  | 'caKey'
  | 'intermediateCert'
  | 'brokerCert'
  | 'brokerKey'
  | 'brokerKeystore'
  | 'clientCert'
  | 'clientChain'
  | 'clientKey'
  | 'clientKeyPbes1'
  | 'clientKeyPbes2'
  | 'untrustedCaCert'
  | 'untrustedClientCert'
  | 'untrustedClientKey';

export interface ServiceSpec {
  cmd: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  ready: { kind: string; port?: number; path?: string };
  pid?: number | null;
  logFile?: string;
}

export interface TestEnv {
  id: string;
  runDir: string;
  /** Path of env.json (what CKL_TESTENV holds). */
  file: string;
  createdAt: string;
  /** Process whose death stops the run (jest main process), null for `cli.js start`. */
  ownerPid: number | null;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  certs: CertInfo;
  kafka: {
    version: string;
    libDir: string;
    dir: string;
    serverProperties: string;
    /** Extra broker properties given to start() (in server.properties, kept across restarts). */
    properties: Record<string, string>;
    ports: { plaintext: number; saslSsl: number; ssl: number; controller: number };
    bootstrap: Record<KafkaListener, string>;
    scram: Record<ScramMechanism, UserPassword>;
    plain: UserPassword;
  };
  dynamodb: { endpoint: string; port: number; version: string; dataDir: string };
  /** glueSerdeLibDir: the AWS Glue Schema Registry Java SerDe's class path (dir/*), for producers against moto's Glue. */
  moto: { endpoint: string; port: number; version: string; glueSerdeLibDir: string };
  lambda: {
    endpoint: string;
    port: number;
    lambdasDir: string;
    /** What each function runs under the RIE: `<node> <entry> <handler>` (Node 24 and npm aws-lambda-ric). */
    runtimeClient: { kind: 'aws-lambda-ric'; version: string; entry: string; dir: string; node: string; nodeVersion: string };
    /** The official RIE binary: from `go install` of the pinned version, or CKL_RIE_BIN. */
    rie: { kind: 'aws-lambda-rie'; bin: string; version: string; source: 'go-install' | 'CKL_RIE_BIN' };
  };
  services: Record<ServiceName, ServiceSpec>;
  versions: { kafka: string; dynamodbLocal: string; moto: string; rie: string };
}
export type ServiceName = 'kafka' | 'dynamodb' | 'moto' | 'lambdaFront';

export interface StartOptions {
  runDir?: string;
  kafkaVersion?: string;
  ownerPid?: number;
  services?: ServiceName[];
  /** Extra broker properties for server.properties, e.g. { 'connections.max.reauth.ms': '5000' }. */
  kafkaProperties?: Record<string, string>;
}

export interface LambdaOptions {
  name: string;
  /** Task root containing the handler module (e.g. index.js). */
  dir: string;
  /** "<module>.<export>", default "index.handler". */
  handler?: string;
  env?: Record<string, string>;
  timeoutSeconds?: number;
  memoryMb?: number;
  /** Concurrent executions: one RIE process each (an RIE runs one invocation at a time). Default 1. */
  concurrency?: number;
}
export interface RunningLambda {
  name: string;
  arn: string;
  port: number;
  logFile: string;
  stop(): Promise<void>;
}

export interface InvocationRecord {
  requestId: string;
  name: string;
  qualifier?: string;
  type: 'RequestResponse' | 'Event';
  /** The access key the call was signed with. */
  accessKeyId?: string;
  /** When the execution started (after waiting for a free instance) and ended. */
  at: number;
  payload: string;
  status?: number;
  functionError?: string;
  response?: string;
  doneAt?: number;
  /**
   * The front had forwarded this invocation to the function's RIE and the function was stopped
   * (stopLambda / fn.stop()) before the RIE answered: status 502, a ServiceException response.
   */
  killed?: boolean;
}
/** Counted by the Lambda front (outside the code under test), per function, since the front started. */
export interface LambdaStats {
  /** 429 TooManyRequestsException answers it gave from injected throttling (throttleLambda). */
  throttled: number;
  /** Invocations in flight (forwarded, not answered) when the function's processes were stopped. */
  killedInFlight: number;
}

/** Discriminated like kafkajs' SASLOptions, so the config is assignable to KafkaConfig. */
export type KafkaSasl =
  | { mechanism: 'scram-sha-256'; username: string; password: string }
  | { mechanism: 'scram-sha-512'; username: string; password: string }
  | { mechanism: 'plain'; username: string; password: string };

export const RUN_ROOT: string;
export function start(opts?: StartOptions): Promise<TestEnv>;
export function stop(runDirOrEnv?: string | TestEnv, opts?: { keep?: boolean; purge?: boolean }): Promise<void>;
export function stopAll(opts?: { purge?: boolean; orphans?: boolean }): Promise<number>;
/** Reads env.json; default path from process.env.CKL_TESTENV. */
export function loadEnv(runDirOrFile?: string): TestEnv;
export function stopService(name: ServiceName, env?: TestEnv): Promise<void>;
/** Kafka: also waits (polling, at most partitionsTimeoutMs, default 60 s) until every existing partition has a serving leader. */
export function startService(name: ServiceName, env?: TestEnv, opts?: { partitionsTimeoutMs?: number }): Promise<void>;
export function setScramPassword(
  args: { username: string; password: string; mechanism?: ScramMechanism },
  env?: TestEnv,
): Promise<void>;
export function startLambda(opts: LambdaOptions, env?: TestEnv): Promise<RunningLambda>;
export function stopLambda(name: string, env?: TestEnv): Promise<void>;
export function throttleLambda(name: string, count: number, env?: TestEnv): Promise<void>;
export function listInvocations(name?: string, env?: TestEnv): Promise<InvocationRecord[]>;
export function lambdaStats(name: string, env?: TestEnv): Promise<LambdaStats>;
export function createTopic(
  topic: string,
  numPartitions?: number,
  env?: TestEnv,
  configEntries?: { name: string; value: string }[],
): Promise<void>;
/** { endpoint, region, credentials } for an AWS SDK v3 client ('dynamodb', 'lambda', else moto). */
export function awsClientConfig(
  service: string,
  env?: TestEnv,
  extra?: Record<string, unknown>,
): {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  [k: string]: unknown;
};
/** kafkajs KafkaConfig for a listener (saslSsl: mechanism 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'PLAIN'). */
export function kafkaClientConfig(
  listener?: KafkaListener,
  opts?: { mechanism?: ScramMechanism | 'PLAIN' },
  env?: TestEnv,
): {
  clientId: string;
  brokers: string[];
  connectionTimeout: number;
  retry: { retries: number };
  /** Set for saslSsl when the broker's connections.max.reauth.ms is 20 s or less (half of it). */
  reauthenticationThreshold?: number;
  ssl?: { ca: string[]; cert?: string; key?: string };
  sasl?: KafkaSasl;
};

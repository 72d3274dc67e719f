/** Types for testenv/connect.js: a real Kafka Connect worker (standalone) on the test broker. */
import type { TestEnv } from './index';

export interface CompiledConnector {
  /** javac's output, with META-INF/services naming each connector class. */
  classesDir: string;
  /** The worker's class path (dir/*): connect-runtime, connect-json and their closure. */
  libDir: string;
}
/** Compile the connector's Java sources against the Connect API (cached by their hash). */
export function compileConnector(sources: string[], opts?: { version?: string }): Promise<CompiledConnector>;

export interface ConnectWorkerOptions {
  /** The connector's name: a sink connector commits to the group connect-<name>. */
  name: string;
  connectorClass: string;
  /** The connector's other properties (topics, its own settings). */
  config?: Record<string, string | number>;
  classesDir?: string;
  /** offset.flush.interval.ms: how often the sink's consumer offsets are committed. Default 500. */
  offsetFlushIntervalMs?: number;
  /** Extra worker properties. */
  worker?: Record<string, string | number>;
}
export interface ConnectWorker {
  name: string;
  /** connect-<name>. */
  groupId: string;
  restPort: number;
  logFile: string;
  /** The worker's own dir (its properties, its offset file). */
  dir: string;
  /** GET /connectors/<name>/status, null while the worker does not answer. */
  status(): Promise<{ connector: { state: string }; tasks: { id: number; state: string; trace?: string }[] } | null>;
  /** SIGTERM and wait for the exit; SIGKILL after graceMs (default 20 s). */
  stop(graceMs?: number): Promise<boolean>;
}
/** Start a standalone worker with one connector; resolves when the connector and its tasks are RUNNING. */
export function startConnectWorker(opts: ConnectWorkerOptions, env?: TestEnv): Promise<ConnectWorker>;

/**
 * Structured JSON logs, one object per line on stdout (CloudWatch Logs keeps each line as one event,
 * and Logs Insights discovers the fields). A small module instead of @aws-lambda-powertools/logger
 * keeps the dispatcher bundle and its cold start small; the field names follow Powertools
 * (level, message, timestamp, service, function_request_id).
 */
export type LogLevel = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';

const LEVELS: Record<LogLevel, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** Fields added to every following line (e.g. the request id). */
  append(fields: Record<string, unknown>): void;
}

export interface JsonLoggerOptions {
  readonly service?: string;
  /** @default the POWERTOOLS_LOG_LEVEL, AWS_LAMBDA_LOG_LEVEL or LOG_LEVEL environment variable, else INFO */
  readonly level?: LogLevel;
  /** Where lines go. @default process.stdout */
  readonly write?: (line: string) => void;
}

function levelFromEnv(): LogLevel {
  const v = (
    process.env.POWERTOOLS_LOG_LEVEL ??
    process.env.AWS_LAMBDA_LOG_LEVEL ??
    process.env.LOG_LEVEL ??
    'INFO'
  ).toUpperCase();
  return v === 'WARNING' ? 'WARN' : v in LEVELS ? (v as LogLevel) : 'INFO';
}

/**
 * Fields of an error that a log line keeps: its coordinates and what kind of failure it was. Anything else an
 * error carries (an invocation's payload or log tail, a record) may hold record bytes and is left out.
 */
const LOGGED_ERROR_FIELDS = [
  'topic',
  'partition',
  'offset',
  'startOffset',
  'endOffset',
  'stream',
  'shardId',
  'sequenceNumber',
  'outcome',
  'code',
  'failures',
  'cause',
];

/** Errors become {name, message, stack, coordinates} and bigints strings, so every value serializes. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: value.message };
    for (const f of LOGGED_ERROR_FIELDS)
      if ((value as unknown as Record<string, unknown>)[f] !== undefined)
        out[f] = (value as unknown as Record<string, unknown>)[f];
    out.stack = value.stack;
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}

export class JsonLogger implements Logger {
  private readonly threshold: number;
  private readonly write: (line: string) => void;
  private context: Record<string, unknown>;

  constructor(options: JsonLoggerOptions = {}) {
    this.threshold = LEVELS[options.level ?? levelFromEnv()];
    this.write = options.write ?? ((line) => process.stdout.write(line));
    this.context = { service: options.service ?? process.env.POWERTOOLS_SERVICE_NAME ?? 'cdk-kafka-lambda' };
  }

  append(fields: Record<string, unknown>): void {
    this.context = { ...this.context, ...fields };
  }

  debug(message: string, fields?: Record<string, unknown>): void {
    this.log('DEBUG', message, fields);
  }
  info(message: string, fields?: Record<string, unknown>): void {
    this.log('INFO', message, fields);
  }
  warn(message: string, fields?: Record<string, unknown>): void {
    this.log('WARN', message, fields);
  }
  error(message: string, fields?: Record<string, unknown>): void {
    this.log('ERROR', message, fields);
  }

  private log(level: LogLevel, message: string, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < this.threshold) return;
    this.write(
      JSON.stringify({ level, message, timestamp: new Date().toISOString(), ...this.context, ...fields }, replacer) + '\n',
    );
  }
}

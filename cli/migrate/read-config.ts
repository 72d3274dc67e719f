/**
 * A Kafka Connect connector's configuration as `migrate plan` reads it: the JSON of the REST API's
 * `GET /connectors/<name>` ({name, config, tasks, type}), its `config` object alone, or a `.properties` file.
 */
import * as fs from 'node:fs';

/** A connector configuration file that cannot be read as one; the message names the file and what is wrong. */
export class ConnectorConfigError extends Error {
  public override readonly name = 'ConnectorConfigError';
}

export interface ConnectorConfig {
  /** The connector's name: the REST response's `name`, else the config's `name`. */
  readonly name?: string;
  /** Every key of the connector's config, values as text (Connect's own form). */
  readonly config: Record<string, string>;
  /** How the file gave it. */
  readonly source: 'rest' | 'config' | 'properties';
}

/** Reads a connector config from a file: JSON (REST response or config object) or Java properties. */
export function readConnectorConfig(file: string): ConnectorConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConnectorConfigError(`cannot read ${file}: ${(e as Error).message}`);
  }
  return parseConnectorConfig(text, file);
}

/** The config in `text`: JSON when it starts with `{`, else Java properties. */
export function parseConnectorConfig(text: string, file = 'the config'): ConnectorConfig {
  if (!text.trimStart().startsWith('{')) {
    const config = parseProperties(text);
    return { name: config.name, config, source: 'properties' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConnectorConfigError(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const obj = json as Record<string, unknown>;
  const rest = typeof obj.config === 'object' && obj.config !== null && !Array.isArray(obj.config);
  const raw = (rest ? obj.config : obj) as Record<string, unknown>;
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value === 'object' && value !== null)
      throw new ConnectorConfigError(
        `${file}: "${key}" is ${Array.isArray(value) ? 'an array' : 'an object'}; a connector config's values are text (give the REST response of GET /connectors/<name> or its "config")`,
      );
    config[key] = value === null ? '' : String(value);
  }
  const name = rest && typeof obj.name === 'string' ? obj.name : config.name;
  return { name, config, source: rest ? 'rest' : 'config' };
}

/**
 * Java properties (java.util.Properties.load): `#`/`!` comments, `key=value`, `key: value` or `key value`,
 * lines continued with a trailing backslash, `\t \n \uXXXX` escapes.
 */
export function parseProperties(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].replace(/^\s+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (endsWithContinuation(line) && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i].replace(/^\s+/, '');
    const sep = /(?<!\\)(?:\s*[=:]\s*|\s+)/.exec(line);
    const key = sep ? line.slice(0, sep.index) : line;
    const value = sep ? line.slice(sep.index + sep[0].length) : '';
    out[unescape(key)] = unescape(value);
  }
  return out;
}

/** An odd number of trailing backslashes continues the line. */
function endsWithContinuation(line: string): boolean {
  const m = /\\+$/.exec(line);
  return m !== null && m[0].length % 2 === 1;
}

function unescape(s: string): string {
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) => {
    if (c.length === 5) return String.fromCharCode(parseInt(c.slice(1), 16));
    return ({ t: '\t', n: '\n', r: '\r', f: '\f' } as Record<string, string>)[c] ?? c;
  });
}

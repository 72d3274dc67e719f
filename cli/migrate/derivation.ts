/** The bookkeeping of a plan: one row per connector key, the props they give, the secrets to create. */
import { Expr, GeneratedProp } from './codegen';

export type KeyStatus = 'mapped' | 'not needed' | 'not supported';

/** What became of one connector key. */
export interface KeyRow {
  readonly key: string;
  /** The value as given, or a mark that it is a secret and not printed. */
  readonly value: string;
  readonly status: KeyStatus;
  /** The LambdaSinkConnector prop (or other place) it maps to. */
  readonly prop?: string;
  /** Why, and for an unsupported key the nearest choice. */
  readonly note: string;
}

/** A secret the user creates in Secrets Manager before deploying, instead of a value the plan never prints. */
export interface SecretToCreate {
  readonly name: string;
  /** The JSON shape of its value. */
  readonly shape: string;
  /** The connector keys its values come from. */
  readonly from: string[];
}

export type ConnectorKind = 'confluent' | 'nordstrom';

/** Keys whose values are credentials: never printed. */
const SECRET_KEY =
  /(password|passwd|jaas\.config|user\.info|secret\.access\.key|access\.key\.id|token|keystore\.key|private\.key|api\.key|secret)$/i;

export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** The user info of each URL in a value (`scheme://user:pass@host`), which holds a credential. */
const URL_USER_INFO = /(\b[a-z][a-z0-9+._-]*:\/\/)[^/@\s,]*@/gi;

/** The value with each URL's user info replaced by `***`, so a password in a URL is not printed. */
export function redactUserInfo(value: string): string {
  return value.replace(URL_USER_INFO, '$1***@');
}

/** Whether a value holds a URL with user info. */
export function hasUserInfo(value: string): boolean {
  return new RegExp(URL_USER_INFO.source, 'i').test(value);
}

/** The value with each URL's user info removed. */
export function stripUserInfo(value: string): string {
  return value.replace(URL_USER_INFO, '$1');
}

export class Derivation {
  private readonly rows = new Map<string, KeyRow>();
  private readonly props = new Map<string, GeneratedProp>();
  public readonly secrets: SecretToCreate[] = [];
  /** Lines the plan prints after the table: what to do besides deploying. */
  public readonly notes: string[] = [];

  constructor(
    public readonly config: Record<string, string>,
    public readonly kind: ConnectorKind,
    public readonly name: string,
  ) {}

  /** The value of a key, if given (empty values count as absent, as Connect reads most of them). */
  get(key: string): string | undefined {
    const v = this.config[key];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  }

  has(key: string): boolean {
    return key in this.config;
  }

  /** Keys given that start with `prefix`, not yet accounted for. */
  open(prefix: string | RegExp): string[] {
    return Object.keys(this.config)
      .filter((k) => !this.rows.has(k))
      .filter((k) => (typeof prefix === 'string' ? k.startsWith(prefix) : prefix.test(k)));
  }

  /** Accounts for `key` (when given): its row. The first row of a key wins. */
  row(key: string, status: KeyStatus, note: string, prop?: string): void {
    if (!this.has(key) || this.rows.has(key)) return;
    const value = isSecretKey(key) ? '(secret: not printed)' : redactUserInfo(this.config[key]);
    this.rows.set(key, { key, value, status, prop, note });
  }

  mapped(key: string, prop: string, note = ''): void {
    this.row(key, 'mapped', note, prop);
  }

  /** Sets a connector prop, from the keys named. */
  set(prop: string, value: Expr, ...from: string[]): void {
    this.props.set(prop, { prop, value, from: from.filter((k) => this.has(k)) });
  }

  prop(prop: string): GeneratedProp | undefined {
    return this.props.get(prop);
  }

  secret(secret: SecretToCreate): void {
    if (!this.secrets.some((s) => s.name === secret.name)) this.secrets.push(secret);
  }

  /** Every row, in the config's key order. */
  allRows(): KeyRow[] {
    return Object.keys(this.config).map((k) => this.rows.get(k)!);
  }

  /** The keys no handler accounted for. */
  unaccounted(): string[] {
    return Object.keys(this.config).filter((k) => !this.rows.has(k));
  }

  /** The props in the order of `order`, then the rest. */
  orderedProps(order: string[]): GeneratedProp[] {
    const rank = (p: string) => (order.includes(p) ? order.indexOf(p) : order.length);
    return [...this.props.values()].sort((a, b) => rank(a.prop) - rank(b.prop));
  }
}

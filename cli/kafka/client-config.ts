import * as fs from 'node:fs';
import type { KafkaConfig } from 'kafkajs';
import { LocalEsmConfigError } from '../errors';

/** The Kafka client's flags the commands share (`local`, `redrive`), as node:util's parseArgs takes them. */
export const KAFKA_CLIENT_FLAGS = {
  sasl: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  tls: { type: 'boolean' },
  'ca-file': { type: 'string' },
  'cert-file': { type: 'string' },
  'key-file': { type: 'string' },
} as const;

/** Their values. */
export interface KafkaClientFlags {
  readonly tls?: boolean;
  readonly 'ca-file'?: string;
  readonly 'cert-file'?: string;
  readonly 'key-file'?: string;
  readonly sasl?: string;
  readonly username?: string;
  readonly password?: string;
}

/** The brokers, TLS and SASL the flags give, as a kafkajs client's configuration. */
export function kafkaClientConfig(values: KafkaClientFlags, brokers: string[], clientId: string): KafkaConfig {
  const kafka: KafkaConfig = { clientId, brokers };
  if (values.tls || values['ca-file'] || values['cert-file']) {
    kafka.ssl = {
      ...(values['ca-file'] ? { ca: [fs.readFileSync(values['ca-file'], 'utf8')] } : {}),
      ...(values['cert-file']
        ? { cert: fs.readFileSync(values['cert-file'], 'utf8'), key: fs.readFileSync(values['key-file'] ?? '', 'utf8') }
        : {}),
    };
  }
  if (values.sasl) {
    const mechanism = values.sasl as 'scram-sha-256' | 'scram-sha-512' | 'plain';
    if (!['scram-sha-256', 'scram-sha-512', 'plain'].includes(mechanism))
      throw new LocalEsmConfigError(`--sasl must be scram-sha-256, scram-sha-512 or plain, got "${values.sasl}"`);
    kafka.sasl = { mechanism, username: values.username ?? '', password: values.password ?? '' } as KafkaConfig['sasl'];
  }
  return kafka;
}

import * as fs from 'node:fs';
import type { KafkaConfig } from 'kafkajs';
import { LocalEsmConfigError } from '../errors';

/** The Kafka flags the commands share (`local`, `redrive`). */
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

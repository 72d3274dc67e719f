/** cdk-kafka-lambda doctor as the command line runs it: checks to stdout, the exit status from their results. */
import { DoctorOptions, parseDoctorArgs } from './options';
import type { SASLOptions } from 'kafkajs';
import { authFromSecrets } from '../kafka/secrets';
import { formatResult, summary } from './output';
import { exitStatus } from './result';

export async function doctorCommand(args: string[]): Promise<void> {
  let options;
  try {
    options = await withSecrets(parseDoctorArgs(args));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  for (const notice of options.notices) process.stderr.write(`template: ${notice}\n`);
  const { runDoctor } = await import('./doctor');
  const results = await runDoctor(options, (r) => process.stdout.write(`${formatResult(r).join('\n')}\n`));
  process.stdout.write(`${summary(results)}\n`);
  process.exitCode = exitStatus(results);
}

/** The options with the Kafka auth the secrets give (SASL credentials, or the client certificate and root CA). */
export async function withSecrets(o: DoctorOptions): Promise<DoctorOptions> {
  const auth = await authFromSecrets(o.secrets);
  if (!auth.sasl && !auth.ssl) return o;
  const ssl = auth.ssl ? { ...(typeof o.kafka.ssl === 'object' ? o.kafka.ssl : {}), ...auth.ssl } : o.kafka.ssl;
  return { ...o, kafka: { ...o.kafka, ...(auth.sasl ? { sasl: auth.sasl as SASLOptions } : {}), ...(ssl ? { ssl } : {}) } };
}

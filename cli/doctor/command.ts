/** cdk-kafka-lambda doctor as the command line runs it: checks to stdout, the exit status from their results. */
import { parseDoctorArgs } from './options';
import { formatResult, summary } from './output';
import { exitStatus } from './result';

export async function doctorCommand(args: string[]): Promise<void> {
  let options;
  try {
    options = parseDoctorArgs(args);
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

#!/usr/bin/env node
'use strict';
/**
 * node testenv/control.js start [--kafka-version 4.3.1] [--owner-pid PID]
 *                                         prints the env.json path on stdout, leaves services running
 * node testenv/control.js stop [runDir|env.json]   (default: $CKL_TESTENV)
 * node testenv/control.js stop-all [--orphans]      every run under testenv/.run (use in a shell trap);
 *                                         --orphans: only runs whose owner (jest) process is gone
 * node testenv/control.js env [runDir|env.json]    prints env.json
 * node testenv/control.js install                  only fill the download cache (CI cache warm-up)
 * node testenv/control.js node [version]           installs Node.js from npm (default 24, the functions') and prints its path
 * Progress goes to stderr.
 */
const te = require('./index');
const install = require('./lib/install');

async function main() {
  const [cmd, ...rest] = process.argv.slice(2);
  const opt = (n) => {
    const i = rest.indexOf(n);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  switch (cmd) {
    case 'start': {
      const env = await te.start({
        kafkaVersion: opt('--kafka-version'),
        ownerPid: opt('--owner-pid') && Number(opt('--owner-pid')),
      });
      process.stdout.write(`${env.file}\n`);
      break;
    }
    case 'stop':
      await te.stop(
        rest.find((a) => !a.startsWith('--')),
        { purge: rest.includes('--purge') },
      );
      break;
    case 'stop-all':
      await te.stopAll({ purge: rest.includes('--purge'), orphans: rest.includes('--orphans') });
      break;
    case 'env':
      process.stdout.write(`${JSON.stringify(te.loadEnv(rest[0]), null, 2)}\n`);
      break;
    // The path of a Node.js binary from the npm registry (default: the version of the functions, 24), installed once.
    case 'node':
      process.stdout.write(`${(await install.ensureNode(rest[0])).bin}\n`);
      break;
    case 'install':
      await Promise.all([
        install.ensureKafka(opt('--kafka-version')),
        install.ensureDynamoDbLocal(),
        install.ensureMoto(),
        install.ensureGlueSerde(),
        install.ensureRie(),
        install.ensureRic(),
      ]);
      break;
    default:
      process.stderr.write(
        'usage: cli.js start [--kafka-version V] [--owner-pid PID] | stop [runDir] | stop-all [--orphans] | env [runDir] | install | node [version]\n',
      );
      process.exit(2);
  }
}
main().catch((e) => {
  process.stderr.write(`${e.stack || e}\n`);
  process.exit(1);
});

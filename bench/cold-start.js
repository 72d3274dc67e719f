'use strict';
/**
 * Cold start: bundle size and the time `require` of the bundle adds to a bare `node -e ""` (timed
 * inside the fresh process, around the require: spawn-to-exit differences drown in noise on a
 * shared machine), for the dispatcher bundle (assets/dispatcher/index.js, built by npm run build) and for the Powertools peer
 * (powertools-handler.js) bundled the same way: esbuild, minified, CommonJS, @aws-sdk/* external
 * (and Powertools' unused optional avro-js/protobufjs peers).
 * The two bundles alternate so both see the same machine load.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, median } = require('./common');

async function bundlePowertools() {
  const { ESBUILD_TARGET } = require(path.join(ROOT, 'build', 'lib', 'private', 'handler-runtime.js'));
  const outfile = path.join(__dirname, '.out', 'powertools', 'index.js');
  await require('esbuild').build({
    entryPoints: [path.join(__dirname, 'powertools-handler.js')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: ESBUILD_TARGET,
    minify: true,
    // avro-js and protobufjs are Powertools' optional peers, loaded only for those schema types.
    external: ['@aws-sdk/*', 'avro-js', 'protobufjs'],
    logLevel: 'warning',
  });
  return outfile;
}

/** Milliseconds `require(file)` takes in a fresh `node -e` process: what the bundle adds to a bare node start. */
function requireMs(file) {
  const script = `const s = process.hrtime.bigint(); require(${JSON.stringify(file)}); process.stdout.write(String(Number(process.hrtime.bigint() - s) / 1e6));`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0) throw new Error(`require(${file}) failed: ${r.stderr}`);
  return Number(r.stdout);
}

async function benchColdStart(runs, log) {
  const ours = path.join(ROOT, 'assets', 'dispatcher', 'index.js');
  if (!fs.existsSync(ours)) throw new Error(`${ours} is missing: run npm run build first`);
  const peer = await bundlePowertools();
  const t = { ours: [], peer: [] };
  for (let i = 0; i < runs; i++) {
    t.ours.push(requireMs(ours));
    t.peer.push(requireMs(peer));
  }
  const result = {
    bundle_bytes: fs.statSync(ours).size,
    require_ms_over_node: round(median(t.ours)),
    powertools_bundle_bytes: fs.statSync(peer).size,
    powertools_require_ms_over_node: round(median(t.peer)),
  };
  log(
    `cold start (median of ${runs} fresh processes): ours require ${result.require_ms_over_node} ms, ${result.bundle_bytes} B; powertools require ${result.powertools_require_ms_over_node} ms, ${result.powertools_bundle_bytes} B`,
  );
  return result;
}

const round = (x) => Math.round(x * 10) / 10;

module.exports = { benchColdStart, requireMs };

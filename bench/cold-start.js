'use strict';
/**
 * Cold start: bundle size and the time `require` of the bundle adds to a bare `node -e ""`, for the
 * dispatcher bundle (assets/dispatcher/index.js, built by npm run build) and for the Powertools peer
 * (powertools-handler.js) bundled the same way: esbuild, minified, CommonJS, @aws-sdk/* external
 * (and Powertools' unused optional avro-js/protobufjs peers).
 * The two commands and the bare node run alternate so all see the same machine load.
 */
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { ROOT, median } = require('./common');

async function bundlePowertools() {
  const { ESBUILD_TARGET } = require(path.join(ROOT, 'lib', 'private', 'handler-runtime.js'));
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

function timeNode(args) {
  const start = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function benchColdStart(runs, log) {
  const ours = path.join(ROOT, 'assets', 'dispatcher', 'index.js');
  if (!fs.existsSync(ours)) throw new Error(`${ours} is missing: run npm run build first`);
  const peer = await bundlePowertools();
  const req = (file) => ['-e', `require(${JSON.stringify(file)})`];
  const t = { bare: [], ours: [], peer: [] };
  for (let i = 0; i < runs; i++) {
    t.bare.push(timeNode(['-e', '']));
    t.ours.push(timeNode(req(ours)));
    t.peer.push(timeNode(req(peer)));
  }
  const bare = median(t.bare);
  const result = {
    bundle_bytes: fs.statSync(ours).size,
    require_ms_over_node: round(Math.max(0, median(t.ours) - bare)),
    powertools_bundle_bytes: fs.statSync(peer).size,
    powertools_require_ms_over_node: round(Math.max(0, median(t.peer) - bare)),
  };
  log(`cold start: bare node ${bare.toFixed(1)} ms (median of ${runs}); ours +${result.require_ms_over_node} ms, ${result.bundle_bytes} B; powertools +${result.powertools_require_ms_over_node} ms, ${result.powertools_bundle_bytes} B`);
  return result;
}

const round = (x) => Math.round(x * 10) / 10;

module.exports = { benchColdStart };

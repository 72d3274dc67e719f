import * as path from 'path';
import * as fs from 'fs';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The Node.js runtime of every function this library creates. The build bundles the handlers in
 * assets/ for ESBUILD_TARGET, read from this module, so the two cannot drift apart.
 */
export const HANDLER_RUNTIME = lambda.Runtime.NODEJS_24_X;

/** esbuild target matching HANDLER_RUNTIME. */
export const ESBUILD_TARGET = 'node24';

/**
 * Folder of the prebuilt handler bundles (assets/<handler>/index.js), shipped in the npm package at its root: found
 * from this module's folder upwards, so it is the same from the sources (lib/private) and the build (build/lib/private).
 */
export const ASSETS_DIR = path.join(packageRoot(__dirname), 'assets');

function packageRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cdk-kafka-lambda: no package.json above ${from}`);
  }
}

/**
 * Code of a prebuilt handler. Fails with a clear message when the package was not built, instead of
 * letting synth fail later on a missing asset path.
 */
export function handlerCode(handler: string): lambda.Code {
  const dir = path.join(ASSETS_DIR, handler);
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    throw new Error(`Handler bundle ${dir}/index.js is missing: run "npm run build" in cdk-kafka-lambda to create assets/.`);
  }
  return lambda.Code.fromAsset(dir);
}

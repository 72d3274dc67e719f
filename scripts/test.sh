#!/usr/bin/env bash
# npm test: installs what is missing, builds, then runs every test with jest. The integration
# project's global setup starts Kafka, DynamoDB Local, moto and the Lambda emulator (downloads cached
# in ${CKL_CACHE_DIR:-$HOME/.cache/cdk-kafka-lambda}) and stops them at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and test on Node.js 24 (the functions' runtime, from the npm registry, cached), whatever node runs this.
node24=$(node testenv/control.js node)
export PATH="$(dirname "$node24"):$PATH"
echo "npm test on Node.js $(node --version)"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund   # runs "prepare", which builds
else
  npm run build
fi

summary=$(mktemp)
finish() {
  # Safety net: whatever happened to jest, no server outlives the run.
  node testenv/control.js stop-all --orphans >/dev/null 2>&1 || true
  # The closing line of the run: N passed, N failed[, N skipped].
  if [ -s "$summary" ]; then echo; cat "$summary"; else echo; echo "0 passed, 1 failed"; fi
  rm -f "$summary"
}
trap finish EXIT
npm run lint
CKL_SUMMARY_FILE="$summary" npx jest --ci "$@"

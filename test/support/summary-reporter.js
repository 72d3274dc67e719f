'use strict';
const fs = require('fs');
/**
 * Ends the run with one line `N passed, N failed` (`, N skipped` when any). A test file that could not
 * run counts as a failure. Under scripts/test.sh the line goes to CKL_SUMMARY_FILE so the script can
 * print it after everything else; run alone, jest prints it on stderr after its own summary.
 */
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : '');
    if (process.env.CKL_SUMMARY_FILE) fs.writeFileSync(process.env.CKL_SUMMARY_FILE, `${line}\n`);
    else process.stderr.write(`\n${line}\n`);
  }
}
module.exports = SummaryReporter;

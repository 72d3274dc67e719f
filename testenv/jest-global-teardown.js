'use strict';
/** jest globalTeardown: stop what globalSetup started (runs even when tests failed). */
const te = require('./index');

module.exports = async function globalTeardown() {
  const owned = process.env.CKL_TESTENV_OWNED;
  if (!owned) return;
  delete process.env.CKL_TESTENV_OWNED;
  await te.stop(owned);
};

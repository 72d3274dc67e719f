'use strict';
/** Global setup of the floor project: the oldest supported aws-cdk-lib, installed once into the cache. */
const { ensureFloor } = require('../../scripts/lib/cdk-floor');

module.exports = async () => {
  ensureFloor();
};

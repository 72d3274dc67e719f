'use strict';
/**
 * Unit tests run without services; integration tests (test/smoke, *.integ.test.ts) get the real stand-ins.
 * The floor project runs the construct and example-app unit tests again on the oldest aws-cdk-lib the package
 * supports (the minimum of its peer range, installed apart by its global setup), plus a type-check against it.
 */
const { floorModulesDir } = require('./scripts/lib/cdk-floor');

const common = {
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testEnvironment: 'node',
};
const floor = floorModulesDir();

module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/smoke/', '\\.integ\\.test\\.ts$', '\\.floor\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integ',
      testMatch: ['<rootDir>/test/smoke/**/*.test.ts', '<rootDir>/test/**/*.integ.test.ts'],
      globalSetup: '<rootDir>/testenv/jest-global-setup.js',
      globalTeardown: '<rootDir>/testenv/jest-global-teardown.js',
    },
    {
      ...common,
      displayName: 'floor',
      // What depends on aws-cdk-lib: the constructs and the example app; not the runtime, nor the packages
      // (those build against each registry's own aws-cdk-lib).
      testMatch: ['<rootDir>/test/*.test.ts', '<rootDir>/test/trigger/*.test.ts', '<rootDir>/test/**/*.floor.test.ts'],
      testPathIgnorePatterns: [
        '/node_modules/',
        '\\.integ\\.test\\.ts$',
        '<rootDir>/test/(distribution|package|bench|examples)\\.test\\.ts$',
      ],
      moduleNameMapper: {
        '^aws-cdk-lib$': `${floor}/aws-cdk-lib`,
        '^aws-cdk-lib/(.*)$': `${floor}/aws-cdk-lib/$1`,
        '^constructs$': `${floor}/constructs`,
      },
      globalSetup: '<rootDir>/test/support/floor-setup.js',
    },
  ],
};

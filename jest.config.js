'use strict';
/** Unit tests run without services; integration tests (test/smoke, *.integ.test.ts) get the real stand-ins. */
const common = {
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testEnvironment: 'node',
};

module.exports = {
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  maxWorkers: 2,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/smoke/', '\\.integ\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integ',
      testMatch: ['<rootDir>/test/smoke/**/*.test.ts', '<rootDir>/test/**/*.integ.test.ts'],
      globalSetup: '<rootDir>/testenv/jest-global-setup.js',
      globalTeardown: '<rootDir>/testenv/jest-global-teardown.js',
    },
  ],
};

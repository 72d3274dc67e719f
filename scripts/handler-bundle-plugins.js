'use strict';
/**
 * esbuild plugins per handler bundle, read by scripts/build.js.
 *
 * dispatcher: the relay only produces, so kafkajs' admin client, consumer and the protocol requests
 * only they send are left out of the bundle (about a third of its size). kafkajs is pinned to 2.2.4,
 * whose layout these paths follow; a call into a left-out part throws instead of failing silently.
 */
const CONSUMER_AND_ADMIN_REQUESTS = [
  'fetch',
  'joinGroup',
  'syncGroup',
  'heartbeat',
  'leaveGroup',
  'offsetCommit',
  'offsetFetch',
  'listOffsets',
  'listGroups',
  'describeGroups',
  'deleteGroups',
  'createTopics',
  'deleteTopics',
  'createPartitions',
  'describeConfigs',
  'alterConfigs',
  'describeAcls',
  'createAcls',
  'deleteAcls',
  'deleteRecords',
  'alterPartitionReassignments',
  'listPartitionReassignments',
];
const NOT_BUNDLED =
  'throw new Error("cdk-kafka-lambda: this kafkajs feature is not in the dispatcher bundle (it only produces)")';

const kafkajsProducerOnly = {
  name: 'kafkajs-producer-only',
  setup(build) {
    build.onLoad({ filter: /[\\/]kafkajs[\\/]src[\\/](admin|consumer)[\\/]index\.js$/ }, () => ({
      contents: `module.exports = () => { ${NOT_BUNDLED} };`,
      loader: 'js',
    }));
    const requests = new RegExp(
      `[\\\\/]kafkajs[\\\\/]src[\\\\/]protocol[\\\\/]requests[\\\\/](${CONSUMER_AND_ADMIN_REQUESTS.join('|')})[\\\\/]index\\.js$`,
    );
    build.onLoad({ filter: requests }, () => ({
      contents: `module.exports = { versions: [], protocol: () => { ${NOT_BUNDLED} } };`,
      loader: 'js',
    }));
  },
};

module.exports = {
  dispatcher: [kafkajsProducerOnly],
};

'use strict';
/**
 * The peer for the cold-start comparison: the smallest handler a user assembles from Powertools to do
 * what the dispatcher does first (decode Kafka records as JSON, process each idempotently in DynamoDB).
 */
const { kafkaConsumer } = require('@aws-lambda-powertools/kafka');
const { IdempotencyConfig, makeIdempotent } = require('@aws-lambda-powertools/idempotency');
const { DynamoDBPersistenceLayer } = require('@aws-lambda-powertools/idempotency/dynamodb');

const persistenceStore = new DynamoDBPersistenceLayer({ tableName: process.env.IDEMPOTENCY_TABLE || 'idempotency' });
const config = new IdempotencyConfig({ eventKeyJmesPath: '[topic, partition, offset]' });
const processRecord = makeIdempotent(async (record) => ({ ok: true, offset: record.offset }), { persistenceStore, config });

exports.handler = kafkaConsumer(
  async (event, context) => {
    config.registerLambdaContext(context);
    for (const record of event.records)
      await processRecord({ topic: record.topic, partition: record.partition, offset: record.offset, value: record.value });
  },
  { value: { type: 'json' } },
);

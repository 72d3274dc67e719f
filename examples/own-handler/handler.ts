// A Lambda function the event source mapping triggers directly, running the whole pipeline in its own process.
// The README ("The runtime library in your own handler") shows the lines between the markers; its examples test
// checks they match, and test/runtime/own-handler.integ.test.ts runs this file against Kafka and DynamoDB.
/// !show
import { Dispatcher, DynamoDbRangeStore, inProcessInvoker, InvocationContext, KafkaRelay } from 'cdk-kafka-lambda/runtime';
import { handleOrder, Order } from './orders'; // your code: an order in, its result out

const relay = new KafkaRelay({
  bootstrapServers: process.env.BOOTSTRAP_SERVERS!.split(','),
  auth: 'scram-sha-512',
  secretArn: process.env.KAFKA_SECRET_ARN, // {"username", "password"}, as the mapping reads it
  rootCaSecretArn: process.env.KAFKA_ROOT_CA_SECRET_ARN, // {"certificate"}: only for brokers under a private CA
  responseTopic: process.env.RESPONSE_TOPIC,
});

const dispatcher = new Dispatcher({
  // Your code is the target: consecutive records of one partition that no earlier attempt finished, one result each.
  invoker: inProcessInvoker((records) => Promise.all(records.map((record) => handleOrder(record.valueAsJson<Order>()!)))),
  store: new DynamoDbRangeStore({ tableName: process.env.TABLE! }),
  relay,
});

export const handler = (event: unknown, context: InvocationContext) => dispatcher.handle(event, context);
/// !hide

/** Closes the relay's connection: for tests, a Lambda execution environment never needs it. */
export const close = () => relay.disconnect();

/** consumerGroupIds attacked: topics whose names are members of Object.prototype. */
import { Template } from 'aws-cdk-lib/assertions';
import { KafkaCluster, KafkaTrigger } from '../../lib';
import { testFunction, testStack } from './support';

describe('KafkaTrigger consumerGroupIds: adversarial topic names', () => {
  test.each(['constructor', 'toString', 'valueOf'])(
    'GIVEN topic "%s" left unpinned beside a pinned topic WHEN synthesized THEN its mapping gets a generated group, not a function',
    (topic) => {
      // GIVEN
      const stack = testStack();
      new KafkaTrigger(stack, 'Trigger', {
        cluster: KafkaCluster.selfManaged({ bootstrapServers: ['b-1.kafka.example.com:9096'] }),
        topics: ['orders', topic],
        target: testFunction(stack),
        consumerGroupIds: { orders: 'orders-group' },
      });
      // WHEN
      const mappings = Template.fromStack(stack).findResources('AWS::Lambda::EventSourceMapping');
      // THEN
      const groups = Object.fromEntries(
        Object.values(mappings).map((m: any) => [
          m.Properties.Topics[0],
          m.Properties.SelfManagedKafkaEventSourceConfig.ConsumerGroupId,
        ]),
      );
      expect(groups.orders).toBe('orders-group');
      expect(typeof groups[topic]).toBe('string');
      expect(groups[topic]).toMatch(new RegExp(`-${topic}$`));
    },
  );
});

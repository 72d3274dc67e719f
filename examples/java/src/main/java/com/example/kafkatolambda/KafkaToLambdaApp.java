package com.example.kafkatolambda;

import java.util.List;

import io.github.cdkkafkalambda.KafkaAuth;
import io.github.cdkkafkalambda.KafkaCluster;
import io.github.cdkkafkalambda.KafkaDispatcher;
import io.github.cdkkafkalambda.KafkaTrigger;
import io.github.cdkkafkalambda.LambdaSinkConnector;
import io.github.cdkkafkalambda.OnFailureDestination;
import io.github.cdkkafkalambda.SelfManagedKafkaClusterProps;
import software.amazon.awscdk.App;
import software.amazon.awscdk.CfnOutput;
import software.amazon.awscdk.Stack;
import software.amazon.awscdk.services.ec2.SubnetConfiguration;
import software.amazon.awscdk.services.ec2.SubnetType;
import software.amazon.awscdk.services.ec2.Vpc;
import software.amazon.awscdk.services.lambda.Code;
import software.amazon.awscdk.services.lambda.Function;
import software.amazon.awscdk.services.lambda.Runtime;
import software.constructs.Construct;

/**
 * A CDK app in Java on cdk-kafka-lambda: self-managed Kafka in a VPC, two ways.
 * KafkaToLambdaJava: a KafkaTrigger into a KafkaDispatcher that invokes your function, with the trigger's
 * secure defaults (SASL/SCRAM-SHA-512 over TLS with a created, KMS-encrypted secret, VPC endpoints, an
 * encrypted SQS queue for the batches that fail every retry).
 * KafkaSinkConnectorJava: the whole path in one LambdaSinkConnector, with response and error topics.
 */
public final class KafkaToLambdaApp {
    private KafkaToLambdaApp() {
    }

    /** A VPC without NAT: the event source and the dispatcher reach AWS APIs through the VPC endpoints. */
    static Vpc isolatedVpc(final Construct scope) {
        return Vpc.Builder.create(scope, "Vpc")
            .maxAzs(2)
            .natGateways(0)
            .subnetConfiguration(List.of(SubnetConfiguration.builder().name("brokers").subnetType(SubnetType.PRIVATE_ISOLATED).build()))
            .build();
    }

    /** A stand-in for your own function. */
    static Function target(final Construct scope) {
        return Function.Builder.create(scope, "Target")
            .runtime(Runtime.PYTHON_3_13)
            .handler("index.handler")
            .code(Code.fromInline("def handler(batch, context):\n    return batch\n"))
            .build();
    }

    static Stack triggerStack(final App app) {
        Stack stack = new Stack(app, "KafkaToLambdaJava");
        Vpc vpc = isolatedVpc(stack);
        KafkaDispatcher dispatcher = KafkaDispatcher.Builder.create(stack, "Dispatcher").target(target(stack)).build();
        KafkaTrigger trigger = KafkaTrigger.Builder.create(stack, "Orders")
            .cluster(KafkaCluster.selfManaged(SelfManagedKafkaClusterProps.builder()
                .bootstrapServers(List.of("b-1.kafka.example.internal:9096"))
                .vpc(vpc)
                .build()))
            .topics(List.of("orders"))
            .target(dispatcher.getFunction())
            .onFailure(OnFailureDestination.sqs())
            .build();
        CfnOutput.Builder.create(stack, "CredentialsSecretArn")
            .value(trigger.getAuthSecret().getSecretArn())
            .description("Put the SCRAM username and password of the brokers into this secret.")
            .build();
        return stack;
    }

    static Stack connectorStack(final App app) {
        Stack stack = new Stack(app, "KafkaSinkConnectorJava");
        LambdaSinkConnector.Builder.create(stack, "Orders")
            .cluster(KafkaCluster.selfManaged(SelfManagedKafkaClusterProps.builder()
                .bootstrapServers(List.of("b-1.kafka.example.internal:9096", "b-2.kafka.example.internal:9096"))
                .vpc(isolatedVpc(stack))
                .build()))
            .topics(List.of("orders"))
            .auth(KafkaAuth.scram256())
            .target(target(stack))
            .responseTopic("orders-results")
            .errorTopic("orders-errors")
            .onFailure(OnFailureDestination.sqs())
            .build();
        return stack;
    }

    public static void main(final String[] args) {
        App app = new App();
        triggerStack(app);
        connectorStack(app);
        app.synth();
    }
}

#!/usr/bin/env python3
"""A CDK app in Python on cdk-kafka-lambda: self-managed Kafka in a VPC -> dispatcher -> your function
(KafkaToLambdaPython), and the same topic straight into a function that runs the pipeline itself (KafkaInProcessPython).

The trigger's defaults are the secure ones: SASL/SCRAM-SHA-512 over TLS with a created, KMS-encrypted
secret, a security group that only reaches the brokers, VPC endpoints for the AWS APIs the event source
calls, and an encrypted SQS queue for the batches that still fail after the retries.
"""
import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from cdk_kafka_lambda import InProcessDispatcher, KafkaCluster, KafkaDispatcher, KafkaTrigger, OnFailureDestination


def isolated_vpc(scope: Construct) -> ec2.Vpc:
    """A VPC without NAT: the functions and the event source reach AWS APIs through VPC endpoints."""
    return ec2.Vpc(
        scope, "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[ec2.SubnetConfiguration(name="brokers", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
    )


class KafkaToLambdaStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = isolated_vpc(self)
        target = lambda_.Function(
            self, "Target",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(batch, context):\n    return batch\n"),
        )
        dispatcher = KafkaDispatcher(self, "Dispatcher", target=target)
        trigger = KafkaTrigger(
            self, "Orders",
            cluster=KafkaCluster.self_managed(bootstrap_servers=["b-1.kafka.example.internal:9096"], vpc=vpc),
            topics=["orders"],
            target=dispatcher.function,
            on_failure=OnFailureDestination.sqs(),
        )
        cdk.CfnOutput(self, "CredentialsSecretArn", value=trigger.auth_secret.secret_arn,
                      description="Put the SCRAM username and password of the brokers into this secret.")


class KafkaInProcessStack(cdk.Stack):
    """The mapping straight on your Node.js function, the pipeline inside it: one function billed per batch."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        vpc = isolated_vpc(self)
        orders = lambda_.Function(
            self, "Orders",
            runtime=lambda_.Runtime.NODEJS_22_X,
            handler="index.handler",
            timeout=cdk.Duration.minutes(1),
            vpc=vpc,
            # The runtime library comes as a layer: the handler wraps its code, one call per new record.
            code=lambda_.Code.from_inline(
                "const { inProcessRecordHandler } = require('cdk-kafka-lambda/runtime');\n"
                "exports.handler = inProcessRecordHandler(async (order) => ({ id: order.value.id, status: 'accepted' }));\n"
            ),
        )
        # First the pipeline, then the trigger: a trigger that targets the function binds to it.
        InProcessDispatcher(self, "Exactly", function=orders, vpc=vpc)
        KafkaTrigger(
            self, "OrdersTopic",
            cluster=KafkaCluster.self_managed(bootstrap_servers=["b-1.kafka.example.internal:9096"], vpc=vpc),
            topics=["orders"],
            target=orders,
            on_failure=OnFailureDestination.sqs(),
        )


app = cdk.App()
KafkaToLambdaStack(app, "KafkaToLambdaPython")
KafkaInProcessStack(app, "KafkaInProcessPython")
app.synth()

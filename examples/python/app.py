#!/usr/bin/env python3
"""A CDK app in Python on cdk-kafka-lambda: self-managed Kafka -> dispatcher -> your function."""
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_kafka_lambda import KafkaDispatcher


class KafkaToLambdaStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        target = lambda_.Function(
            self, "Target",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(batch, context):\n    return batch\n"),
        )
        dispatcher = KafkaDispatcher(self, "Dispatcher", target=target)
        dispatcher.function.add_event_source(sources.SelfManagedKafkaEventSource(
            bootstrap_servers=["b-1.kafka.example.com:9096"],
            topic="orders",
            starting_position=lambda_.StartingPosition.TRIM_HORIZON,
            secret=secretsmanager.Secret.from_secret_complete_arn(
                self, "ScramSecret", "arn:aws:secretsmanager:us-east-1:111122223333:secret:kafka-scram-AbCdEf"),
        ))


app = cdk.App()
KafkaToLambdaStack(app, "KafkaToLambdaPython", env=cdk.Environment(account="111122223333", region="us-east-1"))
app.synth()

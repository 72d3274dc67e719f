// A CDK app in Go on cdk-kafka-lambda: self-managed Kafka in a VPC -> dispatcher -> your function.
//
// The trigger's defaults are the secure ones: SASL/SCRAM-SHA-512 over TLS with a created, KMS-encrypted
// secret, a security group that only reaches the brokers, VPC endpoints for the AWS APIs the event source
// calls, and an encrypted SQS queue for the batches that still fail after the retries.
package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdk-kafka-lambda/cdk-kafka-lambda-go/cdkkafkalambda"
)

// NewKafkaToLambdaStack wires a self-managed cluster's topic through a KafkaDispatcher to a stand-in function.
func NewKafkaToLambdaStack(scope constructs.Construct, id string) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), nil)
	vpc := awsec2.NewVpc(stack, jsii.String("Vpc"), &awsec2.VpcProps{
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("brokers"), SubnetType: awsec2.SubnetType_PRIVATE_ISOLATED},
		},
	})
	target := awslambda.NewFunction(stack, jsii.String("Target"), &awslambda.FunctionProps{
		Runtime: awslambda.Runtime_PYTHON_3_13(),
		Handler: jsii.String("index.handler"),
		Code:    awslambda.Code_FromInline(jsii.String("def handler(batch, context):\n    return batch\n")),
	})
	dispatcher := cdkkafkalambda.NewKafkaDispatcher(stack, jsii.String("Dispatcher"), &cdkkafkalambda.KafkaDispatcherProps{
		Target: target,
	})
	trigger := cdkkafkalambda.NewKafkaTrigger(stack, jsii.String("Orders"), &cdkkafkalambda.KafkaTriggerProps{
		Cluster: cdkkafkalambda.KafkaCluster_SelfManaged(&cdkkafkalambda.SelfManagedKafkaClusterProps{
			BootstrapServers: jsii.Strings("b-1.kafka.example.internal:9096"),
			Vpc:              vpc,
		}),
		Topics:    jsii.Strings("orders"),
		Target:    dispatcher.Function(),
		OnFailure: cdkkafkalambda.OnFailureDestination_Sqs(nil),
	})
	awscdk.NewCfnOutput(stack, jsii.String("CredentialsSecretArn"), &awscdk.CfnOutputProps{
		Value:       trigger.AuthSecret().SecretArn(),
		Description: jsii.String("Put the SCRAM username and password of the brokers into this secret."),
	})
	return stack
}

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	NewKafkaToLambdaStack(app, "KafkaToLambdaGo")
	app.Synth(nil)
}

#!/usr/bin/env node
'use strict';
/**
 * npm run templates: ready CloudFormation templates of the main topologies in templates/<name>.json,
 * deployable without CDK, and the handler code they reference as zips in dist/assets/<hash>.zip.
 *
 * Like the templates AWS Solutions publish, each template takes its deployment-specific values as
 * parameters, and the code from a bucket the deployer uploads dist/assets to: parameters AssetsBucket
 * (in the stack's Region) and AssetsKeyPrefix. Run `npm run build` first.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const cdk = require('aws-cdk-lib');
const ec2 = require('aws-cdk-lib/aws-ec2');
const lambda = require('aws-cdk-lib/aws-lambda');
const iam = require('aws-cdk-lib/aws-iam');
const secretsmanager = require('aws-cdk-lib/aws-secretsmanager');
const sqs = require('aws-cdk-lib/aws-sqs');

const { CFN_LINT_VERSION, cfnLint } = require('./lib/cfn-lint');

const root = path.join(__dirname, '..');
const { KafkaAuth, KafkaCluster, KafkaDispatcher, KafkaTrigger, OnFailureDestination } = require(path.join(root, 'build', 'lib'));

/**
 * Points every file asset at s3://<AssetsBucket>/<AssetsKeyPrefix><source hash>.zip and records the
 * staged source, so the caller can write the zips. Keys carry the content hash, so a new version of
 * the code is a new key and a stack update replaces the function code.
 */
class AssetParametersSynthesizer extends cdk.StackSynthesizer {
  constructor() {
    super();
    this.assets = [];
  }

  addFileAsset(asset) {
    if (asset.packaging !== cdk.FileAssetPackaging.ZIP_DIRECTORY) {
      throw new Error(
        `Asset ${asset.fileName}: only directory assets (Lambda code) are supported in templates, got ${asset.packaging}.`,
      );
    }
    // Parameters are created with the first asset, so templates without code have none.
    const stack = this.boundStack;
    this.bucket ??= new cdk.CfnParameter(stack, 'AssetsBucket', {
      type: 'String',
      description: 'S3 bucket, in the Region of this stack, holding the zips of dist/assets.',
      allowedPattern: '^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$',
      constraintDescription: 'must be an S3 bucket name',
    });
    this.prefix ??= new cdk.CfnParameter(stack, 'AssetsKeyPrefix', {
      type: 'String',
      default: '',
      description:
        'Key prefix of the zips in AssetsBucket, ending in "/" (e.g. cdk-kafka-lambda/0.1.0/); empty for the bucket root.',
      allowedPattern: "^$|^[a-zA-Z0-9!_.*'()/-]*/$",
      constraintDescription: 'must be empty or end in "/"',
    });
    const key = `${asset.sourceHash}.zip`;
    this.assets.push({ source: asset.fileName, key });
    const bucketName = this.bucket.valueAsString;
    const objectKey = cdk.Fn.join('', [this.prefix.valueAsString, key]);
    return {
      bucketName,
      objectKey,
      httpUrl: cdk.Fn.join('', ['https://s3.', cdk.Aws.REGION, '.', cdk.Aws.URL_SUFFIX, '/', bucketName, '/', objectKey]),
      s3ObjectUrl: cdk.Fn.join('', ['s3://', bucketName, '/', objectKey]),
    };
  }

  addDockerImageAsset() {
    throw new Error('Container image assets are not supported in templates.');
  }

  synthesize(session) {
    this.synthesizeTemplate(session);
    this.emitArtifact(session);
  }
}

/** A stack of one template: parameters grouped for the CloudFormation console. */
class TemplateStack extends cdk.Stack {
  constructor(scope, id, description) {
    super(scope, id, { synthesizer: new AssetParametersSynthesizer(), description, analyticsReporting: false });
    this.groups = [];
  }

  /** A parameter, listed under `group` in the console. */
  param(group, id, props) {
    const p = new cdk.CfnParameter(this, id, props);
    let g = this.groups.find((x) => x.Label.default === group);
    if (!g) this.groups.push((g = { Label: { default: group }, Parameters: [] }));
    g.Parameters.push(id);
    return p;
  }

  finish() {
    const assetParams = this.synthesizer.bucket ? ['AssetsBucket', 'AssetsKeyPrefix'] : [];
    this.templateOptions.metadata = {
      'AWS::CloudFormation::Interface': {
        ParameterGroups: [
          ...this.groups,
          ...(assetParams.length ? [{ Label: { default: 'Handler code' }, Parameters: assetParams }] : []),
        ],
      },
    };
  }
}

const ARN = (service, resource) => `^arn:aws[a-zA-Z-]*:${service}:[a-z0-9-]*:\\d{12}:${resource}$`;

/** Parameters every topology shares. */
function commonParams(stack) {
  return {
    topic: stack.param('Kafka', 'Topic', {
      type: 'String',
      description: 'Kafka topic to consume.',
      allowedPattern: '^[a-zA-Z0-9._-]{1,249}$',
      constraintDescription: 'must be a Kafka topic name: 1-249 of a-z A-Z 0-9 . _ -',
    }),
    consumerGroupId: consumerGroupIdParam(stack),
    target: stack.param('Target', 'TargetFunctionArn', {
      type: 'String',
      description: 'ARN of your Lambda function that processes the records.',
      allowedPattern: ARN('lambda', 'function:[a-zA-Z0-9-_]+(:[a-zA-Z0-9$_-]+)?'),
      constraintDescription: 'must be a Lambda function ARN',
    }),
    onFailure: stack.param('Failures', 'OnFailureQueueArn', {
      type: 'String',
      description: 'ARN of the SQS queue that receives the metadata of batches that still fail after the retries.',
      allowedPattern: ARN('sqs', '[a-zA-Z0-9_-]+(\\.fifo)?'),
      constraintDescription: 'must be an SQS queue ARN',
    }),
  };
}

/** ConsumerGroupId, or the stack name when empty: unique per deployment of the template. */
function consumerGroupIdParam(stack) {
  const param = stack.param('Kafka', 'ConsumerGroupId', {
    type: 'String',
    default: '',
    description: 'Kafka consumer group id of the event source; empty for the stack name.',
    allowedPattern: '^[a-zA-Z0-9-\\/*:_+=.@]{0,200}$',
    constraintDescription: 'must be up to 200 of a-z A-Z 0-9 - / * : _ + = . @',
  });
  const useStackName = new cdk.CfnCondition(stack, 'ConsumerGroupIdIsStackName', {
    expression: cdk.Fn.conditionEquals(param.valueAsString, ''),
  });
  return cdk.Fn.conditionIf(useStackName.logicalId, cdk.Aws.STACK_NAME, param.valueAsString).toString();
}

/** A VPC of two subnets given as parameters. */
function vpcFromParams(stack, description) {
  const vpcId = stack.param('Network', 'VpcId', { type: 'AWS::EC2::VPC::Id', description });
  const subnets = stack.param('Network', 'SubnetIds', {
    type: 'List<AWS::EC2::Subnet::Id>',
    description: 'Two private subnets of the VPC, in different Availability Zones, with a route to the brokers.',
  });
  return ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
    vpcId: vpcId.valueAsString,
    availabilityZones: [0, 1].map((i) => cdk.Fn.select(i, cdk.Fn.getAzs())),
    privateSubnetIds: [0, 1].map((i) => cdk.Fn.select(i, subnets.valueAsList)),
  });
}

/** The templates: name → builder. */
const TOPOLOGIES = {
  'self-managed-kafka-dispatcher': (app) => {
    const stack = new TemplateStack(
      app,
      'SelfManagedKafkaDispatcher',
      'cdk-kafka-lambda: self-managed Apache Kafka (SASL/SCRAM-SHA-512 over TLS, in your VPC) -> dispatcher -> your function',
    );
    const servers = stack.param('Kafka', 'BootstrapServers', {
      type: 'CommaDelimitedList',
      description: 'Bootstrap brokers as host:port, comma-separated.',
    });
    // An ARN, not the secret itself, so NoEcho would only hide it from the deployer.
    cdk.Validations.of(stack).acknowledge({
      id: 'CloudFormation-Validate::W2509',
      reason: 'ScramSecretArn holds an ARN, not a secret value.',
    });
    const secret = stack.param('Kafka', 'ScramSecretArn', {
      type: 'String',
      description:
        'ARN of the Secrets Manager secret with the SASL/SCRAM-SHA-512 "username" and "password" (encrypted with the aws/secretsmanager key).',
      allowedPattern: ARN('secretsmanager', 'secret:.+'),
      constraintDescription: 'must be a Secrets Manager secret ARN',
    });
    const common = commonParams(stack);
    const vpc = vpcFromParams(stack, 'VPC the brokers are reachable from.');
    // The brokers' port is only known at deploy time, so the deployer brings the group and its rules.
    const securityGroup = stack.param('Network', 'SecurityGroupId', {
      type: 'AWS::EC2::SecurityGroup::Id',
      description:
        "Security group of the event source: allows the brokers' port in from and out to itself (the brokers' port is only known at deploy time); the template adds HTTPS (443) out.",
    });
    const target = lambda.Function.fromFunctionArn(stack, 'Target', common.target.valueAsString);
    const dispatcher = new KafkaDispatcher(stack, 'Dispatcher', { target });
    new KafkaTrigger(stack, 'Trigger', {
      cluster: KafkaCluster.selfManaged({
        bootstrapServers: servers.valueAsList,
        vpc,
        // Not allow-all outbound, so the template adds the HTTPS egress to the endpoints itself.
        securityGroups: [
          ec2.SecurityGroup.fromSecurityGroupId(stack, 'SecurityGroup', securityGroup.valueAsString, { allowAllOutbound: false }),
        ],
      }),
      topics: [common.topic.valueAsString],
      consumerGroupId: common.consumerGroupId,
      target: dispatcher.function,
      auth: KafkaAuth.scram512({
        secret: secretsmanager.Secret.fromSecretCompleteArn(stack, 'ScramSecret', secret.valueAsString),
      }),
      onFailure: OnFailureDestination.sqs(sqs.Queue.fromQueueArn(stack, 'OnFailureQueue', common.onFailure.valueAsString)),
    });
    return stack;
  },

  'msk-iam-function': (app) => {
    const stack = new TemplateStack(app, 'MskIamFunction', 'cdk-kafka-lambda: Amazon MSK (IAM access control) -> your function');
    const clusterArn = stack.param('Kafka', 'ClusterArn', {
      type: 'String',
      description: 'ARN of the MSK cluster (provisioned or serverless) with IAM access control enabled.',
      allowedPattern: ARN('kafka', 'cluster/[^/]+/[^/]+'),
      constraintDescription: 'must be an MSK cluster ARN',
    });
    const common = commonParams(stack);
    const role = stack.param('Target', 'TargetRoleArn', {
      type: 'String',
      description:
        'ARN of the execution role of your function (a role without a path); the event source reads the cluster with it.',
      allowedPattern: ARN('iam', 'role/[a-zA-Z0-9+=,.@_-]+'),
      constraintDescription: 'must be an IAM role ARN without a path',
    });
    const target = lambda.Function.fromFunctionAttributes(stack, 'Target', {
      functionArn: common.target.valueAsString,
      role: iam.Role.fromRoleArn(stack, 'TargetRole', role.valueAsString),
      sameEnvironment: true,
    });
    new KafkaTrigger(stack, 'Trigger', {
      cluster: KafkaCluster.msk({ clusterArn: clusterArn.valueAsString }),
      topics: [common.topic.valueAsString],
      consumerGroupId: common.consumerGroupId,
      target,
      auth: KafkaAuth.iam(),
      onFailure: OnFailureDestination.sqs(sqs.Queue.fromQueueArn(stack, 'OnFailureQueue', common.onFailure.valueAsString)),
    });
    return stack;
  },
};

/** Synthesizes every topology, writes templates/ and dist/assets/. Returns what it wrote. */
function writeTemplates({ templatesDir = path.join(root, 'templates'), assetsDir = path.join(root, 'dist', 'assets') } = {}) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckl-templates-'));
  try {
    const app = new cdk.App({
      outdir,
      context: {
        '@aws-cdk/core:validateAgainstDefaultRules': true,
        'aws:cdk:enable-path-metadata': false,
        'aws:cdk:version-reporting': false,
      },
    });
    const stacks = Object.entries(TOPOLOGIES).map(([name, build]) => {
      const stack = build(app);
      stack.finish();
      return { name, stack };
    });
    const assembly = app.synth();
    // Both folders hold exactly this run's output, so an upload of dist/assets carries no stale code.
    for (const dir of [templatesDir, assetsDir]) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir, { recursive: true });
    }
    const written = { templates: [], assets: [] };
    for (const { name, stack } of stacks) {
      const file = path.join(templatesDir, `${name}.json`);
      fs.writeFileSync(file, JSON.stringify(assembly.getStackByName(stack.stackName).template, null, 2) + '\n');
      written.templates.push(file);
      for (const { source, key } of stack.synthesizer.assets) {
        const zip = path.join(assetsDir, key);
        if (!fs.existsSync(zip)) {
          // Lambda takes zips only; -X leaves out file attributes the code does not need.
          try {
            execFileSync('zip', ['-q', '-r', '-X', zip, '.'], { cwd: path.join(outdir, source) });
          } catch (e) {
            if (e.code === 'ENOENT')
              throw new Error(
                'npm run templates zips the handler code with the `zip` command: install zip (e.g. apt-get install zip).',
                { cause: e },
              );
            throw e;
          }
        }
        written.assets.push(zip);
      }
    }
    return written;
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  let start = Date.now();
  const { templates, assets } = writeTemplates();
  for (const f of [...templates, ...new Set(assets)]) process.stderr.write(`templates: ${path.relative(root, f)}\n`);
  process.stderr.write(`templates: ${templates.length} templates in ${((Date.now() - start) / 1000).toFixed(1)}s\n`);
  start = Date.now();
  const findings = cfnLint(templates);
  for (const f of findings) {
    process.stderr.write(
      `${f.Level} ${f.Rule.Id} ${path.relative(root, f.Filename)}:${f.Location.Start.LineNumber} ${f.Message}\n`,
    );
  }
  process.stderr.write(
    `templates: cfn-lint ${CFN_LINT_VERSION}: ${findings.length} findings in ${((Date.now() - start) / 1000).toFixed(1)}s\n`,
  );
  if (findings.some((f) => f.Level === 'Error')) process.exitCode = 1;
}

module.exports = { writeTemplates, AssetParametersSynthesizer };

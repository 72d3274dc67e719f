#!/usr/bin/env node
/**
 * Example app: synthesizes offline (no AWS account, credentials or context lookups) and shows the
 * topologies of cdk-kafka-lambda. `npx cdk synth` writes their templates to cdk.out/ (it prints one only when
 * given its stack name) after cdk-nag's AwsSolutions checks, which fail the synth on any finding.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildExampleStacks } from './stacks';

const app = new App();
buildExampleStacks(app);
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();

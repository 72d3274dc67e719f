#!/usr/bin/env node
/**
 * Example app: synthesizes offline (no AWS account, credentials or context lookups) and shows the
 * topologies of cdk-kafka-lambda. `npx cdk synth` prints the templates.
 */
import { App } from 'aws-cdk-lib';
import { buildExampleStacks } from './stacks';

const app = new App();
buildExampleStacks(app);
app.synth();

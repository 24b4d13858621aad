#!/usr/bin/env node
// cdk synth / cdk deploy entry point. Settings: the SAM template's parameter names as context,
// e.g. `cdk deploy -c IngestTransport=direct -c AlertEmail=ops@example.com`.
import * as path from "path";
import { App, Aspects } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { SettingsError, settingsFrom } from "../lib/config";
import { loadSamTemplate } from "../lib/sam-template";
import { SesLedgerStack } from "../lib/ses-ledger-stack";

const app = new App({ analyticsReporting: false });
const sam = loadSamTemplate();
let settings;
try {
  settings = settingsFrom((key) => app.node.tryGetContext(key), sam);
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(`ses-ledger cdk: ${error.message}`);
  process.exit(1);
}
// An existing topic must be in the Region the stack deploys to: SES publishes only to topics in its
// own Region, the subscription's dead-letter queue must be in the subscription's Region, and the
// alarm reads SES's figures here (docs/deployment.md). CloudFormation cannot read a Region out of
// an ARN before a deploy; the CDK CLI tells the app where it deploys, so the app refuses here.
const topicRegion = settings.SesEventTopicArn.split(":")[3];
const deployRegion = process.env.CDK_DEFAULT_REGION;
if (topicRegion && deployRegion && topicRegion !== deployRegion) {
  console.error(`ses-ledger cdk: context SesEventTopicArn=${JSON.stringify(settings.SesEventTopicArn)}: the topic is in ${topicRegion}, the stack deploys to ${deployRegion}; deploy the stack in SES's Region, where the topic is`);
  process.exit(1);
}
const topicAccount = settings.SesEventTopicArn.split(":")[4];
const deployAccount = process.env.CDK_DEFAULT_ACCOUNT;
if (topicAccount && deployAccount && topicAccount !== deployAccount) {
  console.error(`ses-ledger cdk: note: the topic belongs to account ${topicAccount}; its owner must let ${deployAccount} call sns:Subscribe on it (docs/deployment.md)`);
}
const codeDir = path.resolve(String(app.node.tryGetContext("codeDir") ?? path.join(__dirname, "..", "..", "..", "target", "lambda")));
const stackName = String(app.node.tryGetContext("stackName") ?? "ses-ledger");

new SesLedgerStack(app, "SesLedger", { stackName, settings, codeDir, sam, description: "ses-ledger (CDK): captures every Amazon SES event exactly once" });
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, reports: true }));

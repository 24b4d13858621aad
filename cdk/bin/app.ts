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
const codeDir = path.resolve(String(app.node.tryGetContext("codeDir") ?? path.join(__dirname, "..", "..", "..", "target", "lambda")));
const stackName = String(app.node.tryGetContext("stackName") ?? "ses-ledger");

new SesLedgerStack(app, "SesLedger", { stackName, settings, codeDir, sam, description: "ses-ledger (CDK): captures every Amazon SES event exactly once" });
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true, reports: true }));

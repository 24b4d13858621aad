// The stack's settings: the SAM template's parameters, taken from CDK context (`-c Name=value` or
// cdk.json) and held to the same defaults and constraints as template.yaml declares.
import { SamParameter, SamTemplate } from "./sam-template";

export interface SesLedgerSettings {
  SesEventTopicArn: string;
  IngestTransport: "sqs" | "direct";
  IngestBatchSize: number;
  IngestBatchWindowSeconds: number;
  CreateConfigurationSet: boolean;
  Architecture: "arm64" | "x86_64";
  EventLogRetentionDays: number;
  EventLogClass: "STANDARD" | "INFREQUENT_ACCESS";
  HistoryTtlDays: number;
  TenantTags: string;
  FeedbackLoopProviders: string;
  SoftBounceLimit: number;
  SoftBounceWindowDays: number;
  SuppressOnPermanentStatus: boolean;
  TableDeletionProtection: boolean;
  AlertEmail: string;
  AlarmSchedule: string;
  MinComplaintVolume: number;
  MinBounceVolume: number;
  RecentSends: number;
  RecentSendsMaxDays: number;
  PseudonymKeyParameter: string;
  PseudonymKeyKmsKeyArn: string;
}

export class SettingsError extends Error {}

function check(name: string, spec: SamParameter, raw: unknown): string | number {
  const text = String(raw);
  const fail = (why: string): never => {
    throw new SettingsError(`context ${name}=${JSON.stringify(text)}: ${spec.ConstraintDescription ?? why}`);
  };
  if (spec.AllowedValues && !spec.AllowedValues.map(String).includes(text)) {
    fail(`must be one of ${spec.AllowedValues.join(", ")}`);
  }
  if (spec.AllowedPattern && !new RegExp(spec.AllowedPattern).test(text)) {
    fail(`must match ${spec.AllowedPattern}`);
  }
  if (spec.Type === "Number") {
    const n = Number(text);
    if (text.trim() === "" || !Number.isFinite(n)) fail("must be a number");
    if (spec.MinValue !== undefined && n < spec.MinValue) fail(`must be at least ${spec.MinValue}`);
    if (spec.MaxValue !== undefined && n > spec.MaxValue) fail(`must be at most ${spec.MaxValue}`);
    return n;
  }
  return text;
}

/** Every SAM parameter, from context or its SAM default; unknown or invalid values are refused. */
export function settingsFrom(context: (key: string) => unknown, template: SamTemplate): SesLedgerSettings {
  const values: Record<string, string | number> = {};
  for (const [name, spec] of Object.entries(template.Parameters)) {
    const given = context(name);
    const raw = given === undefined ? spec.Default ?? "" : given;
    values[name] = check(name, spec, raw);
  }
  return {
    ...(values as unknown as SesLedgerSettings),
    CreateConfigurationSet: values.CreateConfigurationSet === "true",
    TableDeletionProtection: values.TableDeletionProtection === "true",
    SuppressOnPermanentStatus: values.SuppressOnPermanentStatus === "true",
  };
}

// template.yaml is the one place for the facts both deployment paths share: the parameters with
// their defaults and constraints, the saved Logs Insights queries, the dashboard and the outputs'
// descriptions. The CDK app reads them from there instead of restating them.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface SamParameter {
  Type: "String" | "Number";
  Default?: string | number;
  AllowedPattern?: string;
  AllowedValues?: (string | number)[];
  MinValue?: number;
  MaxValue?: number;
  ConstraintDescription?: string;
  Description?: string;
}

export interface SamTemplate {
  Parameters: Record<string, SamParameter>;
  Resources: Record<string, { Type: string; Properties?: Record<string, Json> }>;
  Outputs: Record<string, { Description?: string }>;
}

export const TEMPLATE_PATH = path.resolve(__dirname, "..", "..", "..", "template.yaml");

// CloudFormation's short forms (!Ref, !Sub, ...) as their long forms, so values keep their meaning.
const SHORT_FORMS = ["Ref", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split", "FindInMap", "ImportValue", "GetAZs", "Base64", "Cidr", "Condition"];

function cfnTags(): YAML.Tags {
  const tags: YAML.Tags = [];
  for (const name of SHORT_FORMS) {
    const key = name === "Ref" || name === "Condition" ? name : `Fn::${name}`;
    for (const collection of [undefined, "seq", "map"] as const) {
      tags.push({
        tag: `!${name}`,
        collection,
        resolve: (value: unknown) => {
          const plain = value instanceof YAML.YAMLSeq || value instanceof YAML.YAMLMap ? value.toJSON() : value;
          if (name === "GetAtt" && typeof plain === "string") return { [key]: plain.split(".") };
          return { [key]: plain };
        },
      } as YAML.ScalarTag & YAML.CollectionTag);
    }
  }
  return tags;
}

export function loadSamTemplate(file: string = TEMPLATE_PATH): SamTemplate {
  const doc = YAML.parse(fs.readFileSync(file, "utf8"), { customTags: cfnTags(), uniqueKeys: true });
  return doc as SamTemplate;
}

export function resourcesOfType(template: SamTemplate, type: string): [string, Record<string, Json>][] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

/**
 * A template value with the stack's settings put in for its parameters: `Ref`, `Fn::Split`,
 * `Fn::Join` and `Fn::Sub` (with a variable map) over them, as CloudFormation would resolve them.
 * For values such as a saved query that follows a parameter (`FeedbackLoopProviders`).
 */
export function resolveWithSettings(value: Json, settings: Record<string, unknown>): Json {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => resolveWithSettings(v, settings));
  const [[key, args]] = Object.entries(value);
  const fail = (): never => {
    throw new Error(`template.yaml: cannot resolve ${JSON.stringify(value)} from the settings`);
  };
  if (Object.keys(value).length === 1) {
    if (key === "Ref" && typeof args === "string" && args in settings) return String(settings[args]);
    if (key === "Fn::Split" && Array.isArray(args)) {
      const [delimiter, text] = args.map((a) => resolveWithSettings(a, settings));
      return typeof delimiter === "string" && typeof text === "string" ? text.split(delimiter) : fail();
    }
    if (key === "Fn::Join" && Array.isArray(args)) {
      const [delimiter, items] = args.map((a) => resolveWithSettings(a, settings));
      return typeof delimiter === "string" && Array.isArray(items) && items.every((i) => typeof i === "string") ? items.join(delimiter) : fail();
    }
    if (key === "Fn::Sub" && Array.isArray(args) && typeof args[0] === "string") {
      const variables = resolveWithSettings(args[1] ?? {}, settings) as Record<string, Json>;
      return args[0].replace(/\$\{([A-Za-z0-9]+)\}/g, (whole, name: string) => {
        const v = variables[name];
        return typeof v === "string" ? v : whole;
      });
    }
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveWithSettings(v, settings)]));
}

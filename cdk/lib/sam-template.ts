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

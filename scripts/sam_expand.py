#!/usr/bin/env python3
"""Expand a SAM template into plain CloudFormation JSON, offline.

cfn-lint (1.x) no longer runs the SAM transform, so errors inside AWS::Serverless::* resources
(bad schedule expressions, bad !GetAtt in Events or Policies, unknown properties) slip through.
This script runs aws-sam-translator locally so the expanded JSON can be linted too.

Offline on purpose:
  - the template is parsed with cfn-lint's YAML/JSON decoder (handles !Ref, !GetAtt, !Sub, ...),
  - managed policy names are resolved from the table bundled with aws-sam-translator, never by
    calling IAM,
  - the region is fixed (default us-east-1), so no AWS configuration or metadata lookup happens,
  - local CodeUri/ContentUri/DefinitionUri paths are replaced by placeholder S3 URIs, as
    `sam package` would replace them by real ones.

Usage: sam_expand.py TEMPLATE [-o OUT.json] [--region us-east-1] [--parameter Key=Value ...]
Exit codes: 0 expanded, 1 template invalid (messages on stderr), 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

# Before anything imports boto3/botocore: no credential, region or metadata look-ups.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

PLACEHOLDER_BUCKET = "sam-expand-placeholder-bucket"
SAM_TRANSFORM = "AWS::Serverless-2016-10-31"

# Resource type -> properties that `sam package` would turn into S3 locations.
LOCAL_URI_PROPERTIES = {
    "AWS::Serverless::Function": ["CodeUri"],
    "AWS::Serverless::LayerVersion": ["ContentUri"],
    "AWS::Serverless::Api": ["DefinitionUri"],
    "AWS::Serverless::HttpApi": ["DefinitionUri"],
    "AWS::Serverless::StateMachine": ["DefinitionUri"],
}
GLOBALS_URI_PROPERTIES = {
    "Function": ["CodeUri"],
    "Api": ["DefinitionUri"],
    "HttpApi": ["DefinitionUri"],
}


class OfflineManagedPolicyLoader:
    """Stands in for samtranslator's ManagedPolicyLoader (which lists policies through IAM).

    The translator first looks names up in its bundled table; this loader is only asked for names
    missing there and answers from the same bundled table, so nothing leaves the machine.
    """

    def __init__(self, partition: str) -> None:
        self._partition = partition

    def load(self) -> dict[str, str]:
        from samtranslator.internal.managed_policies import get_bundled_managed_policy_map

        return dict(get_bundled_managed_policy_map(self._partition) or {})


def _is_local_path(value: Any) -> bool:
    return isinstance(value, str) and not value.startswith("s3://")


def _placeholder_uri(value: str) -> str:
    key = value.strip("./").replace(os.sep, "/") or "root"
    return f"s3://{PLACEHOLDER_BUCKET}/{key}"


def replace_local_uris(template: dict[str, Any]) -> None:
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict):
            continue
        props = resource.get("Properties")
        if not isinstance(props, dict):
            continue
        for prop in LOCAL_URI_PROPERTIES.get(resource.get("Type", ""), []):
            if _is_local_path(props.get(prop)):
                props[prop] = _placeholder_uri(props[prop])
    for section, prop_names in GLOBALS_URI_PROPERTIES.items():
        section_dict = (template.get("Globals") or {}).get(section)
        if isinstance(section_dict, dict):
            for prop in prop_names:
                if _is_local_path(section_dict.get(prop)):
                    section_dict[prop] = _placeholder_uri(section_dict[prop])


def has_sam_transform(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    if isinstance(transform, str):
        return transform == SAM_TRANSFORM
    if isinstance(transform, list):
        return SAM_TRANSFORM in transform
    return False


def load_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode

    template, matches = decode(str(path))
    if matches:
        for match in matches:
            print(f"{path}: {match}", file=sys.stderr)
        sys.exit(1)
    # cfn-lint's decoder returns str/dict subclasses carrying line marks: make plain objects.
    return json.loads(json.dumps(template))


def expand(template: dict[str, Any], region: str, parameters: dict[str, str]) -> dict[str, Any]:
    os.environ["AWS_DEFAULT_REGION"] = region
    os.environ["AWS_REGION"] = region
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.transform import transform

    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    partition = ArnGenerator.get_partition_name(region)
    replace_local_uris(template)
    return transform(template, dict(parameters), OfflineManagedPolicyLoader(partition))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="output JSON (default: stdout)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="template parameter value (repeatable)")
    args = parser.parse_args(argv)

    parameters: dict[str, str] = {}
    for item in args.parameter:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--parameter needs KEY=VALUE, got {item!r}")
        parameters[key] = value

    if not args.template.is_file():
        parser.error(f"no such template: {args.template}")
    template = load_template(args.template)
    if not has_sam_transform(template):
        print(f"{args.template}: no {SAM_TRANSFORM} transform; copied unchanged", file=sys.stderr)
        expanded = template
    else:
        from samtranslator.model.exceptions import InvalidDocumentException

        try:
            expanded = expand(template, args.region, parameters)
        except InvalidDocumentException as exc:
            for cause in exc.causes:
                print(f"{args.template}: SAM transform: {cause.message}", file=sys.stderr)
            return 1

    text = json.dumps(expanded, indent=2, sort_keys=False) + "\n"
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.output.with_suffix(args.output.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(args.output)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

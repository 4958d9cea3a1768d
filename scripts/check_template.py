"""Check ``deploy/template.yaml`` offline: cfn-lint and checkov, before and after SAM.

Usage::

    python scripts/check_template.py --checkov .devstack/scan/venv/bin/checkov

1. cfn-lint on the SAM template (cfn-lint validates SAM resources with SAM's schemas);
2. the SAM transform, with aws-sam-translator, into plain CloudFormation
   (``build/template.json``), with the Lambda code at an S3 location as
   ``aws cloudformation package`` leaves it; this is what CloudFormation deploys, with
   the function's role, the API's stage and permission that SAM generates;
3. cfn-lint on that translation;
4. checkov on both. checkov exits 0 on a file it cannot parse, so its JSON report is
   read instead: any failed check, any parsing error or an empty scan fails here;
5. checkov once more, on a copy of the template that allows instance metadata v1 (a
   path to the instance role's credentials): that one must fail, or the scan is blind.

Every checkov suppression is a ``Metadata: checkov: skip`` entry in the template with
its reason (``tests/test_deploy_template.py`` holds each to one); none is given here.
Exit status: 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "deploy" / "template.yaml"
#: Where `aws cloudformation package` puts the function's code; any S3 location will do.
PACKAGED_CODE = "s3://artifact-bucket/contabyx/lambda.zip"


class _NoManagedPolicies:
    """The template names managed policies by ARN, so SAM never looks one up by name."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: Path, out: Path) -> Path:
    """Write the SAM template's CloudFormation translation to ``out``."""
    document, problems = decode(str(template))
    if problems:
        raise SystemExit(f"{template}: {problems[0]}")
    plain: dict[str, Any] = json.loads(json.dumps(document))
    for resource in plain["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = PACKAGED_CODE
    # The translator asks boto3 for a region to build ARNs; no call is made.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated = transform(plain, {}, _NoManagedPolicies(), passthrough_metadata=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(translated, indent=1, sort_keys=True) + "\n")
    return out


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def cfn_lint(path: Path) -> bool:
    cfn_lint_bin = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint_bin), str(path)], check=False)  # noqa: S603
    print(f"cfn-lint {_shown(path)}: {'ok' if done.returncode == 0 else 'FAILED'}")
    return done.returncode == 0


def checkov(checkov_bin: str, path: Path) -> bool:
    """checkov's verdict on ``path``, read from its JSON report."""
    options = ["--skip-download", "--framework", "cloudformation", "--output", "json"]
    done = subprocess.run(  # noqa: S603
        [checkov_bin, *options, "--file", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        print(f"checkov {_shown(path)}: no report (exit {done.returncode})\n{done.stderr[-2000:]}")
        return False
    summary = report["summary"]
    results = report.get("results", {})
    for check in results.get("failed_checks", []):
        print(f"  FAILED {check['check_id']} {check['check_name']}: {check['resource']}")
    for check in results.get("skipped_checks", []):
        print(f"  skipped {check['check_id']} on {check['resource']} (reason in the template)")
    ok = summary["failed"] == 0 and summary["parsing_errors"] == 0 and summary["passed"] > 0
    print(
        f"checkov {_shown(path)}: {summary['passed']} passed, {summary['failed']} "
        f"failed, {summary['skipped']} skipped, {summary['parsing_errors']} parsing errors: "
        + ("ok" if ok else "FAILED")
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkov", required=True, help="the checkov command")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "template.json")
    args = parser.parse_args(argv)
    template = args.template.resolve()
    translated = translate(template, args.out.resolve())
    results = [
        cfn_lint(template),
        cfn_lint(translated),
        checkov(args.checkov, template),
        checkov(args.checkov, translated),
        scan_can_fail(args.checkov, template, args.out.resolve().parent),
    ]
    return 0 if all(results) else 1


def scan_can_fail(checkov_bin: str, template: Path, scratch: Path) -> bool:
    """True if checkov fails the template with IMDSv1 allowed (CKV_AWS_79)."""
    text = template.read_text()
    if text.count("HttpTokens: required") != 1:
        print("the scan's self-check expects one 'HttpTokens: required' in the template")
        return False
    weak = scratch / "template-imdsv1.yaml"
    weak.write_text(text.replace("HttpTokens: required", "HttpTokens: optional"))
    print("checkov must fail a copy that allows IMDSv1:")
    failed = not checkov(checkov_bin, weak)
    print(f"the scan can fail: {'ok' if failed else 'FAILED, it passed a weakened template'}")
    return failed


if __name__ == "__main__":
    sys.exit(main())

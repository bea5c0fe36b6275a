"""The AWS side as code: CloudFormation under infra/, and the CI that runs the pipeline.

cfn-lint (in the dev extra) and checkov (in its own virtual environment, see
infra/requirements-checkov.txt) check every template; the other tests parse the templates and
the CI files and check the properties that matter. Nothing here calls AWS. A missing checkov
fails the tests under CI (which installs it) and skips them elsewhere, saying how to install it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.external import missing_tool

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
STACK = INFRA / "costpipe.yaml"
BUILDSPEC = INFRA / "buildspec.yml"
README = ROOT / "README.md"
CHECKOV_REQUIREMENTS = INFRA / "requirements-checkov.txt"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
CI_RUN = ROOT / ".ci" / "run"

CHECKOV_ENV = "COSTPIPE_CHECKOV"
CHECKOV_DEFAULT = ROOT / ".venv-checkov" / "bin" / "checkov"
# Regions cfn-lint checks resource availability in (a region the XGBoost image exists in each).
LINT_REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")

# Actions AWS authorises on no narrower resource than "*", each justified next to its statement.
RESOURCE_STAR_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "cloudwatch:PutMetricData",
    "sagemaker:ListTags",
    "sagemaker:ListModelPackages",
    "states:ListStateMachines",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
# What the CLI reads from the stack.
REQUIRED_OUTPUTS = {
    "ArtifactBucketName": "COSTPIPE_BUCKET",
    "SageMakerRoleArn": "COSTPIPE_ROLE_ARN",
    "StepFunctionsRoleArn": "COSTPIPE_STATE_MACHINE_ROLE_ARN",
    "PipelineName": "COSTPIPE_PIPELINE_NAME",
    "StateMachineArn": None,
    "CiRoleArn": None,
    "ModelPackageGroupName": None,
}
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
COSTPIPE_COMMAND = re.compile(r"\bcostpipe (upsert|start|wait)\b")


# --- helpers ------------------------------------------------------------------------------------
def _fail_output(what: str, result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{what} exited {result.returncode}\n"
        f"--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    )


def template_paths() -> list[Path]:
    paths = [
        path
        for path in sorted(INFRA.iterdir())
        if path.suffix in (".yaml", ".yml") and "AWSTemplateFormatVersion" in path.read_text()
    ]
    assert STACK in paths, f"no CloudFormation template at {STACK}"
    return paths


@cache
def load_template(path: Path) -> dict[str, Any]:
    """The template with its short-form tags (!Ref, !Sub, !GetAtt...) as their long forms."""
    try:
        from cfnlint.decode.cfn_yaml import load
    except ImportError:  # pragma: no cover - the message is the point
        pytest.fail("cfn-lint is not installed: pip install -e '.[dev]'", pytrace=False)
    return load(str(path))


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(resource name, kind, document): kind is trust, identity or resource."""
    for name, resource in template["Resources"].items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            yield name, "trust", props["AssumeRolePolicyDocument"]
            for policy in props.get("Policies", []):
                yield name, "identity", policy["PolicyDocument"]
        elif kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::RolePolicy"):
            yield name, "identity", props["PolicyDocument"]
        elif kind == "AWS::S3::BucketPolicy":
            yield name, "resource", props["PolicyDocument"]


def statements(template: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, kind, document in policy_documents(template):
        for statement in as_list(document["Statement"]):
            yield name, kind, statement


def role_statements(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    """Every Allow statement that applies to the role: inline and attached policies."""
    found = []
    for name, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if name == role:
            for policy in props.get("Policies", []):
                found += as_list(policy["PolicyDocument"]["Statement"])
        elif resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and json.dumps(
            {"Ref": role}
        ) in json.dumps(props.get("Roles", [])):
            found += as_list(props["PolicyDocument"]["Statement"])
    assert found, f"no policy applies to {role}"
    return [statement for statement in found if statement["Effect"] == "Allow"]


def text_of(value: Any) -> str:
    """A resource as text: a literal, !Sub's string, or !GetAtt's Logical.Attribute."""
    if isinstance(value, str):
        return value
    if "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if "Fn::GetAtt" in value:
        return ".".join(value["Fn::GetAtt"])
    if "Ref" in value:
        return value["Ref"]
    return json.dumps(value)


def resources_of(statement: dict[str, Any]) -> list[str]:
    assert "NotResource" not in statement, statement
    return [text_of(resource) for resource in as_list(statement["Resource"])]


def actions_of(statement: dict[str, Any]) -> list[str]:
    assert "NotAction" not in statement, statement
    return as_list(statement["Action"])


def run_commands(steps: list[dict[str, Any]]) -> list[str]:
    """Every command of every run: step, in order (continued lines joined, comments dropped)."""
    script = "\n".join(str(step.get("run", "")) for step in steps)
    lines = script.replace("\\\n", " ").splitlines()
    return [" ".join(line.split()) for line in lines if line.strip() and line.strip()[0] != "#"]


def costpipe_sequence(commands: list[str]) -> list[str]:
    return [match.group(1) for line in commands for match in COSTPIPE_COMMAND.finditer(line)]


def load_workflow() -> dict[str, Any]:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the key `on` as the boolean true.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def ci_run_commands() -> list[str]:
    """The install, lint and test commands of .ci/run, in order."""
    return [
        " ".join(line.split())
        for line in CI_RUN.read_text().splitlines()
        if line.strip().startswith((".venv", "python3 -m venv"))
    ]


# --- linters ------------------------------------------------------------------------------------
def test_cfn_lint_passes_on_every_template():
    command = [
        sys.executable,
        "-c",
        "import sys; from cfnlint.runner import main; sys.exit(main())",
        "--regions",
        *LINT_REGIONS,
        "--",
        *map(str, template_paths()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert "No module named 'cfnlint'" not in result.stderr, (
        "cfn-lint is not installed: pip install -e '.[dev]'"
    )
    assert result.returncode == 0, _fail_output("cfn-lint", result)


def checkov_executable() -> str:
    configured = os.environ.get(CHECKOV_ENV)
    path = Path(configured) if configured else CHECKOV_DEFAULT
    if not path.is_file():
        missing_tool(
            f"checkov not found at {path} (it needs its own environment, see "
            f"{CHECKOV_REQUIREMENTS.relative_to(ROOT)}): python3 -m venv .venv-checkov && "
            f".venv-checkov/bin/pip install -r {CHECKOV_REQUIREMENTS.relative_to(ROOT)}"
        )
    return str(path)


def _run_checkov(directory: Path, framework: str) -> dict[str, Any]:
    command = [
        checkov_executable(),
        "--directory",
        str(directory),
        "--framework",
        framework,
        "--skip-download",  # offline: no policy metadata from the vendor's API
        "--output",
        "json",
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=600)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(_fail_output("checkov (no JSON report)", result), pytrace=False)
    # With nothing to check, checkov prints only a summary: a template or workflow it could not
    # recognise (e.g. one its schema rejects) would pass silently, so treat that as a failure.
    assert isinstance(report, dict) and report.get("check_type") == framework, (
        f"checkov found nothing to check for {framework} in {directory}:\n{result.stdout}"
    )
    report["_result"] = result
    return report


@pytest.fixture(scope="module")
def checkov_reports() -> dict[str, dict[str, Any]]:
    return {
        "cloudformation": _run_checkov(INFRA, "cloudformation"),
        "github_actions": _run_checkov(WORKFLOW.parent.parent, "github_actions"),
    }


@pytest.mark.parametrize("framework", ["cloudformation", "github_actions"])
def test_checkov_passes(checkov_reports, framework):
    report = checkov_reports[framework]
    summary, results = report["summary"], report["results"]
    failed = [
        f"{check['check_id']} {check['resource']} ({check['file_path']}): {check['check_name']}"
        for check in results["failed_checks"]
    ]
    detail = "\n".join(failed) + "\n" + _fail_output("checkov", report["_result"])
    assert summary["failed"] == 0 and not failed, detail
    assert summary["parsing_errors"] == 0, detail
    assert report["_result"].returncode == 0, detail
    assert summary["passed"] > 0, detail
    if framework == "cloudformation":
        checked = {check["file_path"].lstrip("/") for check in results["passed_checks"]}
        assert {path.name for path in template_paths()} <= checked, checked


def declared_skips() -> list[tuple[Path, str, str, str]]:
    """(template, resource, check id, justification) for every skip in a resource's Metadata."""
    skips = []
    for path in template_paths():
        for name, resource in load_template(path)["Resources"].items():
            metadata = resource.get("Metadata", {})
            for skip in metadata.get("checkov", {}).get("skip", []):
                skips.append((path, name, skip.get("id", ""), str(skip.get("comment", ""))))
    return skips


def test_every_checkov_skip_is_justified(checkov_reports):
    for path, resource, check_id, comment in declared_skips():
        assert re.fullmatch(r"CKV2?_AWS_\d+", check_id), (path.name, resource, check_id)
        assert len(comment.split()) >= 8, f"{resource} {check_id}: justify the skip: {comment!r}"
    for path in [*template_paths(), WORKFLOW, BUILDSPEC]:
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                assert re.search(r"checkov:skip=CKV2?_[A-Z]+_\d+:\s*\S.{20,}", line), (
                    f"{path.name}: an inline skip needs a reason: {line.strip()}"
                )
    # Every skip checkov applied is one declared above, and every declared one was applied: a
    # skip for a check that no longer fires is stale and must go.
    applied = {
        (check["resource"].split(".")[-1], check["check_id"]): check["check_result"].get(
            "suppress_comment", ""
        )
        for check in checkov_reports["cloudformation"]["results"]["skipped_checks"]
    }
    declared = {(resource, check_id) for _, resource, check_id, _ in declared_skips()}
    assert set(applied) == declared, {"applied": sorted(applied), "declared": sorted(declared)}
    for key, comment in applied.items():
        assert comment and comment != "No comment provided", key
    assert not checkov_reports["github_actions"]["results"]["skipped_checks"]


# --- IAM ----------------------------------------------------------------------------------------
def test_no_statement_grants_a_wildcard_action():
    for path in template_paths():
        for name, kind, statement in statements(load_template(path)):
            if kind == "resource" and statement["Effect"] == "Deny":
                continue  # the bucket policy's TLS denials take every S3 action away: fine
            for action in actions_of(statement):
                assert "*" not in action, f"{path.name} {name}: {action} in {statement}"


def test_resource_star_only_where_aws_requires_it():
    for path in template_paths():
        for name, kind, statement in statements(load_template(path)):
            if kind != "identity" or "*" not in resources_of(statement):
                continue
            assert resources_of(statement) == ["*"], statement
            extra = set(actions_of(statement)) - RESOURCE_STAR_ACTIONS
            assert not extra, f"{path.name} {name}: {sorted(extra)} on Resource '*'"


def test_every_allow_names_its_resources_by_bucket_pipeline_group_or_job():
    template = load_template(STACK)
    scoped = (
        "ArtifactBucket.Arn",
        "${ArtifactBucket.Arn}/${PipelineName}/",
        ":pipeline/${PipelineName}",
        ":stateMachine:${PipelineName}",
        ":execution:${PipelineName}:",
        ":model-package-group/${ModelPackageGroupName}",
        ":model-package/${ModelPackageGroupName}/",
        # costpipe deploy's model, endpoint config and endpoint: <group>-v<version>
        ":model/${ModelPackageGroupName}-",
        ":endpoint-config/${ModelPackageGroupName}-",
        ":endpoint/${ModelPackageGroupName}-",
        ":transform-job/${ModelPackageGroupName}-",
        ":processing-job/pipelines-",
        ":training-job/pipelines-",
        ":processing-job/${PipelineName}-",
        ":training-job/${PipelineName}-",
        ":log-group:/aws/sagemaker/",
        ":rule/StepFunctionsGetEventsForSageMaker",
        ":repository/sagemaker-xgboost",
        "Role.Arn",
    )
    for name, kind, statement in statements(template):
        if kind != "identity" or statement["Effect"] != "Allow":
            continue
        for resource in resources_of(statement):
            if resource == "*":
                continue
            assert any(part in resource for part in scoped), f"{name}: unscoped {resource}"


def test_s3_access_is_to_the_artifact_bucket_only():
    template = load_template(STACK)
    for role in ("SageMakerExecutionRole", "StepFunctionsRole", "CiRole"):
        s3_statements = [
            statement
            for statement in role_statements(template, role)
            if any(action.startswith("s3:") for action in actions_of(statement))
        ]
        assert s3_statements, role
        for statement in s3_statements:
            for resource in resources_of(statement):
                assert resource == "ArtifactBucket.Arn" or resource.startswith(
                    "${ArtifactBucket.Arn}/${PipelineName}/"
                ), f"{role}: {resource}"


def test_sagemaker_role_is_least_privilege_and_complete():
    template = load_template(STACK)
    granted: dict[str, list[str]] = {}
    for statement in role_statements(template, "SageMakerExecutionRole"):
        for action in actions_of(statement):
            granted.setdefault(action, []).extend(resources_of(statement))
    pipeline_jobs = (":processing-job/pipelines-", ":training-job/pipelines-")
    for action in ("sagemaker:CreateProcessingJob", "sagemaker:CreateTrainingJob"):
        for resource in granted[action]:
            assert any(job in resource for job in pipeline_jobs), (action, resource)
    assert all("${ModelPackageGroupName}" in r for r in granted["sagemaker:CreateModelPackage"])
    assert granted["iam:PassRole"] == ["SageMakerExecutionRole.Arn"]
    assert all(r.endswith(":repository/sagemaker-xgboost") for r in granted["ecr:BatchGetImage"]), (
        granted["ecr:BatchGetImage"]
    )
    assert all(":log-group:/aws/sagemaker/" in r for r in granted["logs:PutLogEvents"])
    for action in ("s3:GetObject", "s3:PutObject", "s3:ListBucket", "ecr:GetAuthorizationToken"):
        assert action in granted, action
    trust = template["Resources"]["SageMakerExecutionRole"]["Properties"]
    principals = [s["Principal"] for s in trust["AssumeRolePolicyDocument"]["Statement"]]
    assert principals == [{"Service": "sagemaker.amazonaws.com"}]


def test_evaluate_can_find_the_champion_and_nothing_wider():
    """ListModelPackages and DescribeModelPackage on the group and its versions only, and
    s3:GetObject on Evaluate's artifact prefix (steps/champion.py's calls)."""
    template = load_template(STACK)
    found = [
        statement
        for statement in role_statements(template, "SageMakerExecutionRole")
        if statement.get("Sid") in ("FindChampionInGroup", "ReadChampionArtifact")
    ]
    assert [actions_of(s) for s in found] == [
        ["sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"],
        ["s3:GetObject"],
    ]
    group, artifacts = (resources_of(s) for s in found)
    assert len(group) == 2 and all("${ModelPackageGroupName}" in r for r in group)
    assert any(r.endswith(":model-package-group/${ModelPackageGroupName}") for r in group)
    assert any(r.endswith(":model-package/${ModelPackageGroupName}/*") for r in group)
    assert artifacts == ["${ArtifactBucket.Arn}/${PipelineName}/executions/*/Evaluate/artifact/*"]
    for statement in role_statements(template, "SageMakerExecutionRole"):
        for action in ("sagemaker:ListModelPackages", "sagemaker:DescribeModelPackage"):
            if action in actions_of(statement):
                assert statement in found, statement  # granted nowhere else, on nothing else


def test_step_functions_role_covers_the_sync_integrations():
    template = load_template(STACK)
    granted: dict[str, list[str]] = {}
    for statement in role_statements(template, "StepFunctionsRole"):
        for action in actions_of(statement):
            granted.setdefault(action, []).extend(resources_of(statement))
    for kind in ("Processing", "Training"):
        job = f":{kind.lower()}-job/${{PipelineName}}-"
        for verb in ("Create", "Describe", "Stop"):
            assert any(job in r for r in granted[f"sagemaker:{verb}{kind}Job"]), (verb, kind)
        rule = f":rule/StepFunctionsGetEventsForSageMaker{kind}JobsRule"
        for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule"):
            assert any(r.endswith(rule) for r in granted[action]), (action, rule)
    assert "sagemaker:AddTags" in granted  # Step Functions tags the jobs it starts
    assert granted["s3:GetObject"] == ["${ArtifactBucket.Arn}/${PipelineName}/executions/*"]
    assert all("${ModelPackageGroupName}" in r for r in granted["sagemaker:CreateModelPackage"])
    assert granted["iam:PassRole"] == ["SageMakerExecutionRole.Arn"]


def test_pass_role_is_limited_to_the_stack_roles_and_their_services():
    for path in template_paths():
        template = load_template(path)
        roles = {n for n, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
        for name, _, statement in statements(template):
            if "iam:PassRole" not in actions_of(statement):
                continue
            assert actions_of(statement) == ["iam:PassRole"], statement
            for resource in resources_of(statement):
                assert resource.removesuffix(".Arn") in roles, f"{name}: passes {resource}"
            service = statement["Condition"]["StringEquals"]["iam:PassedToService"]
            assert service in ("sagemaker.amazonaws.com", "states.amazonaws.com"), statement


def test_ci_role_trusts_only_the_repository_branch_through_github_oidc():
    template = load_template(STACK)
    assert "GitHubRepository" in template["Parameters"]
    role = template["Resources"]["CiRole"]["Properties"]
    (trust,) = as_list(role["AssumeRolePolicyDocument"]["Statement"])
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    federated = json.dumps(trust["Principal"]["Federated"])
    assert "GitHubOidcProvider" in federated
    assert "oidc-provider/token.actions.githubusercontent.com" in federated
    assert set(trust["Condition"]) == {"StringEquals"}, "exact matches only, no StringLike"
    claims = trust["Condition"]["StringEquals"]
    assert claims["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    sub = text_of(claims["token.actions.githubusercontent.com:sub"])
    assert sub == "repo:${GitHubRepository}:ref:refs/heads/${GitHubBranch}", sub
    provider = template["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("GitHubRepository", "my-org/costpipe", True),
        ("GitHubRepository", "my-org@123456/costpipe@789012", True),
        ("GitHubRepository", "", True),
        ("GitHubRepository", "my-org/*", False),
        ("GitHubRepository", "*", False),
        ("GitHubRepository", "my-org/costpipe:ref:refs/heads/*", False),
        ("PipelineName", "costpipe", True),
        ("PipelineName", "CostPipe", False),  # SageMaker ARNs are lower case
        ("PipelineName", "a" * 33, False),  # role names must stay within 64 characters
        ("ModelPackageGroupName", "breast-cancer", True),
        ("ModelPackageGroupName", "Breast_Cancer", False),
    ],
)
def test_parameters_reject_what_would_widen_or_break_the_policies(parameter, value, accepted):
    pattern = load_template(STACK)["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) is accepted, (pattern, value)


# --- bucket -------------------------------------------------------------------------------------
def test_bucket_is_encrypted_versioned_private_and_tls_only():
    template = load_template(STACK)
    bucket = template["Resources"]["ArtifactBucket"]
    props = bucket["Properties"]
    (rule,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    block = props["PublicAccessBlockConfiguration"]
    for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls"):
        assert block[setting] is True, setting
    assert block["RestrictPublicBuckets"] is True
    assert bucket["DeletionPolicy"] == "Retain"

    policies = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy"
        and r["Properties"]["Bucket"] == {"Ref": "ArtifactBucket"}
    ]
    assert len(policies) == 1
    denials = [
        s
        for s in policies[0]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert denials, "no statement denies requests without TLS"
    (tls,) = denials
    assert tls["Principal"] == "*" and actions_of(tls) == ["s3:*"]
    assert set(resources_of(tls)) == {"ArtifactBucket.Arn", "${ArtifactBucket.Arn}/*"}


def test_xgboost_image_registries_match_the_sdk():
    """The ECR statement names the image's registry per region; the SDK is the source."""
    from importlib.metadata import files

    from pipeline.config import DEFAULT_XGBOOST_CONTAINER

    (config_file,) = [f for f in files("sagemaker-core") if f.name == "xgboost.json"]
    training = json.loads(config_file.read_text())["training"]
    version = training["versions"][
        training.get("version_aliases", {}).get(
            DEFAULT_XGBOOST_CONTAINER, DEFAULT_XGBOOST_CONTAINER
        )
    ]
    assert version["repository"] == "sagemaker-xgboost"
    mapping = load_template(STACK)["Mappings"]["XGBoostImageRegistry"]
    assert {region: row["Account"] for region, row in mapping.items()} == version["registries"]


# --- outputs and the pipeline definition --------------------------------------------------------
def test_outputs_are_the_values_the_cli_needs_and_the_readme_names_them():
    outputs = load_template(STACK)["Outputs"]
    assert set(REQUIRED_OUTPUTS) <= set(outputs)
    text = README.read_text()
    assert "\n## Run on AWS\n" in text
    readme = text.split("\n## Run on AWS\n", 1)[1].split("\n## ", 1)[0]
    for output, variable in REQUIRED_OUTPUTS.items():
        assert f"`{output}`" in readme, output
        if variable:
            assert variable in readme and variable in outputs[output]["Description"], variable
    assert "--capabilities CAPABILITY_NAMED_IAM" in readme
    for command in ("costpipe upsert", "costpipe start", "costpipe wait"):
        for target in ("sagemaker", "stepfunctions"):
            assert f"{command} --target {target}" in readme, (command, target)


@pytest.fixture(scope="module")
def definition(tmp_path_factory) -> dict[str, Any]:
    """The SageMaker definition the CLI builds for bucket my-bucket and pipeline my-pipe."""
    home = tmp_path_factory.mktemp("home")
    command = [
        sys.executable,
        "-c",
        "import sys; from pipeline.cli import main; sys.exit(main(sys.argv[1:]))",
        "definition",
        "--bucket",
        "my-bucket",
        "--pipeline-name",
        "my-pipe",
        "--role-arn",
        "arn:aws:iam::123456789012:role/my-pipe-sagemaker-us-east-1",
    ]
    env = {**os.environ, "COSTPIPE_HOME": str(home), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(command, capture_output=True, text=True, cwd=home, env=env, timeout=300)
    assert result.returncode == 0, _fail_output("costpipe definition", result)
    return json.loads(result.stdout)


def _step_types(steps: list[dict[str, Any]]) -> Iterator[str]:
    for step in steps:
        yield step["Type"]
        arguments = step.get("Arguments", {})
        yield from _step_types(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))


def test_the_definition_stays_inside_what_the_roles_allow(definition):
    text = json.dumps(definition)
    uris = set(re.findall(r"s3://[^\"\s]+", text))
    assert uris
    for uri in uris:
        # SageMaker role: ${ArtifactBucket.Arn}/${PipelineName}/*
        assert uri.startswith("s3://my-bucket/my-pipe/"), uri
    prefixes = ("code/", "data/", "executions")
    for uri in uris:
        assert uri.removeprefix("s3://my-bucket/my-pipe/").startswith(prefixes), uri
    template = load_template(STACK)
    ci_uploads = {r for s in role_statements(template, "CiRole") for r in resources_of(s)}
    assert "${ArtifactBucket.Arn}/${PipelineName}/code/*" in ci_uploads
    assert "${ArtifactBucket.Arn}/${PipelineName}/data/*" in ci_uploads

    needs = {
        "Processing": "sagemaker:CreateProcessingJob",
        "Training": "sagemaker:CreateTrainingJob",
        "RegisterModel": "sagemaker:CreateModelPackage",
    }
    granted = {
        action
        for statement in role_statements(template, "SageMakerExecutionRole")
        for action in actions_of(statement)
    }
    types = set(_step_types(definition["Steps"]))
    assert types <= {*needs, "Condition", "Fail"}, types
    for step_type in types & set(needs):
        assert needs[step_type] in granted, step_type


# --- CI -----------------------------------------------------------------------------------------
def test_pull_requests_run_the_same_checks_as_ci_run():
    workflow = load_workflow()
    assert "pull_request" in workflow["on"]
    assert workflow["on"]["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read"}
    test = workflow["jobs"]["test"]
    assert "if" not in test, "the test job must run on pull requests"
    # The workflow runs .ci/run itself, so the two cannot drift apart.
    assert run_commands(test["steps"]) == ["bash .ci/run"]
    expected = ci_run_commands()
    assert any("ruff format --check" in c for c in expected)
    assert 'bash -c "$test_command"' in CI_RUN.read_text()
    python = [s for s in test["steps"] if "setup-python" in s.get("uses", "")]
    # The project's Python is set up last (it is python3 on the PATH); the container's before.
    assert [str(s["with"]["python-version"]) for s in python] == ["3.10", "3.11"]
    (ci_step,) = [s for s in test["steps"] if s.get("run")]
    assert (
        ci_step["env"]["COSTPIPE_PYTHON310"] == "${{ steps.container-python.outputs.python-path }}"
    )


def test_main_assumes_the_role_through_oidc_then_upserts_starts_and_waits():
    workflow = load_workflow()
    job = workflow["jobs"]["pipeline"]
    assert "refs/heads/main" in job["if"] and "push" in job["if"]
    assert job["needs"] == "test"
    assert job["permissions"] == {"id-token": "write", "contents": "read"}
    assert job["concurrency"]["group"] and job["concurrency"]["cancel-in-progress"] is False
    steps = job["steps"]
    (login,) = [
        i
        for i, s in enumerate(steps)
        if "aws-actions/configure-aws-credentials" in s.get("uses", "")
    ]
    assert steps[login]["with"]["role-to-assume"].replace(" ", "").startswith("${{vars.")
    assert "aws-access-key-id" not in steps[login]["with"]
    per_step = [costpipe_sequence(run_commands([step])) for step in steps]
    first = {
        name: next(i for i, names in enumerate(per_step) if name in names)
        for name in ("upsert", "start", "wait")
    }
    assert login < first["upsert"] < first["start"] < first["wait"], first
    assert costpipe_sequence(run_commands(steps)) == ["upsert", "start", "wait"]
    commands = run_commands(steps)
    assert any("costpipe upsert --target sagemaker" in c for c in commands)
    assert any("--json" in c for c in commands if "costpipe start" in c)
    wait = next(c for c in commands if "costpipe wait" in c)
    assert "--execution-arn" in wait and "--timeout" in wait


def test_every_action_is_pinned_to_a_commit():
    for name, job in load_workflow()["jobs"].items():
        for step in job["steps"]:
            if "uses" in step:
                assert SHA_PINNED.match(step["uses"]), f"{name}: pin {step['uses']} to a SHA"


def test_buildspec_installs_then_upserts_starts_and_waits():
    buildspec = yaml.safe_load(BUILDSPEC.read_text())
    assert str(buildspec["version"]) == "0.2"
    phases = buildspec["phases"]
    assert any("pip install" in c for c in phases["install"]["commands"])
    commands = [
        line.strip()
        for phase in ("install", "pre_build", "build", "post_build")
        for command in phases.get(phase, {}).get("commands", [])
        for line in command.splitlines()
    ]
    assert costpipe_sequence(commands) == ["upsert", "start", "wait"]
    for command in commands:
        if COSTPIPE_COMMAND.search(command):
            assert "--target" in command, command
    text = BUILDSPEC.read_text()
    for variable in ("COSTPIPE_ROLE_ARN", "COSTPIPE_BUCKET", "COSTPIPE_PIPELINE_NAME"):
        assert variable in text, variable


def test_ci_installs_the_tools_these_tests_need():
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(requirement.startswith("cfn-lint") for requirement in dev["dev"])
    script = CI_RUN.read_text()
    assert "python3 -m venv .venv-checkov" in script
    assert f"-r {CHECKOV_REQUIREMENTS.relative_to(ROOT)}" in script
    assert re.search(r"^checkov>=[\d.]+,<\d+$", CHECKOV_REQUIREMENTS.read_text(), re.M)

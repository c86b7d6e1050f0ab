"""The three deploy descriptors agree: the same functions (CloudBase: the mini-program subset), the
same environment names, handlers that exist, sizes valid on every platform, equivalent schedules."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from tests.deploy.helpers import (
    CLOUDBASE_FORBIDDEN,
    CLOUDBASE_REQUIRED,
    DEPLOY,
    ENV_NAMES,
    ROOT,
    ROUTES,
    SECRET_NAMES,
    aws_config,
    cloudbase_config,
    load_yaml,
    present_functions,
    scf_configs,
)

HTTP_TIMEOUT_LIMIT = 29  # API Gateway HTTP API integrations stop at 30 s
SCF_MEMORY = {64, *range(128, 3072 + 1, 128)}
CLOUDBASE_MEMORY = {128, 256, 512, 1024, 2048}


def _aws_functions() -> dict[str, dict[str, Any]]:
    return aws_config()["functions"]


def _cloudbase_functions() -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in cloudbase_config()["functions"]}


def _aws_size(function: str) -> tuple[int, int]:
    provider, spec = aws_config()["provider"], _aws_functions()[function]
    return int(spec.get("memorySize", provider["memorySize"])), int(spec.get("timeout", provider["timeout"]))


def test_every_handler_is_deployed_and_every_deployment_has_a_handler() -> None:
    present = set(present_functions())
    assert set(_aws_functions()) == present, "serverless.yml functions vs functions/<name>/handler.py"
    assert set(scf_configs()) == present, "deploy/scf/<name>/ vs functions/<name>/handler.py"
    cloudbase = set(_cloudbase_functions())
    assert cloudbase <= present
    assert cloudbase >= present & set(CLOUDBASE_REQUIRED)
    assert not cloudbase & set(CLOUDBASE_FORBIDDEN), (
        "every CloudBase function is callable by any mini-program user"
    )


def test_handler_modules_exist_and_export_both_names() -> None:
    for function in present_functions():
        source = ROOT / "functions" / function / "handler.py"
        names = {
            t.id
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
            if isinstance(node, ast.Assign)
            for t in node.targets
            if isinstance(t, ast.Name)
        }
        names |= {
            n.name
            for n in ast.parse(source.read_text(encoding="utf-8")).body
            if isinstance(n, ast.FunctionDef)
        }
        assert {"handler", "main_handler"} <= names, function
    for function, spec in _aws_functions().items():
        assert spec["handler"] == f"functions/{function}/handler.handler"
        assert spec["package"]["artifact"] == f"build/aws/{function}.zip"
    for function, config in scf_configs().items():
        assert config["component"] == "scf"
        assert config["name"] == function
        inputs = config["inputs"]
        assert inputs["handler"] == "handler.main_handler"  # handler.py at the zip root
        assert inputs["runtime"] == "Python3.10"
        assert inputs["src"] == f"../../../build/scf/{function}"
        assert (DEPLOY / "scf" / function / inputs["src"]).resolve() == ROOT / "build" / "scf" / function
    cloudbase = cloudbase_config()
    assert (DEPLOY / "cloudbase" / cloudbase["functionRoot"]).resolve() == ROOT / "build" / "cloudbase"
    for spec in cloudbase["functions"]:
        assert spec["handler"] == "handler.main_handler"
        assert spec["runtime"] == "Python3.10"
        assert spec["installDependency"] is False  # dependencies are vendored by scripts/build.py
    assert aws_config()["provider"]["runtime"] == "python3.12"


def test_the_same_environment_names_everywhere() -> None:
    assert set(load_yaml(DEPLOY / "aws" / "env.cloud.yml")) == ENV_NAMES
    assert set(load_yaml(DEPLOY / "aws" / "env.local.yml")) == ENV_NAMES
    assert aws_config()["provider"]["environment"] == "${file(./deploy/aws/env.${param:envProfile}.yml)}"
    for function, config in scf_configs().items():
        assert set(config["inputs"]["environment"]["variables"]) == ENV_NAMES, function
    for function, spec in _cloudbase_functions().items():
        assert set(spec["envVariables"]) == ENV_NAMES, function


def test_values_are_references_never_literal_secrets() -> None:
    cloud = load_yaml(DEPLOY / "aws" / "env.cloud.yml")
    local = load_yaml(DEPLOY / "aws" / "env.local.yml")
    # store=dynamodb names the stack's own table; every other store reads the URL from the secret
    store_url = cloud["SMS_STORE_URL"]["Fn::If"]
    assert store_url[0] == "StoreIsDynamoDb"
    assert "SmsStoreTable" in str(store_url[1])
    for name in SECRET_NAMES:
        assert re.fullmatch(
            r"\{\{resolve:secretsmanager:\$\{param:secretName\}:SecretString:"
            + name
            + r":\$\{param:secretVersionStage\}\}\}",
            store_url[2] if name == "SMS_STORE_URL" else cloud[name],
        ), name
    literal = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    for name in ENV_NAMES - literal:
        assert str(local[name]).startswith("${env:" + name), name
        if name not in SECRET_NAMES | {"SMS_DEAD_LETTER_URL", "SMS_FANOUT_QUEUE_URL"}:  # queues of the stack
            assert str(cloud[name]).startswith("${env:" + name), name
    for config in scf_configs().values():
        for name, value in config["inputs"]["environment"]["variables"].items():
            assert name in literal or value == "${env:" + name + "}", name
    for spec in _cloudbase_functions().values():
        for name, value in spec["envVariables"].items():
            assert name in literal or value == "{{env." + name + "}}", name


def test_env_examples_list_every_setting() -> None:
    """deploy/scf/.env.example and deploy/cloudbase/.env.example: a line per non-literal name."""
    literal = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}
    for example in (DEPLOY / "scf" / ".env.example", DEPLOY / "cloudbase" / ".env.example"):
        lines = example.read_text(encoding="utf-8").splitlines()
        names = {line.split("=", 1)[0] for line in lines if "=" in line and not line.startswith("#")}
        assert ENV_NAMES - literal <= names, example
        secrets = [line for line in lines if line.split("=", 1)[0] in SECRET_NAMES and line.split("=", 1)[1]]
        assert secrets == [], f"{example} must not carry values for secrets"


def test_memory_and_timeouts_fit_every_platform_and_agree() -> None:
    cloudbase = _cloudbase_functions()
    for function in present_functions():
        memory, timeout = _aws_size(function)
        assert 128 <= memory <= 10240, function
        assert memory in SCF_MEMORY, function
        assert 1 <= timeout <= HTTP_TIMEOUT_LIMIT, function
        inputs = scf_configs()[function]["inputs"]
        assert (inputs["memorySize"], inputs["timeout"]) == (memory, timeout), function
        if function in cloudbase:
            spec = cloudbase[function]
            assert spec["memorySize"] in CLOUDBASE_MEMORY
            assert 1 <= spec["timeout"] <= 60
            assert (spec["memorySize"], spec["timeout"]) == (memory, timeout), function


def _aws_minutes(expression: str) -> int:
    """Minutes between runs of `rate(N minutes)` or a 6-field `cron(0/N * * * ? *)`."""
    rate = re.fullmatch(r"rate\((\d+) minutes?\)", expression)
    if rate:
        return int(rate.group(1))
    cron = re.fullmatch(r"cron\((\S+) (\S+) (\S+) (\S+) (\S+) (\S+)\)", expression)
    assert cron, f"not an AWS schedule expression: {expression}"
    minute, hour, day, month, weekday, year = cron.groups()
    assert (hour, day, month, year) == ("*", "*", "*", "*")
    assert "?" in (day, weekday)
    step = re.fullmatch(r"(?:0|\*)/(\d+)", minute)
    assert step, expression
    return int(step.group(1))


def _tencent_minutes(expression: str) -> int:
    """Minutes between runs of a 7-field Tencent cron `0 */N * * * * *`."""
    fields = expression.split()
    assert len(fields) == 7, f"Tencent crons have 7 fields (sec min hour day month week year): {expression}"
    second, minute, *rest = fields
    step = re.fullmatch(r"(?:0|\*)/(\d+)", minute)
    assert second == "0", expression
    assert step, expression
    assert rest == ["*"] * 5, expression
    return int(step.group(1))


@pytest.mark.parametrize(
    ("expression", "minutes"), [("rate(5 minutes)", 5), ("cron(0/5 * * * ? *)", 5), ("rate(1 minute)", 1)]
)
def test_aws_schedule_parser(expression: str, minutes: int) -> None:
    assert _aws_minutes(expression) == minutes


def test_schedules_are_equivalent() -> None:
    aws = [e["schedule"] for e in _aws_functions()["pull_status"]["events"] if "schedule" in e]
    assert len(aws) == 1
    aws_input = aws[0].get("input", {})
    (scf,) = [
        e["timer"]["parameters"] for e in scf_configs()["pull_status"]["inputs"]["events"] if "timer" in e
    ]
    (cloudbase,) = _cloudbase_functions()["pull_status"]["triggers"]
    assert _aws_minutes(aws[0]["rate"]) == _tencent_minutes(scf["cronExpression"]) == 5
    assert cloudbase["type"] == "timer"
    assert _tencent_minutes(cloudbase["config"]) == 5
    assert json.loads(scf["argument"]) == aws_input
    assert "kind" not in aws_input, "no kind: the scheduled pull drains receipts and replies"
    for function, spec in _aws_functions().items():  # the only scheduled function
        assert function == "pull_status" or not any("schedule" in e for e in spec["events"])


def test_http_triggers_match_the_routes() -> None:
    """AWS: exactly the declared routes (shared.routes), each on its function; SCF: a function URL
    (never the retired apigw) for exactly the functions with routes; CloudBase: only functions that
    exist, and every one the mini-program needs."""
    routes = {
        f"{e['httpApi']['method'].upper()} {e['httpApi']['path']}": function
        for function, spec in _aws_functions().items()
        for e in spec["events"]
        if "httpApi" in e
    }
    assert routes == {k: v for k, v in ROUTES.items() if v in present_functions()}
    with_routes = {v for v in ROUTES.values() if v in present_functions()}
    assert set(scf_configs()) == set(present_functions())
    for function, config in scf_configs().items():
        kinds = [next(iter(e)) for e in config["inputs"]["events"]]
        assert "apigw" not in kinds
        assert kinds.count("http") == (function in with_routes), function  # one function URL each
        for event in config["inputs"]["events"]:
            if "http" in event:
                assert event["http"]["parameters"]["netConfig"]["enableExtranet"] is True
    cloudbase = set(_cloudbase_functions())
    assert cloudbase <= set(present_functions())
    assert set(CLOUDBASE_REQUIRED) & set(present_functions()) <= cloudbase & with_routes


def test_sqs_batch_has_partial_failures_and_no_credentials_are_needed_to_package() -> None:
    (sqs,) = [e["sqs"] for e in _aws_functions()["send_multi"]["events"] if "sqs" in e]
    assert sqs["functionResponseType"] == "ReportBatchItemFailures"
    text = (ROOT / "serverless.yml").read_text(encoding="utf-8")
    text += "".join(p.read_text(encoding="utf-8") for p in (DEPLOY / "aws").glob("*.yml"))
    text = re.sub(r"(?m)(^|\s)#.*$", "", text)  # comments may name what is not used
    assert not re.search(r"\$\{(aws|ssm|cf|s3):", text), "packaging must resolve nothing from AWS"

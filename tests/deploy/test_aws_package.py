"""`osls package` of serverless.yml, offline and without credentials: what the CloudFormation says."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from local.emulator.catalogue import DEFAULT_APPKEY, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY
from scripts import build as build_script
from tests.conftest import API_KEY, CALLBACK_TOKEN
from tests.deploy.conftest import PLANTED_SECRETS, PLANTED_SETTINGS, Built, Packaged, osls_package
from tests.deploy.helpers import (
    DEPLOY,
    ENV_NAMES,
    ROUTES,
    SECRET_NAMES,
    SECRET_PATTERNS,
    load_yaml,
    present_functions,
)

pytestmark = pytest.mark.slow

TABLE_ARNS = [
    {"Fn::GetAtt": ["SmsStoreTable", "Arn"]},
    {"Fn::Join": ["", [{"Fn::GetAtt": ["SmsStoreTable", "Arn"]}, "/index/gsi1"]]},
]
# What each function's store calls need on DynamoDB (see deploy/aws/dynamodb-access.yml), stated
# here on its own so that a change to the mapping file shows up as a failing test.
READS = {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
SENDS = READS | {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}
STORE_ACTIONS = {
    "send_single": SENDS | {"dynamodb:DeleteItem"},  # + releasing an idempotency key
    "send_multi": SENDS | {"dynamodb:DeleteItem"},
    "otp": SENDS | {"dynamodb:Query"},  # + codes by phone and purpose (gsi1)
    "pull_status": READS
    | {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem"}
    | {"dynamodb:Query"},  # receipts, reconciliation (gsi1), purging orphan receipts (no Scan)
    "status_callback": READS | {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"},
}


def _evaluate(template: dict[str, Any], node: Any) -> Any:
    """`node` as CloudFormation would see it: Fn::If decided by the template's Conditions
    (Fn::Equals of two literals, all osls writes here) and AWS::NoValue dropped."""
    conditions = template.get("Conditions", {})

    def holds(name: str) -> bool:
        left, right = conditions[name]["Fn::Equals"]
        return bool(left == right)

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"Fn::If"}:
                name, yes, no = value["Fn::If"]
                return walk(yes if holds(name) else no)
            return {k: walk(v) for k, v in value.items() if walk(v) != _NO_VALUE}
        if isinstance(value, list):
            return [walk(v) for v in value if walk(v) != _NO_VALUE]
        return value

    return walk(node)


_NO_VALUE = {"Ref": "AWS::NoValue"}


def _resources(packaged: Packaged, kind: str) -> dict[str, dict[str, Any]]:
    """The resources of `kind` CloudFormation would create, their conditions evaluated."""
    template = packaged.template
    conditions = template.get("Conditions", {})
    created = {
        k: v
        for k, v in template["Resources"].items()
        if "Condition" not in v or _evaluate(template, {"Fn::If": [v["Condition"], True, False]})
    }
    assert all(not v.get("Condition") or v["Condition"] in conditions for v in created.values())
    return {k: _evaluate(template, v) for k, v in created.items() if v["Type"] == kind}


def _function_of(packaged: Packaged, target: Any) -> str:
    """The function key (`send_single`) behind a `{"Fn::GetAtt": [<Logical>, "Arn"]}` or a name."""
    logical = target["Fn::GetAtt"][0] if isinstance(target, dict) else target
    props = packaged.template["Resources"][logical]["Properties"]
    return str(props["FunctionName"]).rsplit("-", 1)[1]


def _lambdas(packaged: Packaged) -> dict[str, dict[str, Any]]:
    """Lambda properties by function key."""
    return {
        str(v["Properties"]["FunctionName"]).rsplit("-", 1)[1]: v["Properties"]
        for v in _resources(packaged, "AWS::Lambda::Function").values()
    }


def test_every_function_runs_python312_with_its_path_style_handler(packaged: Packaged) -> None:
    lambdas = _lambdas(packaged)
    assert sorted(lambdas) == sorted(present_functions())
    for function, props in lambdas.items():
        assert props["Runtime"] == "python3.12"
        assert props["Handler"] == f"functions/{function}/handler.handler"
        assert props["FunctionName"] == f"sms-functions-prod-{function}"
        assert props["Code"]["S3Key"].endswith(f"/{function}.zip")


def test_http_api_routes_are_exactly_the_design(packaged: Packaged) -> None:
    routes = {
        r["Properties"]["RouteKey"]: r for r in _resources(packaged, "AWS::ApiGatewayV2::Route").values()
    }
    expected = {key for key, function in ROUTES.items() if function in present_functions()}
    assert set(routes) == expected
    integrations = _resources(packaged, "AWS::ApiGatewayV2::Integration")
    for key, route in routes.items():
        integration = integrations[route["Properties"]["Target"]["Fn::Join"][1][1]["Ref"]]
        assert _function_of(packaged, integration["Properties"]["IntegrationUri"]) == ROUTES[key]
        assert integration["Properties"]["PayloadFormatVersion"] == "2.0"


def test_pull_status_is_scheduled_every_5_minutes_for_both_kinds(packaged: Packaged) -> None:
    rules = list(_resources(packaged, "AWS::Events::Rule").values())
    assert len(rules) == 1
    props = rules[0]["Properties"]
    assert props["ScheduleExpression"] == "rate(5 minutes)"
    assert props["State"] == "ENABLED"
    (target,) = props["Targets"]
    assert _function_of(packaged, target["Arn"]) == "pull_status"
    assert json.loads(target["Input"]) == {"max": 100}  # no "kind": receipts and replies


def test_send_multi_consumes_the_batch_queue_with_partial_failures(packaged: Packaged) -> None:
    (mapping,) = _resources(packaged, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": ["SmsBatchQueue", "Arn"]}
    assert _function_of(packaged, props["FunctionName"]) == "send_multi"
    queues = _resources(packaged, "AWS::SQS::Queue")
    redrive = queues["SmsBatchQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["SmsBatchDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] >= 1
    timeout = _lambdas(packaged)["send_multi"]["Timeout"]
    assert queues["SmsBatchQueue"]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_environment_names_and_secret_references(packaged: Packaged) -> None:
    for function, props in _lambdas(packaged).items():
        variables = props["Environment"]["Variables"]
        assert set(variables) == ENV_NAMES, function
        # store=dynamodb (the default): the stack's table in the stack's region, not the secret
        assert variables["SMS_STORE_URL"] == {
            "Fn::Join": ["", ["dynamodb://", {"Ref": "SmsStoreTable"}, "?region=", {"Ref": "AWS::Region"}]]
        }
        for name in SECRET_NAMES - {"SMS_STORE_URL"}:
            assert (
                variables[name]
                == f"{{{{resolve:secretsmanager:sms-functions/prod:SecretString:{name}:AWSCURRENT}}}}"
            )
        assert variables["SMS_DEAD_LETTER_URL"] == {"Ref": "SmsDeadLetterQueue"}
        assert variables["SMS_FANOUT_QUEUE_URL"] == {"Ref": "SmsBatchQueue"}
        for name, value in PLANTED_SETTINGS.items():  # non-secret settings come from the shell
            assert variables[name] == value


def test_each_function_has_its_own_least_privilege_role(packaged: Packaged) -> None:
    roles = _resources(packaged, "AWS::IAM::Role")
    assert "IamRoleLambdaExecution" not in roles, "no shared role: one role per function"
    allowed: dict[str, set[tuple[str, str]]] = {}
    for function, props in _lambdas(packaged).items():
        role = roles[props["Role"]["Fn::GetAtt"][0]]
        statements = [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        grants: set[tuple[str, str]] = set()
        for statement in statements:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource in resources:
                assert resource != "*", statement
                assert "*" not in json.dumps(resource).replace(":*", ""), statement
            assert not any("*" in action for action in actions), statement
            grants |= {(action, json.dumps(resource)) for action in actions for resource in resources}
        allowed[function] = grants
    log_actions = {"logs:CreateLogStream", "logs:PutLogEvents"}
    for function, grants in allowed.items():
        assert {a for a, _ in grants} >= log_actions
        extra = {(a, r) for a, r in grants if a not in log_actions}
        queue = lambda name: json.dumps({"Fn::GetAtt": [name, "Arn"]})  # noqa: E731
        extra -= {(a, r) for a in STORE_ACTIONS[function] for r in map(json.dumps, TABLE_ARNS)}
        if function == "send_multi":
            assert extra == {
                ("sqs:SendMessage", queue("SmsBatchQueue")),
                ("sqs:ReceiveMessage", queue("SmsBatchQueue")),
                ("sqs:DeleteMessage", queue("SmsBatchQueue")),
                ("sqs:GetQueueAttributes", queue("SmsBatchQueue")),
            }
        elif function in ("pull_status", "status_callback"):
            assert extra == {("sqs:SendMessage", queue("SmsDeadLetterQueue"))}
        else:
            assert extra == set(), function
        # exactly the store actions, each on the table and its index, nothing more
        table_grants = {a for a, r in grants if a.startswith("dynamodb:")}
        assert table_grants == STORE_ACTIONS[function], function
        for resource in map(json.dumps, TABLE_ARNS):
            assert {a for a, r in grants if r == resource} == STORE_ACTIONS[function], function
        assert "dynamodb:CreateTable" not in table_grants
        assert "dynamodb:Scan" not in table_grants


def test_logs_are_kept_for_a_bounded_time(packaged: Packaged) -> None:
    groups = _resources(packaged, "AWS::Logs::LogGroup")
    assert len(groups) == len(present_functions())
    assert {g["Properties"]["RetentionInDays"] for g in groups.values()} == {30}


def _forbidden_values() -> list[bytes]:
    values = [
        DEFAULT_APPKEY,
        DEFAULT_SECRET_KEY,
        DEFAULT_SECRET_ID,
        API_KEY,
        CALLBACK_TOKEN,
        *PLANTED_SECRETS.values(),
    ]
    return [v.encode("utf-8") for v in values]


def _assert_clean(blob: bytes, where: str) -> None:
    for value in _forbidden_values():
        assert value not in blob, f"a secret value is in {where}"
    for pattern in SECRET_PATTERNS:
        found = pattern.search(blob)
        assert found is None, f"{where} holds something that looks like a secret: {found.group(0)[:12]!r}…"


def test_no_secret_value_in_the_packaged_service(packaged: Packaged) -> None:
    for path in packaged.folder.iterdir():
        if path.is_file():
            _assert_clean(path.read_bytes(), path.name)


@pytest.mark.parametrize("cloud", build_script.CLOUDS)
def test_no_secret_value_in_any_zip(built: Built, cloud: str) -> None:
    for function in built.functions:
        with zipfile.ZipFile(built.zip(cloud, function)) as archive:
            for info in archive.infolist():
                _assert_clean(archive.read(info), f"{cloud}/{function}.zip:{info.filename}")


def test_the_postgresql_layer_is_attached_only_when_asked_for(
    packaged: Packaged, node_tools: Path, tmp_path: Path
) -> None:
    """The default (DynamoDB) deployment has no layer; `store=postgres` puts the published driver
    layer on every function."""
    assert all(not props.get("Layers") for props in _lambdas(packaged).values())
    arn = "arn:aws:lambda:ap-southeast-1:123456789012:layer:sms-functions-postgres:3"
    with_layer = osls_package(node_tools, tmp_path / "pg", "store=postgres", f"postgresLayerArn={arn}")
    lambdas = _lambdas(with_layer)
    assert set(lambdas) == set(_lambdas(packaged))
    assert all(p["Layers"] == [arn] for p in lambdas.values())


def test_the_store_table_is_on_demand_expiring_recoverable_encrypted_and_retained(packaged: Packaged) -> None:
    (name,) = _resources(packaged, "AWS::DynamoDB::Table")
    table = packaged.template["Resources"][name]
    assert name == "SmsStoreTable"
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"
    props = table["Properties"]
    assert props["TableName"] == "sms-functions-prod-store"
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in props
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert props["KeySchema"] == [
        {"AttributeName": "pk", "KeyType": "HASH"},
        {"AttributeName": "sk", "KeyType": "RANGE"},
    ]
    (index,) = props["GlobalSecondaryIndexes"]
    assert index == {
        "IndexName": "gsi1",
        "KeySchema": [
            {"AttributeName": "gsi1pk", "KeyType": "HASH"},
            {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
    assert types == {"pk": "S", "sk": "S", "gsi1pk": "S", "gsi1sk": "S"}
    # every function's URL names this table in the stack's region, and never asks to create it
    for props in _lambdas(packaged).values():
        url = props["Environment"]["Variables"]["SMS_STORE_URL"]
        assert {"Ref": name} in url["Fn::Join"][1]
        assert "create" not in json.dumps(url)


def test_the_dynamodb_access_file_is_the_union_of_its_methods() -> None:
    """deploy/aws/dynamodb-access.yml: each role's list is exactly what its store methods need."""
    access = load_yaml(DEPLOY / "aws" / "dynamodb-access.yml")
    assert set(access["functions"]) == set(access["roles"]) == set(STORE_ACTIONS)
    for function, methods in access["functions"].items():
        union = {f"dynamodb:{action}" for method in methods for action in access["methods"][method]}
        assert sorted(union) == access["roles"][function], function
        assert union == STORE_ACTIONS[function], function


def test_the_aws_zips_carry_no_boto3(built: Built) -> None:
    """boto3/botocore are in the Lambda runtime: shipping them would only grow the cold start."""
    for function in built.functions:
        with zipfile.ZipFile(built.zip("aws", function)) as archive:
            tops = {name.split("/", 1)[0].lower() for name in archive.namelist()}
        assert not {t for t in tops if t.startswith(("boto3", "botocore", "s3transfer"))}, function


@pytest.mark.usefixtures("packaged")
@pytest.mark.parametrize("store", ["postgres", "sqlite"])
def test_other_stores_get_no_table_and_no_table_rights(node_tools: Path, tmp_path: Path, store: str) -> None:
    """store=postgres/sqlite: no table is created, no role may touch one, the URL is the secret's."""
    params = [f"store={store}"]
    if store == "postgres":
        params.append("postgresLayerArn=arn:aws:lambda:ap-southeast-1:123456789012:layer:pg:1")
    other = osls_package(node_tools, tmp_path / store, *params)
    assert _resources(other, "AWS::DynamoDB::Table") == {}
    assert "dynamodb:" not in json.dumps(_resources(other, "AWS::IAM::Role"))
    for props in _lambdas(other).values():
        variables = _evaluate(other.template, props["Environment"]["Variables"])
        assert variables["SMS_STORE_URL"] == (
            "{{resolve:secretsmanager:sms-functions/prod:SecretString:SMS_STORE_URL:AWSCURRENT}}"
        )

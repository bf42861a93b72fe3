"""Conformance of the host Lambda executor, through the public Lambda API of a running LocalStack.

Each test names the Lambda behaviour it shows. Functions are real zip archives created with
CreateFunction; nothing here talks to the executor directly.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import textwrap
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fraudops import localstack

ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def make_zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, source in files.items():
            zf.writestr(name, textwrap.dedent(source))
    return buf.getvalue()


@pytest.fixture(scope="module")
def lam(aws: Callable[..., Any]) -> Any:
    from botocore.config import Config

    return aws("lambda", config=Config(read_timeout=120, retries={"max_attempts": 0}))


@pytest.fixture(scope="module")
def logs(aws: Callable[..., Any]) -> Any:
    return aws("logs")


@pytest.fixture
def function(lam: Any) -> Iterator[Callable[..., str]]:
    """Create functions from source; delete them after the test."""
    created: list[str] = []

    def create(source: str | dict[str, str], handler: str = "app.handler", **kwargs: Any) -> str:
        name = f"conf-{uuid.uuid4().hex[:10]}"
        files = {"app.py": source} if isinstance(source, str) else source
        lam.create_function(
            FunctionName=name,
            Runtime=kwargs.pop("Runtime", "python3.12"),
            Role=ROLE,
            Handler=handler,
            Code={"ZipFile": make_zip(files)},
            Timeout=kwargs.pop("Timeout", 10),
            **kwargs,
        )
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        created.append(name)
        return name

    yield create
    for name in created:
        with contextlib.suppress(ClientError):
            lam.delete_function(FunctionName=name)


def invoke(lam: Any, name: str, event: Any = None) -> tuple[dict[str, Any], Any, str]:
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), LogType="Tail")
    body = json.loads(resp["Payload"].read() or b"null")
    tail = base64.b64decode(resp.get("LogResult", "")).decode()
    return resp, body, tail


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] != "Z"


def wait_until(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# --- isolation and the environment -----------------------------------------------------------


def test_function_sees_only_its_code_layers_and_the_runtime_sdk(lam: Any, function: Any) -> None:
    # Given a function that reports what it can import
    name = function(
        """
        import importlib.util, sys
        def handler(event, context):
            import boto3
            return {
                "path": sys.path,
                "boto3": boto3.__version__,
                "visible": {m: importlib.util.find_spec(m) is not None
                            for m in ("localstack", "moto", "plux", "werkzeug", "requests")},
            }
        """
    )
    # When it is invoked
    resp, body, _ = invoke(lam, name)
    # Then boto3 is there and none of LocalStack's own packages are
    assert "FunctionError" not in resp, body
    assert body["boto3"]
    assert body["visible"] == {m: False for m in body["visible"]}
    assert not any("site-packages" in p and "localstack" in p for p in body["path"])


def test_environment_variables_and_context(lam: Any, function: Any) -> None:
    # Given a function with its own variables, 256 MB and a 7 s timeout
    name = function(
        """
        import os
        def handler(event, context):
            return {
                "env": {k: v for k, v in os.environ.items()
                        if k.startswith(("AWS_LAMBDA_", "MY_", "AWS_REGION", "_HANDLER"))},
                "remaining": context.get_remaining_time_in_millis(),
                "request_id": context.aws_request_id,
                "name": context.function_name,
                "memory": context.memory_limit_in_mb,
                "arn": context.invoked_function_arn,
                "leaked": [k for k in os.environ if k.startswith(("FRAUDOPS_", "GATEWAY_", "LS_"))],
            }
        """,
        MemorySize=256,
        Timeout=7,
        Environment={"Variables": {"MY_SETTING": "42"}},
    )
    # When it is invoked
    _, body, _ = invoke(lam, name)
    # Then it sees Lambda's variables, its own, and a context that counts down from the timeout
    env = body["env"]
    assert env["MY_SETTING"] == "42"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name == body["name"]
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256" == str(body["memory"])
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == "us-east-1"
    assert 5000 < body["remaining"] <= 7000
    assert body["arn"].endswith(f":function:{name}")
    assert len(body["request_id"]) == 36
    assert body["leaked"] == []


# --- timeouts and memory ---------------------------------------------------------------------


def test_timeout_ends_the_environment(lam: Any, function: Any, tmp_path: Path) -> None:
    # Given a handler that records its pid and then never returns, with a 1 s timeout
    pid_file = tmp_path / "pid"
    name = function(
        f"""
        import os, time
        def handler(event, context):
            if event.get("hang"):
                open({str(pid_file)!r}, "w").write(str(os.getpid()))
                while True:
                    time.sleep(0.05)
            return os.getpid()
        """,
        Timeout=1,
    )
    # When it is invoked and hangs
    resp, body, tail = invoke(lam, name, {"hang": True})
    # Then the invoke fails with AWS's timeout message and the process is gone
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in body["errorMessage"]
    assert "Task timed out after 1.00 seconds" in tail
    pid = int(pid_file.read_text())
    wait_until(lambda: not alive(pid), timeout=5)
    # And the next invoke runs in a fresh process (a cold start)
    resp, new_pid, tail = invoke(lam, name)
    assert "FunctionError" not in resp
    assert new_pid != pid
    assert "Init Duration" in tail


def test_memory_size_is_enforced(lam: Any, function: Any) -> None:
    # Given a 128 MB function that touches 400 MB
    name = function(
        """
        def handler(event, context):
            blob = bytearray(400 * 1024 * 1024)
            for i in range(0, len(blob), 4096):
                blob[i] = 1
            return len(blob)
        """,
        MemorySize=128,
    )
    # When it is invoked
    resp, body, tail = invoke(lam, name)
    # Then it fails like an out-of-memory Lambda
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    assert "signal: killed" in body["errorMessage"]
    assert "Max Memory Used" in tail


def test_memory_within_limit_is_fine(lam: Any, function: Any) -> None:
    # Given a 512 MB function that touches 200 MB
    name = function(
        """
        def handler(event, context):
            blob = bytearray(200 * 1024 * 1024)
            for i in range(0, len(blob), 4096):
                blob[i] = 1
            return len(blob)
        """,
        MemorySize=512,
    )
    # When it is invoked, Then it succeeds and reports the memory it used
    resp, body, tail = invoke(lam, name)
    assert "FunctionError" not in resp, body
    used = int(tail.split("Max Memory Used: ")[1].split(" MB")[0])
    assert 200 <= used <= 512


# --- errors, typed as AWS types them --------------------------------------------------------

ERROR_CASES = {
    "unhandled": (
        {"app.py": "def handler(e, c):\n    raise ValueError('bad amount')\n"},
        "app.handler",
        "ValueError",
        "bad amount",
    ),
    "missing_module": (
        {"app.py": "x = 1\n"},
        "missing.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'missing': No module named 'missing'",
    ),
    "missing_handler": (
        {"app.py": "def other(e, c):\n    return 1\n"},
        "app.handler",
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app'",
    ),
    "syntax_error": (
        {"app.py": "def handler(e, c)\n    return 1\n"},
        "app.handler",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app'",
    ),
    "exit": (
        {"app.py": "import sys\ndef handler(e, c):\n    sys.exit(3)\n"},
        "app.handler",
        "Runtime.ExitError",
        "Runtime exited with error: exit status 3",
    ),
    "hard_exit": (
        {"app.py": "import os\ndef handler(e, c):\n    os._exit(0)\n"},
        "app.handler",
        "Runtime.ExitError",
        "Runtime exited with error: exit status 0",
    ),
    "not_json": (
        {"app.py": "def handler(e, c):\n    return {1, 2}\n"},
        "app.handler",
        "Runtime.MarshalError",
        "Unable to marshal response: Object of type set is not JSON serializable",
    ),
    "init_raises": (
        {"app.py": "raise RuntimeError('no config')\ndef handler(e, c):\n    return 1\n"},
        "app.handler",
        "RuntimeError",
        "no config",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_are_typed_as_aws_types_them(lam: Any, function: Any, case: str) -> None:
    files, handler, error_type, message = ERROR_CASES[case]
    # Given a function with this defect
    name = function(files, handler=handler)
    # When it is invoked
    resp, body, _ = invoke(lam, name)
    # Then the invoke answers Unhandled with AWS's error type and message
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type, body
    assert message in body["errorMessage"], body
    if case == "unhandled":
        assert any("raise ValueError" in frame for frame in body["stackTrace"])
    # And LocalStack keeps serving
    assert localstack.health_ok(lam.meta.endpoint_url)


# --- logs -----------------------------------------------------------------------------------


def test_start_end_report_lines_reach_cloudwatch_logs(lam: Any, logs: Any, function: Any) -> None:
    # Given a function that prints
    name = function("def handler(e, c):\n    print('scored', e['n'])\n    return e['n']\n")
    # When it is invoked twice (a cold start, then a warm one)
    for n in (1, 2):
        invoke(lam, name, {"n": n})

    # Then its log group holds START, the output, END and REPORT lines for both
    def messages() -> list[str]:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except ClientError:
            return []
        text = [e["message"] for e in events]
        return text if sum(m.startswith("REPORT") for m in text) >= 2 else []

    text = wait_until(messages)
    reports = [m for m in text if m.startswith("REPORT")]
    assert sum(m.startswith("START RequestId:") for m in text) == 2
    assert sum(m.startswith("END RequestId:") for m in text) == 2
    assert any("scored 1" in m for m in text) and any("scored 2" in m for m in text)
    for field in ("Duration:", "Billed Duration:", "Memory Size: 128 MB", "Max Memory Used:"):
        assert all(field in r for r in reports)
    assert sum("Init Duration:" in r for r in reports) == 1


# --- environments: concurrency, reuse, update, delete ---------------------------------------


def test_environments_concurrency_reuse_update_and_delete(lam: Any, function: Any) -> None:
    # Given a function that takes a moment and returns its process id
    slow = (
        "import os, time\n"
        "def handler(e, c):\n    time.sleep(e.get('s', 0))\n    return os.getpid()\n"
    )
    name = function(slow)
    # When three invocations run at once
    with ThreadPoolExecutor(3) as pool:
        pids = list(pool.map(lambda _: invoke(lam, name, {"s": 1.0})[1], range(3)))
    # Then each ran in its own environment
    assert len(set(pids)) == 3, pids
    # And a later invocation reuses a warm one
    assert invoke(lam, name)[1] in pids
    # When the code is updated
    lam.update_function_code(
        FunctionName=name, ZipFile=make_zip({"app.py": "def handler(e, c):\n    return 'v2'\n"})
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    # Then the old environments are gone and the new code answers
    wait_until(lambda: not any(alive(p) for p in pids))
    assert invoke(lam, name)[1] == "v2"
    new_pid_name = function(slow)
    new_pid = invoke(lam, new_pid_name)[1]
    # When a function is deleted, Then its environments end
    lam.delete_function(FunctionName=new_pid_name)
    wait_until(lambda: not alive(new_pid))


# --- robustness -----------------------------------------------------------------------------


def test_megabytes_of_output_do_not_hurt(lam: Any, function: Any) -> None:
    # Given a function that prints 8 MB
    name = function("def handler(e, c):\n    print('x' * 8_000_000)\n    return 'done'\n")
    # When it is invoked, Then it completes and LocalStack keeps serving
    _resp, body, tail = invoke(lam, name)
    assert body == "done"
    assert "REPORT RequestId" in tail
    assert localstack.health_ok(lam.meta.endpoint_url)


# --- bad input ------------------------------------------------------------------------------


def test_zip_with_path_traversal_is_rejected(lam: Any) -> None:
    # Given an archive with an entry that escapes the code folder
    archive = make_zip({"app.py": "def handler(e, c):\n    return 1\n", "../../evil.py": "x = 1\n"})
    # When it is uploaded, Then CreateFunction refuses it
    with pytest.raises(ClientError) as err:
        lam.create_function(
            FunctionName=f"evil-{uuid.uuid4().hex[:6]}",
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": archive},
        )
    assert err.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "../../evil.py" in err.value.response["Error"]["Message"]


def test_payload_over_6_mb_is_refused(lam: Any, function: Any) -> None:
    # Given a function
    name = function("def handler(e, c):\n    return len(e['blob'])\n")
    # When it is invoked with 6.5 MB, Then the API refuses as AWS does
    with pytest.raises(ClientError) as err:
        lam.invoke(FunctionName=name, Payload=json.dumps({"blob": "x" * 6_500_000}))
    assert err.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    # And a payload just under the limit works
    _resp, body, _ = invoke(lam, name, {"blob": "x" * 6_000_000})
    assert body == 6_000_000


def test_response_over_6_mb_is_an_error(lam: Any, function: Any) -> None:
    name = function("def handler(e, c):\n    return 'x' * 7_000_000\n")
    resp, body, _ = invoke(lam, name)
    assert resp["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"


def test_layers_are_importable_and_cannot_break_the_runtime(lam: Any, function: Any) -> None:
    # Given a layer with a library and a module that shadows the standard library's json
    layer = lam.publish_layer_version(
        LayerName=f"shared-{uuid.uuid4().hex[:6]}",
        Content={
            "ZipFile": make_zip(
                {
                    "python/fraud_rules.py": "THRESHOLD = 0.7\n",
                    "python/json.py": "raise ImportError('shadowed json imported')\n",
                }
            )
        },
        CompatibleRuntimes=["python3.12"],
    )
    name = function(
        """
        import json, fraud_rules
        def handler(event, context):
            return {"threshold": fraud_rules.THRESHOLD, "json": json.__file__}
        """,
        Layers=[layer["LayerVersionArn"]],
    )
    # When it is invoked
    resp, body, _ = invoke(lam, name)
    # Then the layer's library is there, and json is the runtime's (already imported, as on AWS)
    assert "FunctionError" not in resp, body
    assert body["threshold"] == 0.7
    assert "/lib/python3.12/json/" in body["json"]

"""The Lambda runtime inside one host execution environment (standard library only).

Started by the host executor as ``python -I -S -u bootstrap.py``: isolated mode and no ``site``,
so the function sees the standard library, its own code, its layers' ``python/`` folders and the
runtime's SDK folder (boto3), never LocalStack's packages. It speaks LocalStack's init protocol:
it serves ``POST /invoke`` and reports to ``$LOCALSTACK_RUNTIME_ENDPOINT`` (``/status/<id>/ready``,
``/status/<id>/error``, ``/invocations/<id>/response`` and ``/invocations/<id>/error``).

Handler output goes to this process's stdout, which the executor reads; after each invocation a
record-separator line tells the executor where that invocation's output ends.
"""

# The runtime's own imports come first, as in AWS's runtime: a layer that shadows one of these
# standard modules does not break the runtime, and user code gets the already-imported module.
import decimal
import http.server
import importlib
import json
import logging
import os
import queue
import sys
import threading
import time
import traceback
import urllib.request
from typing import Any

MAX_RESPONSE_BYTES = 6 * 1024 * 1024 + 100  # what AWS accepts for a synchronous response
END_MARK = "\x1eFRAUDOPS-END "


def _pop_env(name: str, default: str = "") -> str:
    return os.environ.pop(name, default)


RUNTIME_ENDPOINT = _pop_env("LOCALSTACK_RUNTIME_ENDPOINT")
RUNTIME_ID = _pop_env("LOCALSTACK_RUNTIME_ID")
TASK_ROOT = _pop_env("FRAUDOPS_TASK_ROOT")
LAYER_DIRS = [d for d in _pop_env("FRAUDOPS_LAYER_DIRS").split(os.pathsep) if d]
RUNTIME_DIR = _pop_env("FRAUDOPS_RUNTIME_DIR")
HANDLER = os.environ.get("_HANDLER", "")
PYVER = f"python{sys.version_info.major}.{sys.version_info.minor}"


def _set_sys_path() -> None:
    """Lambda's order: task root, layers (site-packages, then python/), runtime SDK, stdlib."""
    stdlib = [p for p in sys.path[1:] if p]  # sys.path[0] is this runtime's own folder
    paths = [TASK_ROOT]
    for layer in LAYER_DIRS:  # the executor passes the last-applied layer first
        paths += [os.path.join(layer, "python", "lib", PYVER, "site-packages")]
        paths += [os.path.join(layer, "python")]
    if RUNTIME_DIR:
        paths.append(RUNTIME_DIR)
    sys.path[:] = [p for p in paths if p] + stdlib


def _post(path: str, body: bytes, content_type: str = "application/json") -> None:
    request = urllib.request.Request(
        f"{RUNTIME_ENDPOINT}{path}",
        data=body,
        method="POST",
        headers={"Content-Type": content_type},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        resp.read()


def _error_body(exc: BaseException, error_type: str | None = None, request_id: str = "") -> dict:
    # Hide the runtime's own frames, as AWS does.
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(f.filename) != os.path.dirname(__file__)
    ]
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


def _log_error(body: dict) -> None:
    trace = "".join(body.get("stackTrace", []))
    print(f"[ERROR] {body['errorType']}: {body['errorMessage']}", flush=True)
    if trace:
        print("Traceback (most recent call last):\n" + trace, end="", flush=True)


class _Encoder(json.JSONEncoder):
    """Like AWS's runtime: Decimals (DynamoDB numbers) serialise as numbers."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


_REQUEST_ID_FILTER = _RequestIdFilter()


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(_REQUEST_ID_FILTER)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)


class LambdaContext:
    """The context object AWS passes to a Python handler."""

    def __init__(self, request_id: str, function_arn: str, deadline_ms: float) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self._deadline_ms = deadline_ms
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self.tenant_id = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _load_handler() -> Any:
    """Import the handler the way AWS does, with AWS's error types."""
    module_name, _, function_name = HANDLER.rpartition(".")
    if not module_name or not function_name:
        raise _InitError(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{HANDLER}': not enough values to unpack (expected 2, got 1)",
        )
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise _InitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", exc
        ) from exc
    except ImportError as exc:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}", exc
        ) from exc
    handler = getattr(module, function_name, None)
    if handler is None:
        raise _InitError(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    return handler


class _InitError(Exception):
    def __init__(self, error_type: str, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.cause = cause


_INVOCATIONS: "queue.Queue[dict]" = queue.Queue()


class _InvokeHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        if self.path != "/invoke":
            self.send_error(404)
            return
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            self.send_error(400, "invalid invoke body")
            return
        _INVOCATIONS.put(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Silence the per-request access log: stdout belongs to the function's logs."""


def _serve() -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _InvokeHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="init-api", daemon=True).start()
    return int(server.server_address[1])


def _invoke(handler: Any, invocation: dict, timeout_s: float) -> None:
    request_id = invocation["invoke-id"]
    _REQUEST_ID_FILTER.request_id = request_id
    os.environ["_X_AMZN_TRACE_ID"] = invocation.get("trace-id") or ""
    context = LambdaContext(
        request_id,
        invocation.get("invoked-function-arn", ""),
        time.time() * 1000 + timeout_s * 1000,
    )
    path, body = f"/invocations/{request_id}/response", b""
    try:
        event = json.loads(invocation.get("payload") or "null")
        result = handler(event, context)
        try:
            body = json.dumps(result, cls=_Encoder).encode()
        except (TypeError, ValueError) as exc:
            raise _InitError("Runtime.MarshalError", f"Unable to marshal response: {exc}") from exc
        if len(body) > MAX_RESPONSE_BYTES:
            raise _InitError(
                "Function.ResponseSizeTooLarge",
                f"Response payload size ({len(body)} bytes) exceeded maximum allowed payload "
                f"size ({MAX_RESPONSE_BYTES} bytes).",
            )
    except SystemExit as exc:
        # AWS: the runtime process ends and the invoke fails with Runtime.ExitError; the executor
        # sees the exit and reports it.
        sys.stdout.flush()
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        os._exit(code)
    except _InitError as exc:
        error = _error_body(exc, exc.error_type, request_id)
        error["stackTrace"] = []
        _log_error(error)
        path, body = f"/invocations/{request_id}/error", json.dumps(error).encode()
    except Exception as exc:
        error = _error_body(exc, request_id=request_id)
        _log_error(error)
        path, body = f"/invocations/{request_id}/error", json.dumps(error).encode()
    sys.stdout.write(f"{END_MARK}{request_id}\n")
    sys.stdout.flush()
    _post(path, body)


def main() -> None:
    _set_sys_path()
    os.chdir(TASK_ROOT or ".")
    _configure_logging()
    timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
    port = _serve()
    try:
        handler = _load_handler()
    except _InitError as exc:
        error = _error_body(exc.cause or exc, exc.error_type)
        error["errorMessage"] = str(exc)
        if exc.error_type != "Runtime.UserCodeSyntaxError":
            error["stackTrace"] = []
        _log_error(error)
        _post(f"/status/{RUNTIME_ID}/error", json.dumps(error).encode())
        sys.exit(1)
    except Exception as exc:  # an exception raised by the module's own top-level code
        error = _error_body(exc)
        _log_error(error)
        _post(f"/status/{RUNTIME_ID}/error", json.dumps(error).encode())
        sys.exit(1)
    sys.stdout.write(f"{END_MARK}init\n")
    sys.stdout.flush()
    _post(f"/status/{RUNTIME_ID}/ready", json.dumps({"port": port}).encode())
    while True:
        _invoke(handler, _INVOCATIONS.get(), timeout_s)


if __name__ == "__main__":
    main()

"""A LocalStack runtime executor that runs each Lambda execution environment as a host process.

Stock LocalStack runs Lambdas in Docker containers with an init binary downloaded at run time;
neither exists on a Docker-less machine. This executor starts ``runtime/bootstrap.py`` with the
function runtime's own Python interpreter and enforces what the container and the init would:

* isolation: a clean environment (only the variables LocalStack hands over), ``python -I -S``,
  the function's code, its layers and the runtime SDK on ``sys.path``, a private ``TMPDIR``;
* the timeout: past it the process group is killed and the invoke answers
  ``Task timed out after N.00 seconds``;
* MemorySize: the resident set is watched and the environment is killed past it, answered as
  ``Runtime.OutOfMemory``;
* a process that exits or crashes fails that invoke with ``Runtime.ExitError`` and is restarted
  (a cold start) on the next one, as AWS does with a reset sandbox;
* START/END/REPORT log lines with the measured duration, memory and init duration.

Processes die with LocalStack (``PR_SET_PDEATHSIG``), so a killed LocalStack leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from http import HTTPStatus
from pathlib import Path
from typing import Any, cast

import requests
from localstack import config
from localstack.http import Response
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import (
    FunctionVersion,
    InvocationResult,
)
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)
from werkzeug import Request

from fraudops_emulator import emf

LOG = logging.getLogger(__name__)

BOOTSTRAP = Path(__file__).parent / "runtime" / "bootstrap.py"
END_MARK = b"\x1eFRAUDOPS-END "
MAX_LOG_BYTES = 1024 * 1024  # per invocation; the rest is counted, not kept
MEMORY_POLL_S = 0.02
EXIT_GRACE_S = 2.0
_PR_SET_PDEATHSIG = 1


def _runtime_interpreters() -> dict[str, str]:
    """Map ``python3.X`` runtimes to interpreters: FRAUDOPS_PYTHON_RUNTIMES, pyenv, then PATH."""
    found: dict[str, str] = {}
    if override := os.environ.get("FRAUDOPS_PYTHON_RUNTIMES"):
        found.update(json.loads(override))
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for minor in range(9, 20):
        runtime = f"python3.{minor}"
        if runtime in found:
            continue
        candidates = sorted(pyenv.glob(f"3.{minor}.*/bin/{runtime}"), reverse=True)
        if exe := (str(candidates[0]) if candidates else shutil.which(runtime)):
            found[runtime] = exe
    return found


RUNTIME_INTERPRETERS = _runtime_interpreters()


def _die_with_parent() -> None:
    """preexec_fn: own process group, and SIGKILL when LocalStack goes away."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        pass


def _rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB from /proc; (0, 0) when the process is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith(b"VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


# One worker: publishing metrics must never slow down reading a function's output.
_EMF_POOL = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fraudops-emf")


def _publish_emf(line: bytes, account: str, region: str) -> None:
    """What CloudWatch Logs does on AWS: EMF lines become metrics (see emf.py)."""
    try:
        from localstack.aws.connect import connect_to

        cloudwatch = connect_to(aws_access_key_id=account, region_name=region).cloudwatch
        for namespace, data in emf.parse(line).items():
            for start in range(0, len(data), 1000):
                cloudwatch.put_metric_data(
                    Namespace=namespace, MetricData=data[start : start + 1000]
                )
    except Exception as exc:  # metrics are best effort; the function's result is not affected
        LOG.warning("could not publish EMF metrics: %s", exc)


class HostExecutorEndpoint(ExecutorEndpoint):
    """The init protocol's callback side; the ready call also carries the environment's port."""

    def status_ready(self, request: Request, executor_id: str) -> Response:
        try:
            port: Any = (request.get_json(silent=True) or {}).get("port")
            self.container_port = int(port)
        except (TypeError, ValueError):
            LOG.warning("environment %s reported ready without a port", executor_id)
        return super().status_ready(request, executor_id)

    def invocation_response(self, request: Request, req_id: str) -> Response:
        return self._complete(request, req_id, is_error=False)

    def invocation_error(self, request: Request, req_id: str) -> Response:
        return self._complete(request, req_id, is_error=True)

    def _complete(self, request: Request, req_id: str, is_error: bool) -> Response:
        future = self.invocation_future
        if future is not None:
            # timed out or killed first: a late answer is dropped
            with contextlib.suppress(InvalidStateError):
                future.set_result(InvocationResult(req_id, request.data, is_error, logs=None))
        return Response(status=HTTPStatus.ACCEPTED)


class HostRuntimeExecutor(RuntimeExecutor):
    """One execution environment = one host process (restarted after a crash or timeout)."""

    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.endpoint = HostExecutorEndpoint(id, container_address="127.0.0.1", container_port=0)
        self.process: subprocess.Popen[bytes] | None = None
        self.env_vars: dict[str, str] = {}
        self.workdir = Path(config.dirs.tmp) / "lambda-envs" / id
        self._lock = threading.Lock()
        self._output = bytearray()
        self._dropped = 0
        self._marks: dict[str, threading.Event] = {}
        self._init_duration_ms: float | None = None
        self._killed_for: str | None = None
        self._stopped = False
        self._eof = False
        self._reader: threading.Thread | None = None
        self._all_logs = bytearray()  # for get_logs(): the environment's whole output, bounded

    # --- lifecycle ------------------------------------------------------------------------
    def start(self, env_vars: dict[str, str]) -> None:
        self.env_vars = env_vars
        self._spawn()

    def _spawn(self) -> None:
        cfg = self.function_version.config
        interpreter = RUNTIME_INTERPRETERS.get(str(cfg.runtime))
        if not interpreter:
            raise LambdaRuntimeException(f"no host interpreter for runtime {cfg.runtime}")
        task_root = str(cfg.code.get_unzipped_code_location()) if cfg.code else ""
        # Later layers override earlier ones (they are extracted over /opt in order on AWS).
        layers = [str(layer.code.get_unzipped_code_location()) for layer in cfg.layers][::-1]
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {k: str(v) for k, v in self.env_vars.items()}
        env.update(
            {
                "PATH": os.pathsep.join(
                    [str(Path(interpreter).parent), "/usr/local/bin", "/usr/bin", "/bin"]
                    + [f"{layer}/bin" for layer in layers]
                ),
                "LANG": "en_US.UTF-8",
                "TMPDIR": str(tmp),
                "HOME": str(tmp),
                "LAMBDA_TASK_ROOT": task_root,
                "LOCALSTACK_HOSTNAME": "127.0.0.1",
                "AWS_LAMBDA_RUNTIME_API": "127.0.0.1",
                "AWS_EXECUTION_ENV": f"AWS_Lambda_{cfg.runtime}",
                "FRAUDOPS_TASK_ROOT": task_root,
                "FRAUDOPS_LAYER_DIRS": os.pathsep.join(layers),
                "FRAUDOPS_RUNTIME_DIR": os.environ.get("FRAUDOPS_LAMBDA_RUNTIME_DIR", ""),
            }
        )
        if self._reader is not None:  # the previous process's reader must finish first
            self._reader.join(timeout=EXIT_GRACE_S)
        self.endpoint.start()
        self._output.clear()
        self._dropped = 0
        self._killed_for = None
        self._marks = {}
        self._eof = False
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [interpreter, "-I", "-S", "-u", str(BOOTSTRAP)],
            cwd=task_root or str(tmp),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )
        proc = self.process
        self._reader = threading.Thread(target=self._read_output, args=(proc,), daemon=True)
        self._reader.start()
        # the watcher gets this process's startup future: a late watcher of a killed process
        # must never fail the startup (or the invoke) of the process that replaced it
        threading.Thread(
            target=self._watch, args=(proc, self.endpoint.startup_future), daemon=True
        ).start()
        try:
            self.endpoint.wait_for_startup()
        finally:
            with self._lock:
                init_mark = self._mark("init")
            init_mark.wait(EXIT_GRACE_S)
        self._init_duration_ms = (time.perf_counter() - started) * 1000

    def stop(self) -> None:
        self._stopped = True
        self._kill("stopped")
        try:
            self.endpoint.shutdown()
        except Exception as exc:  # already unregistered
            LOG.debug("endpoint shutdown of %s: %s", self.id, exc)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _kill(self, reason: str) -> None:
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        self._killed_for = reason
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            LOG.warning("environment %s (pid %s) did not die after SIGKILL", self.id, proc.pid)

    # --- output and watchdogs -------------------------------------------------------------
    def _read_output(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        pending = b""
        stdout = cast(io.BufferedReader, proc.stdout)
        while chunk := stdout.read1(65536):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                self._add_line(line)
            if len(pending) > MAX_LOG_BYTES:  # a huge line without newline
                self._add_line(pending)
                pending = b""
        if pending:
            self._add_line(pending)
        with self._lock:  # the process is gone: nobody waits for its marks any longer
            self._eof = True
            for event in self._marks.values():
                event.set()

    def _add_line(self, line: bytes) -> None:
        if line.startswith(emf.EMF_PREFIX):
            _EMF_POOL.submit(
                _publish_emf,
                line,
                self.function_version.id.account,
                self.function_version.id.region,
            )
        text, sep, mark = line.partition(END_MARK)
        with self._lock:
            if text or not sep:
                if len(self._output) + len(text) < MAX_LOG_BYTES:
                    self._output += text + b"\n"
                else:
                    self._dropped += len(text) + 1
                if len(self._all_logs) < MAX_LOG_BYTES:
                    self._all_logs += text[:4096] + b"\n"
            if sep:
                self._mark(mark.decode(errors="replace")).set()

    def _mark(self, name: str) -> threading.Event:
        """The event set when the runtime's output for ``name`` is complete (or it ended)."""
        event = self._marks.setdefault(name, threading.Event())
        if self._eof:
            event.set()
        return event

    def _take_output(self) -> str:
        with self._lock:
            text = self._output.decode(errors="replace")
            if self._dropped:
                text += f"[fraudops] {self._dropped} bytes of output not kept (1 MiB limit)\n"
            self._output.clear()
            self._dropped = 0
        return text

    def _watch(self, proc: subprocess.Popen[bytes], startup: Future[Any] | None) -> None:
        """Kill past MemorySize; fail a pending invoke (or the startup) of this process when
        it exits."""
        limit_kb = int(self.function_version.config.memory_size) * 1024
        while proc.poll() is None:
            rss, hwm = _rss_kb(proc.pid)
            if max(rss, hwm) > limit_kb:
                self._kill("oom")
                break
            time.sleep(MEMORY_POLL_S)
        proc.wait()
        future = self.endpoint.invocation_future
        if self.process is proc and future is not None and not future.done():
            with contextlib.suppress(InvalidStateError):
                future.set_exception(_ProcessEnded(proc.returncode))
        if startup is not None and not startup.done():
            with contextlib.suppress(InvalidStateError):
                startup.set_exception(
                    LambdaRuntimeException(f"runtime exited during init ({proc.returncode})")
                )

    # --- invocation -----------------------------------------------------------------------
    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        request_id = payload["invoke-id"]
        cfg = self.function_version.config
        init_logs, init_ms = "", None
        if self.process is None or self.process.poll() is not None:
            # the sandbox was reset by a crash, timeout or OOM: this invoke is a cold start
            try:
                self._spawn()
            except Exception as exc:
                return self._init_failed(request_id, exc)
        if self._init_duration_ms is not None:
            init_ms, self._init_duration_ms = self._init_duration_ms, None
        init_logs = self._take_output()
        proc = self.process
        assert proc is not None
        _, hwm_before = _rss_kb(proc.pid)
        with self._lock:
            done_mark = self._mark(request_id)
        future: Future[Any] = Future()
        self.endpoint.invocation_future = future
        started = time.perf_counter()
        error_line = ""
        try:
            response = requests.post(
                f"http://127.0.0.1:{self.endpoint.container_port}/invoke",
                json=payload,
                proxies={"http": "", "https": ""},
                timeout=10,
            )
            response.raise_for_status()
            result: InvocationResult = future.result(timeout=float(cfg.timeout))
            done_mark.wait(EXIT_GRACE_S)
        except FutureTimeout:
            self._kill("timeout")
            message = f"Task timed out after {float(cfg.timeout):.2f} seconds"
            error_line = f"{_now_iso()} {request_id} {message}\n"
            result = self._error_result(request_id, "Sandbox.Timedout", message)
        except (_ProcessEnded, requests.RequestException) as exc:
            self._wait_exit(proc)
            result = self._exit_result(request_id, proc, exc)
            error_line = f"RequestId: {request_id} {_payload_message(result)}\n"
        duration_ms = (time.perf_counter() - started) * 1000
        _, hwm = _rss_kb(proc.pid)
        hwm = max(hwm, hwm_before)
        if proc.poll() is None and hwm > int(cfg.memory_size) * 1024:
            self._kill("oom")  # the watchdog's poll missed a short spike: AWS would have killed it
            self._wait_exit(proc)
            result = self._exit_result(request_id, proc, _ProcessEnded(-9))
            error_line = f"RequestId: {request_id} {_payload_message(result)}\n"
        result.logs = self._format_logs(
            request_id, init_logs, self._take_output() + error_line, duration_ms, hwm, init_ms
        )
        return result

    def _wait_exit(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            proc.wait(timeout=EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            self._kill("unresponsive")

    def _exit_result(self, request_id: str, proc: subprocess.Popen[bytes], exc: Exception) -> Any:
        code = proc.returncode
        if self._killed_for == "oom":
            return self._error_result(
                request_id,
                "Runtime.OutOfMemory",
                f"RequestId: {request_id} Error: Runtime exited with error: signal: killed",
            )
        if code is None:
            detail = f"runtime did not answer: {exc}"
        elif code < 0:
            detail = f"Runtime exited with error: signal: {signal.Signals(-code).name.lower()[3:]}"
        else:
            detail = f"Runtime exited with error: exit status {code}"
        return self._error_result(
            request_id, "Runtime.ExitError", f"RequestId: {request_id} Error: {detail}"
        )

    @staticmethod
    def _error_result(request_id: str, error_type: str, message: str) -> InvocationResult:
        body = {"errorType": error_type, "errorMessage": message}
        return InvocationResult(request_id, json.dumps(body).encode(), is_error=True, logs=None)

    def _init_failed(self, request_id: str, exc: Exception) -> InvocationResult:
        payload = getattr(exc, "payload", None)
        logs = self._take_output()
        if payload:
            return InvocationResult(request_id, payload, is_error=True, logs=logs)
        result = self._error_result(request_id, "Runtime.Unknown", f"init failed: {exc}")
        result.logs = f"{logs}init failed: {exc}\n"  # LocalStack fails on an invoke without logs
        return result

    def _format_logs(
        self,
        request_id: str,
        init_logs: str,
        body: str,
        duration_ms: float,
        hwm_kb: int,
        init_ms: float | None,
    ) -> str:
        cfg = self.function_version.config
        version = self.function_version.id.qualifier
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
            f"Billed Duration: {int(duration_ms) + 1} ms\tMemory Size: {cfg.memory_size} MB\t"
            f"Max Memory Used: {max(1, round(hwm_kb / 1024))} MB\t"
        )
        if init_ms is not None:
            report += f"Init Duration: {init_ms:.2f} ms\t"
        return (
            f"{init_logs}START RequestId: {request_id} Version: {version}\n{body}"
            f"END RequestId: {request_id}\n{report}\n"
        )

    # --- the rest of RuntimeExecutor ------------------------------------------------------
    def get_address(self) -> str:
        return "127.0.0.1"

    def get_endpoint_from_executor(self) -> str:
        return "127.0.0.1"

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://127.0.0.1:{port}{self.endpoint.get_endpoint_prefix()}"

    def get_logs(self) -> str:
        with self._lock:
            return self._all_logs.decode(errors="replace")

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        cfg = function_version.config
        if not cfg.runtime or str(cfg.runtime) not in RUNTIME_INTERPRETERS:
            supported = ", ".join(sorted(RUNTIME_INTERPRETERS)) or "none found"
            raise LambdaRuntimeException(
                f"runtime {cfg.runtime} is not available on this host (supported: {supported})"
            )
        if cfg.code:
            cfg.code.prepare_for_execution()
        for layer in cfg.layers:
            if layer.code:
                layer.code.prepare_for_execution()

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        """Code caches belong to LocalStack (it deletes them with the version)."""

    @classmethod
    def validate_environment(cls) -> bool:
        if not RUNTIME_INTERPRETERS:
            LOG.warning("fraudops-host executor: no python3.X interpreter found on this host")
            return False
        if not os.environ.get("FRAUDOPS_LAMBDA_RUNTIME_DIR"):
            LOG.warning("FRAUDOPS_LAMBDA_RUNTIME_DIR unset: functions will not find boto3")
        return True


class _ProcessEnded(Exception):
    def __init__(self, returncode: int | None) -> None:
        super().__init__(f"runtime process ended (exit code {returncode})")
        self.returncode = returncode


def _payload_message(result: InvocationResult) -> str:
    try:
        body = json.loads(result.payload)
        return f"{body['errorMessage'].split(' Error: ', 1)[-1]}\n{body['errorType']}"
    except (ValueError, KeyError):
        return ""


def _now_iso() -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())
        + f".{int(time.time() * 1000) % 1000:03d}Z"
    )

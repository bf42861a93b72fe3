"""Fault injection and environment restarts on the deployed stack, for an operator's game day
and the soak run (``benchmarks.soak``).

* ``set_fault(layout, function, on)``: ``FRAUDOPS_INJECT_FAULT`` (``runtime.faults``) set on one
  function to its own folder name, so every invocation of it fails before doing anything, as a
  crash would; ``on=False`` removes it again. The function is named by its stack output
  (``ScoreStreamFunctionName``) or its physical name.
* ``restart_environments(layout, function)``: a configuration change that changes nothing the
  code reads (``FRAUDOPS_RESTARTED_AT=<UTC time>``). AWS and LocalStack start new execution
  environments for the invocations after it: the warm ones are retired, as after a deploy.

Both merge into the function's current variables (UpdateFunctionConfiguration replaces the
whole map) and wait until the update is active (waiter ``function_updated_v2``).

    python -m fraudops.faults on ScoreStreamFunctionName
    python -m fraudops.faults off ScoreStreamFunctionName
    python -m fraudops.faults restart IngestStreamFunctionName
    python -m fraudops.faults status [FUNCTION ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fraudops.errors import UserError
from fraudops.paths import Layout
from fraudops_shared.runtime.faults import FAULT_ENV
from infra import constants as c

RESTART_ENV = "FRAUDOPS_RESTARTED_AT"
SERVICE_ENV = "POWERTOOLS_SERVICE_NAME"  # the stack sets it to the function's folder name
EVERY_FUNCTION = "all"  # what runtime.faults.inject also accepts: this function, whatever it is
# the functions that check FRAUDOPS_INJECT_FAULT, by their stack output
INJECTABLE = {
    c.OUT_INGEST_BATCH_FN: c.FN_INGEST_BATCH,
    c.OUT_INGEST_STREAM_FN: c.FN_INGEST_STREAM,
    c.OUT_SCORE_STREAM_FN: c.FN_SCORE_STREAM,
    c.OUT_SCORE_API_FN: c.FN_SCORE_API,
}


class FaultError(UserError):
    """Something the operator can fix: no stack, an unknown function."""


def stack_outputs(layout: Layout) -> dict[str, str]:
    """The deployed stack's outputs (CloudFormation, without reading the ledger)."""
    from botocore.exceptions import ClientError

    from fraudops import deploy
    from fraudops.clients import client

    cfn = client(layout, "cloudformation")
    try:
        [stack] = cfn.describe_stacks(StackName=deploy.stack_name())["Stacks"]
    except ClientError as exc:
        raise FaultError("the stack is not deployed (`fraudops deploy`)") from exc
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def resolve(function: str, outputs: Mapping[str, str]) -> str:
    """A function's physical name from its stack output key, or the name itself."""
    if function in outputs:
        return str(outputs[function])
    if function in outputs.values() or not function.endswith("FunctionName"):
        return function
    raise FaultError(f"the deployed stack has no output {function}")


def fault_value(function: str, variables: Mapping[str, str], outputs: Mapping[str, str]) -> str:
    """What ``FRAUDOPS_INJECT_FAULT`` is set to: the function's folder (its output's, else its
    Powertools service name), else ``all`` (the variable is this function's alone)."""
    if function in INJECTABLE:
        return INJECTABLE[function]
    for key, folder in INJECTABLE.items():
        if outputs.get(key) == function:
            return folder
    return str(variables.get(SERVICE_ENV) or EVERY_FUNCTION)


def lambda_client(layout: Layout) -> Any:
    """Lambda, waiting for a LocalStack slowed by the load rather than giving up after 60 s."""
    from botocore.config import Config

    from fraudops.clients import client

    patient = Config(read_timeout=180, retries={"mode": "standard", "max_attempts": 8})
    return client(layout, "lambda", config=patient)


def _variables(lam: Any, name: str) -> dict[str, str]:
    config = lam.get_function_configuration(FunctionName=name)
    return dict((config.get("Environment") or {}).get("Variables") or {})


def _update(lam: Any, name: str, variables: Mapping[str, str]) -> None:
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": dict(variables)})
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def set_fault(
    layout: Layout,
    function: str,
    on: bool,
    *,
    lam: Any = None,
    outputs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Switch fault injection on or off for one function; what it is now."""
    outputs = stack_outputs(layout) if outputs is None else outputs
    lam = lam or lambda_client(layout)
    name = resolve(function, outputs)
    variables = _variables(lam, name)
    kept = {k: v for k, v in variables.items() if k != FAULT_ENV}
    value = fault_value(function if function in INJECTABLE else name, variables, outputs)
    if on:
        kept[FAULT_ENV] = value
    if kept != variables:  # no update, no restart, when it already is as asked
        _update(lam, name, kept)
    return {"function": name, "fault": kept.get(FAULT_ENV), "changed": kept != variables}


def restart_environments(
    layout: Layout,
    function: str,
    *,
    lam: Any = None,
    outputs: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Retire a function's warm environments: a harmless configuration change (the restart's
    time); the next invocations start cold in new environments."""
    outputs = stack_outputs(layout) if outputs is None else outputs
    lam = lam or lambda_client(layout)
    name = resolve(function, outputs)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")
    _update(lam, name, {**_variables(lam, name), RESTART_ENV: stamp})
    return {"function": name, "restarted_at": stamp}


def status(
    layout: Layout,
    functions: Sequence[str] = (),
    *,
    lam: Any = None,
    outputs: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Per function (the injectable ones by default): its fault setting and last restart."""
    outputs = stack_outputs(layout) if outputs is None else outputs
    lam = lam or lambda_client(layout)
    out = []
    for function in functions or [k for k in INJECTABLE if k in outputs]:
        name = resolve(function, outputs)
        variables = _variables(lam, name)
        out.append(
            {
                "function": name,
                "fault": variables.get(FAULT_ENV),
                "restarted_at": variables.get(RESTART_ENV),
            }
        )
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fraudops.faults",
        description="Fault injection and environment restarts on the deployed stack.",
    )
    parser.add_argument("--port", type=int, help="LocalStack port (default 4566 or FRAUDOPS_PORT)")
    parser.add_argument("action", choices=("on", "off", "restart", "status"))
    parser.add_argument(
        "functions",
        nargs="*",
        metavar="FUNCTION",
        help="a stack output (ScoreStreamFunctionName) or a function name",
    )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    lam: Any = None,
    outputs: Mapping[str, str] | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    if args.action != "status" and not args.functions:
        print("fraudops.faults: name at least one function", file=sys.stderr)
        return 2
    layout = Layout.from_env(port=args.port)
    try:
        outputs = stack_outputs(layout) if outputs is None else outputs
        if args.action == "status":
            for s in status(layout, args.functions, lam=lam, outputs=outputs):
                fault, restarted = s["fault"] or "off", s["restarted_at"] or "-"
                print(f"{s['function']}: fault {fault}, restarted {restarted}")
            return 0
        for function in args.functions:
            if args.action == "restart":
                done = restart_environments(layout, function, lam=lam, outputs=outputs)
                print(f"{done['function']}: new environments from {done['restarted_at']}")
            else:
                done = set_fault(layout, function, args.action == "on", lam=lam, outputs=outputs)
                print(f"{done['function']}: fault {done['fault'] or 'off'}")
    except FaultError as exc:
        print(f"fraudops.faults: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

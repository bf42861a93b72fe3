"""`fraudops.faults`: fault injection switched on and off per function and a function's
environments restarted, through a Lambda client's configuration update, merged into the
function's variables and waited for; no LocalStack (a fake client)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from fraudops import faults
from fraudops.paths import Layout
from fraudops_shared.runtime.faults import FAULT_ENV

OUTPUTS = {
    "ScoreStreamFunctionName": "FraudOps-ScoreStream-abc",
    "IngestStreamFunctionName": "FraudOps-IngestStream-def",
    "DataBucketName": "bucket",
}


class FakeLambda:
    def __init__(self) -> None:
        self.env: dict[str, dict[str, str]] = {
            "FraudOps-ScoreStream-abc": {"POWERTOOLS_SERVICE_NAME": "score_stream", "A": "1"},
            "FraudOps-IngestStream-def": {"POWERTOOLS_SERVICE_NAME": "ingest_stream"},
            "other-fn": {"POWERTOOLS_SERVICE_NAME": "monitor_drift"},
        }
        self.updates: list[str] = []
        self.waited: list[str] = []

    def get_function_configuration(self, FunctionName: str) -> dict[str, Any]:
        return {"Environment": {"Variables": dict(self.env[FunctionName])}}

    def update_function_configuration(self, FunctionName: str, Environment: dict[str, Any]) -> None:
        self.env[FunctionName] = dict(Environment["Variables"])
        self.updates.append(FunctionName)

    def get_waiter(self, name: str) -> Any:
        assert name == "function_updated_v2"
        fake = self

        class Waiter:
            def wait(self, FunctionName: str) -> None:
                fake.waited.append(FunctionName)

        return Waiter()


@pytest.fixture
def lam() -> FakeLambda:
    return FakeLambda()


LAYOUT = Layout.from_env(port=4999)


def test_a_fault_names_the_function_s_folder_and_keeps_its_other_variables(lam: FakeLambda) -> None:
    done = faults.set_fault(LAYOUT, "ScoreStreamFunctionName", True, lam=lam, outputs=OUTPUTS)
    fn = "FraudOps-ScoreStream-abc"
    assert done == {"function": fn, "fault": "score_stream", "changed": True}
    assert lam.env[fn] == {
        "POWERTOOLS_SERVICE_NAME": "score_stream",
        "A": "1",
        FAULT_ENV: "score_stream",
    }
    assert lam.waited == [fn]
    # off again: only the fault's variable goes
    faults.set_fault(LAYOUT, fn, False, lam=lam, outputs=OUTPUTS)
    assert lam.env[fn] == {"POWERTOOLS_SERVICE_NAME": "score_stream", "A": "1"}


def test_switching_to_the_state_it_is_in_changes_nothing(lam: FakeLambda) -> None:
    done = faults.set_fault(LAYOUT, "IngestStreamFunctionName", False, lam=lam, outputs=OUTPUTS)
    assert done["changed"] is False and lam.updates == []
    faults.set_fault(LAYOUT, "IngestStreamFunctionName", True, lam=lam, outputs=OUTPUTS)
    faults.set_fault(LAYOUT, "IngestStreamFunctionName", True, lam=lam, outputs=OUTPUTS)
    assert lam.updates == ["FraudOps-IngestStream-def"]


def test_a_function_outside_the_stack_outputs_gets_its_service_name_as_the_fault(
    lam: FakeLambda,
) -> None:
    done = faults.set_fault(LAYOUT, "other-fn", True, lam=lam, outputs=OUTPUTS)
    assert done["fault"] == "monitor_drift"
    with pytest.raises(faults.FaultError, match="no output ScoreApiFunctionName"):
        faults.set_fault(LAYOUT, "ScoreApiFunctionName", True, lam=lam, outputs=OUTPUTS)


def test_a_restart_is_a_harmless_variable_change_that_is_waited_for(lam: FakeLambda) -> None:
    now = datetime(2026, 12, 2, 15, 40, 1, 234_000, tzinfo=UTC)
    done = faults.restart_environments(
        LAYOUT, "IngestStreamFunctionName", lam=lam, outputs=OUTPUTS, now=now
    )
    fn = "FraudOps-IngestStream-def"
    assert done == {"function": fn, "restarted_at": "2026-12-02T15:40:01.234+00:00"}
    assert lam.env[fn] == {
        "POWERTOOLS_SERVICE_NAME": "ingest_stream",
        faults.RESTART_ENV: "2026-12-02T15:40:01.234+00:00",
    }
    assert lam.waited == [fn]


def test_the_command_switches_restarts_and_reports(
    lam: FakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    assert faults.main(["on", "ScoreStreamFunctionName"], lam=lam, outputs=OUTPUTS) == 0
    assert faults.main(["restart", "IngestStreamFunctionName"], lam=lam, outputs=OUTPUTS) == 0
    assert faults.main(["status"], lam=lam, outputs=OUTPUTS) == 0
    assert faults.main(["off", "ScoreStreamFunctionName"], lam=lam, outputs=OUTPUTS) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "FraudOps-ScoreStream-abc: fault score_stream"
    assert out[1].startswith("FraudOps-IngestStream-def: new environments from 20")
    stamp = lam.env["FraudOps-IngestStream-def"][faults.RESTART_ENV]
    assert out[2:4] == [
        f"FraudOps-IngestStream-def: fault off, restarted {stamp}",
        "FraudOps-ScoreStream-abc: fault score_stream, restarted -",
    ]
    assert out[-1] == "FraudOps-ScoreStream-abc: fault off"
    assert faults.main(["on"], lam=lam, outputs=OUTPUTS) == 2
    assert faults.main(["on", "ScoreApiFunctionName"], lam=lam, outputs=OUTPUTS) == 1

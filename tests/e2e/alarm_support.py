"""Reading and switching the deployed stack for the alarm tests: an alarm's state by its key,
bounded waits for a state (the local stage's 60 s periods), fault injection switched on and off
per function, and a stream consumer paused and resumed (its event source mapping)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fraudops.clients import poll
from fraudops.faults import set_fault
from fraudops.paths import Layout
from infra import constants as c

PERIOD = c.ALARM_PERIOD_LOCAL_SECONDS


def alarm(aws: Any, key: str) -> dict[str, Any]:
    found = aws("cloudwatch").describe_alarms(AlarmNames=[f"{c.STACK_NAME}-{key}"])
    (props,) = found["MetricAlarms"]
    return dict(props)


def reaches(aws: Any, key: str, state: str, periods: int = 5) -> dict[str, Any]:
    found = poll(
        lambda: (a := alarm(aws, key))["StateValue"] == state and a,
        timeout=periods * PERIOD, interval=5, what=f"alarm {key} in {state}",
    )  # fmt: skip
    assert isinstance(found, dict)
    return found


def all_reach(aws: Any, keys: list[str], state: str, periods: int = 6) -> dict[str, str]:
    """Wait until every alarm of ``keys`` is in ``state``; the states last seen on failure."""
    seen: dict[str, str] = {}

    def there() -> bool:
        seen.update({k: alarm(aws, k)["StateValue"] for k in keys})
        return all(v == state for v in seen.values())

    try:
        poll(there, timeout=periods * PERIOD, interval=5, what=f"alarms {keys} in {state}")
    except TimeoutError as e:
        raise TimeoutError(f"{e}; last seen: {seen}") from None
    return seen


class Faults:
    """Fault injection switched on for functions by their stack output with the operator's own
    tool (``fraudops.faults``), and off again for every function it touched."""

    def __init__(self, layout: Layout, aws: Any, outputs: dict[str, str]) -> None:
        self.layout, self.lam, self.outputs = layout, aws("lambda"), outputs
        self.touched = set[str]()

    def on(self, output: str) -> None:
        self.touched.add(output)
        set_fault(self.layout, output, True, lam=self.lam, outputs=self.outputs)

    def off(self, output: str) -> None:
        set_fault(self.layout, output, False, lam=self.lam, outputs=self.outputs)

    def clear(self) -> None:
        for output in sorted(self.touched):
            self.off(output)


@contextmanager
def paused(aws: Any, function: str, stream_arn: str) -> Iterator[None]:
    """A stream consumer stopped (its mapping disabled) and, on leaving, started again: the
    records wait on the shard meanwhile, as behind a consumer that cannot keep up."""
    lam = aws("lambda")
    found = lam.list_event_source_mappings(FunctionName=function, EventSourceArn=stream_arn)
    [mapping] = found["EventSourceMappings"]
    uuid = mapping["UUID"]

    def switch(enabled: bool) -> None:
        lam.update_event_source_mapping(UUID=uuid, Enabled=enabled)
        want = "Enabled" if enabled else "Disabled"
        poll(lambda: lam.get_event_source_mapping(UUID=uuid)["State"] == want,
             timeout=60, interval=1, what=f"the mapping of {function} {want}")  # fmt: skip

    switch(False)
    try:
        yield
    finally:
        switch(True)

"""Fault injection, off unless asked: a deployment (an operator's game day, the end-to-end
tests, the soak run) sets ``FRAUDOPS_INJECT_FAULT`` on a function to its folder name and every
invocation then fails before doing anything, as a crash would. What it shows: the failure is
retried and kept (on-failure queues, counted), the function's Errors alarm fires, and clearing
the variable lets the retries through with nothing lost or doubled."""

from __future__ import annotations

import os

FAULT_ENV = "FRAUDOPS_INJECT_FAULT"


class InjectedFault(RuntimeError):
    """The failure asked for by ``FRAUDOPS_INJECT_FAULT``."""


def inject(function: str) -> None:
    """Raise InjectedFault when the deployment names ``function`` (or ``all``) for a fault."""
    asked = {p.strip() for p in os.environ.get(FAULT_ENV, "").split(",") if p.strip()}
    if function in asked or "all" in asked:
        raise InjectedFault(f"fault injected into {function} ({FAULT_ENV})")

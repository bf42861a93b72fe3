"""The CLI's screen: one rich console, and a way to keep noisy child processes (CDK's event
log, Node's warnings) in a log file instead of on it."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

console = Console(highlight=False)


@contextlib.contextmanager
def quiet_output(log: Path) -> Iterator[None]:
    """This process's (and its children's) stdout and stderr into ``log``: CDK's event log and
    Node's warnings are for the log file, not the screen."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """This process's (and its children's) stdout onto stderr, so that stdout holds nothing but
    the ``--json`` document printed afterwards."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)

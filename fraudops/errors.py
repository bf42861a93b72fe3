"""The failures a user can fix. ``fraudops`` prints each as one line on stderr, what is wrong
then the fix (``cli.explain``), and exits non-zero: never a traceback for these."""

from __future__ import annotations


class UserError(RuntimeError):
    """A failure whose message already says what is wrong and what to do."""


class NotRunningError(UserError):
    """Nothing answers at the LocalStack endpoint a command needs."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(f"LocalStack is not running on {endpoint}")
        self.endpoint = endpoint


class StackNotDeployedError(UserError):
    """The stack is not on the endpoint, or lacks an output a command needs (an older deploy)."""

    def __init__(self, name: str, endpoint: str, missing: tuple[str, ...] = ()) -> None:
        what = f"has no output {', '.join(missing)}" if missing else "is not deployed"
        super().__init__(f"the stack {name} {what} on {endpoint}")
        self.name, self.endpoint, self.missing = name, endpoint, missing


class NoChampionError(UserError):
    """The contract has no champion yet (nothing to score with, shadow or roll back)."""

    def __init__(self, contract: str) -> None:
        super().__init__(f"no champion for {contract}")
        self.contract = contract

"""The unit suite's guard: a test that tried the network would fail, not leak."""

from __future__ import annotations

import socket

import pytest
from pytest_socket import SocketBlockedError


def test_sockets_are_disabled_in_unit_tests() -> None:
    # Given the unit conftest, When a test opens an internet socket, Then it is blocked
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)

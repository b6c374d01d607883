"""Fixtures that run a real Hub and real node agents as processes on loopback.

The processes come from the one fleet helper, tools/porten_fleet.py (the tests import it by
name: this file puts tools/ on the path). The Hub and nodes are the `porten` binary named by
$PORTEN_BIN (tools/test builds it); the operator side (accounts, keys, nodes) goes through the
Hub's admin API, as an operator would.
"""
import os
import sys

import pytest
from openai import OpenAI

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tools"))
from porten_fleet import Hub  # noqa: E402


@pytest.fixture
def fleet(tmp_path):
    """A Hub with one account, one API key and one connected sim node (5 ms between tokens)."""
    hub = Hub(tmp_path).start()
    try:
        hub.with_account("test")
        hub.node = hub.add_node(hub.account_id, tmp_path, extra_args=("--token-delay-ms", "5")).start()
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def client(fleet):
    return OpenAI(base_url=fleet.base_url, api_key=fleet.api_key, max_retries=0, timeout=30)

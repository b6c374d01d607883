"""Runs porten-conformance (profile `reference`) against a fresh reference fleet on loopback.

Starts `porten hub` on a free port with a throw-away data dir, one fixed sim node serving the
ref-* models and one provisionable sim node with a slow simulated download (so `ref-large` stays
cold for the `cold_model` fixture), then runs the suite with the hub's operator token so it can
arrange its policy fixtures. Extra arguments go to porten-conformance (`run` by default; pass
`record …` to refresh goldens). Exit status is the suite's.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from porten_fleet import ROOT, Hub  # noqa: E402

SUITE = os.environ.get("PORTEN_CONFORMANCE_BIN", os.path.join(ROOT, ".build/debug/porten-conformance"))


def main():
    args = sys.argv[1:] or ["run"]
    with tempfile.TemporaryDirectory() as data:
        hub = Hub(data)
        try:
            hub.start().with_account("conformance")
            hub.add_node(hub.account_id, data, "fixed").start(wait=False)
            hub.add_node(hub.account_id, data, "provisionable", ("--models", "", "--vram-budget-mb", "16000", "--sim-download-mbps", "5")).start(
                wait=False)
            hub.wait_nodes_connected()
            command = [SUITE, *args, "--base-url", hub.base_url, "--api-key", hub.api_key, "--admin-token", hub.admin_token,
                       "--goldens", os.path.join(ROOT, "Golden")]
            if args[0] in ("run", "record") and "--profile" not in args:
                command += ["--profile", "reference"]
            return subprocess.call(command)
        finally:
            hub.stop()


if __name__ == "__main__":
    sys.exit(main())

"""What the SDK's run-plugin tests share: the command line they take (--wasmgate, --plugin), running
a plugin through `wasmgate run-plugin --json`, and reading the "probe: " lines it logged."""

import argparse
import json
import os
import subprocess
import sys


def parse_paths(script, description):
    """Returns (wasmgate, plugin, unittest arguments) from the command line; exits if a path is
    missing."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--wasmgate", required=True)
    parser.add_argument("--plugin", required=True)
    args, rest = parser.parse_known_args()
    wasmgate, plugin = os.path.abspath(args.wasmgate), os.path.abspath(args.plugin)
    for path in (wasmgate, plugin):
        if not os.path.exists(path):
            sys.exit("%s: %s does not exist (build first)" % (script, path))
    return wasmgate, plugin, [sys.argv[0]] + rest


def run_plugin(wasmgate, plugin, root_id, *args):
    """The JSON report of one run; fails the test if run-plugin fails or the plugin traps."""
    cmd = [wasmgate, "run-plugin", plugin, "--json", "--root-id", root_id] + list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError("run-plugin exited %d: %s" % (proc.returncode, proc.stderr.strip()))
    report = json.loads(proc.stdout)
    if report["trap"] is not None:
        raise AssertionError("plugin trapped: %s" % report["trap"])
    return report


def probes(report):
    """The plugin's log lines that start with "probe: ", without that prefix."""
    return [e["message"][len("probe: "):] for e in report["logs"]
            if e["message"].startswith("probe: ")]

#!/usr/bin/env python3
"""Runs tests/sdk/context_queue_plugin.cc through `wasmgate run-plugin --json --requests N`:
wasmgate writes stream-context creations and deletions into the SDK's context queue, and the SDK
must build each stream's context (from the queue) before its first callback and destroy the
ended ones before the next request, so exactly one context is alive in each request.

Usage: test_context_queue.py --wasmgate PATH --plugin context_queue.wasm [unittest arguments]
"""

import argparse
import json
import subprocess
import sys
import unittest

WASMGATE = None
PLUGIN = None


def probes(requests):
    cmd = [WASMGATE, "run-plugin", PLUGIN, "--json", "--root-id", "context_queue",
           "--requests", str(requests)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError("run-plugin exited %d: %s" % (proc.returncode, proc.stderr.strip()))
    report = json.loads(proc.stdout)
    if report["trap"] is not None:
        raise AssertionError("plugin trapped: %s" % report["trap"])
    return [e["message"] for e in report["logs"] if e["message"].startswith("probe: ")]


class ContextQueueTest(unittest.TestCase):
    def test_each_request_sees_its_own_context_and_no_ended_one(self):
        # More requests than the queue holds (64), so a queue that were never emptied would fill.
        n = 100
        expected = ["probe: live=1 constructed=%d from_queue=true" % (i + 1) for i in range(n)]
        self.assertEqual(probes(n), expected)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--wasmgate", required=True)
    parser.add_argument("--plugin", required=True)
    args, rest = parser.parse_known_args()
    WASMGATE, PLUGIN = args.wasmgate, args.plugin
    unittest.main(argv=[sys.argv[0]] + rest)

#!/usr/bin/env python3
"""Runs tests/sdk/context_queue_plugin.cc through `wasmgate run-plugin --json --requests N`:
wasmgate writes stream-context creations and deletions into the SDK's context queue, and the SDK
must build each stream's context (from the queue) before its first callback and destroy the
ended ones before the next request, so exactly one context is alive in each request.

Usage: test_context_queue.py --wasmgate PATH --plugin context_queue.wasm [unittest arguments]
"""

import unittest

from plugin_report import parse_paths, probes, run_plugin

WASMGATE = None
PLUGIN = None


class ContextQueueTest(unittest.TestCase):
    def test_each_request_sees_its_own_context_and_no_ended_one(self):
        # More requests than the queue holds (64), so a queue that were never emptied would fill.
        n = 100
        report = run_plugin(WASMGATE, PLUGIN, "context_queue", "--requests", str(n))
        expected = ["live=1 constructed=%d from_queue=true" % (i + 1) for i in range(n)]
        self.assertEqual(probes(report), expected)


if __name__ == "__main__":
    WASMGATE, PLUGIN, argv = parse_paths("test_context_queue.py", __doc__.splitlines()[0])
    unittest.main(argv=argv)

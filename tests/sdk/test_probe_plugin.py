#!/usr/bin/env python3
"""Runs the sdk_probe plugin (tests/sdk/probe_plugin.cc) through `wasmgate run-plugin --json`
and checks the SDK behaviour it logs: gRPC and HTTP callouts from root and stream contexts,
shared queues, shared-data CAS, metrics with tags, properties, bodies and trailers.

Usage: test_probe_plugin.py --wasmgate PATH --plugin sdk_probe.wasm [unittest arguments]
"""

import unittest

from plugin_report import parse_paths, probes, run_plugin

WASMGATE = None
PLUGIN = None


def run(*args, config='{"name": "probe"}'):
    return run_plugin(WASMGATE, PLUGIN, "sdk_probe", "--config", config, "--log-level", "info",
                      *args)


class StartupTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.report = run("--vm-config", "vm-text", "--ticks", "2")
        cls.lines = probes(cls.report)

    def assertProbe(self, line):
        self.assertIn(line, self.lines)

    def test_configuration_and_properties(self):
        self.assertProbe("vm_config=vm-text")
        self.assertProbe("config.name=probe")
        self.assertProbe("root_id=sdk_probe")  # single-segment property path
        self.assertProbe("node.id=run-plugin")  # two-segment path
        self.assertProbe("missing_property=false")
        self.assertProbe("log_level=2")

    def test_metrics_with_tags(self):
        self.assertProbe("gauge=3 counter=3")
        m = self.report["metrics"]
        self.assertEqual(m["probe_gauge"], 3)
        self.assertEqual(m["kind=.=test;.;probe_counter"], 3)
        self.assertEqual(m["probe_histogram"], {"count": 2, "sum": 10})
        self.assertEqual(m["a=.=x;.;b=.=y;.;probe_family"], 5)
        self.assertEqual(m["a=.=z;.;b=.=;.;probe_family"], 9)

    def test_shared_data_cas(self):
        self.assertProbe("shared missing=NotFound")
        self.assertProbe("shared set=Ok")
        self.assertProbe("shared get=Ok value=v1 cas_nonzero=true")
        self.assertProbe("shared cas_set=Ok")
        self.assertProbe("shared stale_set=CasMismatch")
        self.assertProbe("shared update=Ok value=v2+")

    def test_shared_queue(self):
        self.assertProbe("queue registered=true")
        self.assertProbe("queue resolved_same=true")
        self.assertProbe("queue unknown_resolve=false")
        items = [l for l in self.lines if l.startswith("queue item=")]
        self.assertEqual(items, ["queue item=one", "queue item=two"])
        self.assertProbe("queue drained=Empty")

    def test_grpc_callouts_fail_as_unavailable(self):
        # run-plugin has no gRPC upstream: every call closes with UNAVAILABLE (14).
        self.assertProbe("grpc call dispatched=Ok")
        self.assertProbe("grpc call status=14 message_nonempty=true")
        self.assertProbe("grpc stream dispatched=Ok")
        self.assertProbe("grpc stream closed status=14")

    def test_http_callout_from_the_root_context(self):
        self.assertProbe("root http call dispatched=Ok")
        self.assertProbe("root http call failed=true status=0")
        self.assertIn("root_cluster", [c["cluster"] for c in self.report["http_calls"]])

    def test_foreign_function_not_found(self):
        self.assertProbe("foreign missing=NotFound")

    def test_ticks(self):
        self.assertEqual(self.lines.count("tick"), 2)


class RequestTest(unittest.TestCase):
    def test_headers_properties_and_grpc_resume_from_stream(self):
        r = run()
        lines = probes(r)
        self.assertIn("request headers=4 count_matches=true first=:method", lines)
        self.assertIn("request end_of_stream=true", lines)
        self.assertIn("protocol=HTTP/1.1", lines)
        self.assertIn("set_property=Ok", lines)
        self.assertIn("get_property=xyz", lines)
        self.assertIn("missing header=false", lines)
        # The gRPC callback ran with the stream effective: it added a header and resumed.
        self.assertIn(["x-grpc-status", "14"], r["request_headers"])
        self.assertIsNone(r["paused"])
        self.assertEqual(r["statuses"], [200])
        # setHeaderMapPairs replaced the whole response header map.
        self.assertEqual(r["response_headers"][:2], [[":status", "202"], ["x-probe", "replaced-all"]])
        self.assertIn("on_log", lines)
        self.assertIn("on_delete", lines)

    def test_shared_data_persists_between_requests(self):
        lines = probes(run("--requests", "3"))
        self.assertEqual([l for l in lines if l.startswith("requests seen=")],
                         ["requests seen=1", "requests seen=2", "requests seen=3"])

    def test_buffered_request_body_is_rewritten(self):
        r = run("--method", "POST", "--body", "hello")
        lines = probes(r)
        self.assertIn("request end_of_stream=false", lines)
        self.assertIn("request body size=5 end_of_stream=true", lines)
        self.assertIn("set request body=Ok", lines)
        self.assertEqual(r["request_body"], "HELLO")
        self.assertIsNone(r["paused"])

    def test_request_trailers(self):
        r = run("--trailer", "x-trailer: t1")
        self.assertIn("request trailers=1 x-trailer=t1", probes(r))
        self.assertEqual(r["request_trailers"], [["x-trailer", "t1"], ["x-added-trailer", "yes"]])

    @unittest.skip("run-plugin stops after a body chunk answered StopIterationAndBuffer when "
                   "trailers follow (end_of_stream=false); Envoy goes on to on_request_trailers")
    def test_buffered_body_followed_by_trailers(self):
        r = run("--method", "POST", "--body", "hello", "--trailer", "x-trailer: t1")
        self.assertIn("request trailers=1 x-trailer=t1", probes(r))
        self.assertIsNone(r["paused"])


def main():
    global WASMGATE, PLUGIN
    WASMGATE, PLUGIN, argv = parse_paths("test_probe_plugin.py", __doc__.splitlines()[0])
    unittest.main(argv=argv)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Compatibility tests: Proxy-Wasm plugins built with the AssemblyScript SDK
(@solo-io/proxy-runtime 0.1.8, assemblyscript 0.14.9), run through
`wasmgate run-plugin --json` (docs/run-plugin.md).

    test_assemblyscript.py --wasmgate PATH --plugins DIR [unittest options] [TestClass ...]

The plugins' sources are in tests/compat/assemblyscript/assembly/.
"""
import argparse
import json
import os
import subprocess
import sys
import unittest

WASMGATE = None
PLUGIN_DIR = None

LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "critical"]


def plugin_path(name):
    return os.path.join(PLUGIN_DIR, name + ".wasm")


def run_plugin(plugin, *args, expect_exit=0):
    """Runs `wasmgate run-plugin PLUGIN ARGS --json`; returns (exit, report or None, stderr)."""
    cmd = [WASMGATE, "run-plugin", plugin_path(plugin), *args, "--json"]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    stdout = proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr.decode("utf-8", "replace")
    where = "command: %s\nexit: %d\nstdout: %s\nstderr: %s" % (cmd, proc.returncode, stdout, stderr)
    if expect_exit is not None and proc.returncode != expect_exit:
        raise AssertionError("expected exit %d\n%s" % (expect_exit, where))
    report = None
    if proc.returncode == 0:
        try:
            report = json.loads(stdout)
        except ValueError as e:
            raise AssertionError("stdout is not one JSON object (%s)\n%s" % (e, where))
    return proc.returncode, report, stderr


def pairs(value):
    """[[name, value], ...] from the report as a list of tuples."""
    return [tuple(p) for p in value]


def values(headers, name):
    return [v for (k, v) in pairs(headers) if k == name]


def level_name(level):
    """A log level as its name, whether the report gives the name or the number."""
    if isinstance(level, int):
        return LOG_LEVELS[level]
    return str(level).lower()


def messages(report, level=None):
    return [entry["message"] for entry in report["logs"]
            if level is None or level_name(entry["level"]) == level]


class RunPluginCase(unittest.TestCase):
    maxDiff = None

    def run_ok(self, plugin, *args):
        _, report, _ = run_plugin(plugin, *args)
        self.assertIsNone(report["trap"], "plugin trapped; logs: %s" % report["logs"])
        self.assertEqual(report["abi_version"], "0.2.0")
        return report

    def assertHeader(self, headers, name, value):
        self.assertEqual(values(headers, name), [value], "header %r in %s" % (name, headers))

    def assertNoHeader(self, headers, name):
        self.assertEqual(values(headers, name), [], "header %r in %s" % (name, headers))

    def assertUpstreamAnswered(self, report, requests=1):
        self.assertIsNone(report["local_response"])
        self.assertIsNone(report["paused"])
        self.assertEqual(report["statuses"], [200] * requests)

    def assertLocalResponse(self, report, status, body, headers):
        local = report["local_response"]
        self.assertIsNotNone(local, "no local response; logs: %s" % report["logs"])
        self.assertEqual(local["status"], status)
        self.assertEqual(local["body"], body)
        for name, value in headers:
            self.assertHeader(local["headers"], name, value)
        # What the client gets is the local response, not the upstream's.
        self.assertEqual(report["statuses"][-1], status)
        self.assertEqual(report["response_body"], body)
        for name, value in headers:
            self.assertHeader(report["response_headers"], name, value)
        # A local response ends the stream; nothing is left paused.
        self.assertIsNone(report["paused"])


def wasm_imports(path):
    """(module, name) of every import of a Wasm binary (a minimal section reader)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\0asm\1\0\0\0":
        raise AssertionError("%s: not a Wasm 1.0 binary" % path)

    def leb(pos):
        result = shift = 0
        while True:
            b = data[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return result, pos

    def name(pos):
        n, pos = leb(pos)
        return data[pos:pos + n].decode("utf-8"), pos + n

    pos = 8
    while pos < len(data):
        section, pos = data[pos], pos + 1
        size, pos = leb(pos)
        end = pos + size
        if section == 2:
            count, pos = leb(pos)
            result = []
            for _ in range(count):
                module, pos = name(pos)
                field, pos = name(pos)
                kind, pos = data[pos], pos + 1
                if kind != 0:
                    raise AssertionError("%s: unexpected non-function import %s.%s" % (path, module, field))
                _, pos = leb(pos)  # type index
                result.append((module, field))
            return result
        pos = end
    return []


class ToolchainTest(unittest.TestCase):
    """What these plugins demand of a host, independent of wasmgate."""

    PLUGINS = ["add_headers", "config_echo", "deny_path", "http_callout", "http_callout.debug", "shared_counter"]

    def test_imports(self):
        for plugin in self.PLUGINS:
            with self.subTest(plugin=plugin):
                imports = wasm_imports(plugin_path(plugin))
                # abort=abort_proc_exit routes aborts through WASI proc_exit of the
                # *old* module name, and never through env.abort.
                self.assertIn(("wasi_unstable", "proc_exit"), imports)
                self.assertNotIn(("env", "abort"), imports)
                self.assertEqual({m for (m, _) in imports}, {"env", "wasi_unstable"})
                for module, field in imports:
                    if module == "env":
                        self.assertTrue(field.startswith("proxy_"), field)
                # Every plugin reads plugin_root_id and imports set_effective_context,
                # whether or not it ever makes a callout.
                self.assertIn(("env", "proxy_get_property"), imports)
                self.assertIn(("env", "proxy_set_effective_context"), imports)


class LifecycleTest(RunPluginCase):
    def assertOneLineError(self, stderr, *fragments):
        lines = stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, "expected a one-line error, got %r" % stderr)
        for fragment in fragments:
            self.assertIn(fragment, lines[0])

    def assertStartupAbort(self, report, root_id):
        # The SDK throws in proxy_on_context_create of the root context when no root
        # context is registered under plugin_root_id; abort_proc_exit logs the message
        # at critical level and calls proc_exit(255). That is a trap, reported with
        # exit 0, and no request runs.
        self.assertIsNotNone(report["trap"], "expected a trap after proc_exit")
        critical = messages(report, "critical")
        self.assertEqual(len(critical), 1, report["logs"])
        self.assertTrue(critical[0].startswith("Missing root context factory for root id: %s at: " % root_id),
                        critical)
        self.assertEqual(report["statuses"], [])
        self.assertEqual(report["http_calls"], [])

    def test_wrong_root_id_aborts_through_proc_exit(self):
        _, report, _ = run_plugin("add_headers", "--root-id", "no_such_root", "--requests", "2")
        self.assertStartupAbort(report, "no_such_root")

    def test_root_id_defaults_to_empty(self):
        _, report, _ = run_plugin("deny_path", "--path", "/admin")
        self.assertStartupAbort(report, "")

    def test_abort_in_stream_callback_is_a_trap(self):
        # throw -> abort_proc_exit: critical log, then proc_exit(255) in the middle of
        # proxy_on_request_headers. The run itself succeeded and reports the trap, and
        # stops there: the second request never runs.
        _, report, _ = run_plugin("add_headers", "--root-id", "add_headers", "-H", "x-compat-abort: now",
                                  "--requests", "2")
        self.assertIsNotNone(report["trap"])
        critical = messages(report, "critical")
        self.assertEqual(len(critical), 1, report["logs"])
        self.assertTrue(critical[0].startswith("abort requested by x-compat-abort: now at: "), critical)
        # The plugin died before adding its header, and no response was produced.
        self.assertNoHeader(report["request_headers"], "x-compat-request")
        self.assertEqual(report["response_headers"], [])
        self.assertIsNone(report["local_response"])
        self.assertLessEqual(len(report["statuses"]), 1)

    def test_env_abort_import_is_refused(self):
        # Built without --use abort=abort_proc_exit: imports env.abort, which no
        # Proxy-Wasm host provides.
        self.assertIn(("env", "abort"), wasm_imports(plugin_path("deny_path.envabort")))
        _, _, stderr = run_plugin("deny_path.envabort", "--root-id", "deny_path", expect_exit=1)
        self.assertOneLineError(stderr, "env.abort")

    def test_rejected_configuration(self):
        # proxy_on_configure returning false.
        _, _, stderr = run_plugin("add_headers", "--root-id", "add_headers",
                                  "--config", "request-header: no-equals-sign", expect_exit=1)
        self.assertOneLineError(stderr)
        _, _, stderr = run_plugin("deny_path", "--root-id", "deny_path", "--config", "prefix: admin",
                                  expect_exit=1)
        self.assertOneLineError(stderr)


class AddHeadersTest(RunPluginCase):
    def test_default_headers(self):
        report = self.run_ok("add_headers", "--root-id", "add_headers", "--path", "/hello")
        self.assertUpstreamAnswered(report)
        self.assertHeader(report["request_headers"], "x-compat-request", "assemblyscript")
        self.assertHeader(report["response_headers"], "x-compat-response", "assemblyscript")
        self.assertHeader(report["response_headers"], "x-compat-path", "/hello")
        self.assertIn("add_headers: request x-compat-request=assemblyscript, response x-compat-response=assemblyscript",
                      messages(report, "info"))
        # num_headers counts the request headers before the plugin added its own.
        before = len(report["request_headers"]) - 1
        self.assertIn("add_headers: %d request headers, path /hello, end_of_stream true" % before,
                      messages(report, "info"))

    def test_headers_from_config(self):
        report = self.run_ok("add_headers", "--root-id", "add_headers",
                             "--config", "request-header: x-team=edge\nresponse-header: x-served-by = wasmgate\n")
        self.assertUpstreamAnswered(report)
        self.assertHeader(report["request_headers"], "x-team", "edge")
        self.assertHeader(report["response_headers"], "x-served-by", "wasmgate")
        self.assertNoHeader(report["request_headers"], "x-compat-request")
        self.assertNoHeader(report["response_headers"], "x-compat-response")

    def test_keeps_existing_headers(self):
        report = self.run_ok("add_headers", "--root-id", "add_headers", "-H", "x-client: one",
                             "--response-header", "server: upstream", "--body", "payload")
        self.assertHeader(report["request_headers"], "x-client", "one")
        self.assertHeader(report["request_headers"], "x-compat-request", "assemblyscript")
        self.assertHeader(report["response_headers"], "server", "upstream")
        self.assertHeader(report["response_headers"], "x-compat-response", "assemblyscript")
        self.assertEqual(report["request_body"], "payload")
        # With a body, request headers do not end the stream.
        self.assertTrue(any(m.endswith("end_of_stream false") for m in messages(report, "info")), report["logs"])

    def test_pseudo_headers_come_first(self):
        report = self.run_ok("add_headers", "--root-id", "add_headers", "--method", "PUT", "--path", "/p",
                             "--authority", "example.com", "--scheme", "https")
        names = [k for (k, _) in pairs(report["request_headers"])]
        self.assertEqual(sorted(names[:4]), [":authority", ":method", ":path", ":scheme"])
        self.assertHeader(report["request_headers"], ":method", "PUT")
        self.assertHeader(report["request_headers"], ":authority", "example.com")
        self.assertHeader(report["response_headers"], "x-compat-path", "/p")


class ConfigEchoTest(RunPluginCase):
    """The SDK's stock onConfigure/getConfiguration path, as its README uses it."""

    def test_stock_configuration(self):
        report = self.run_ok("config_echo", "--root-id", "config_echo", "--config", "hello from config")
        self.assertUpstreamAnswered(report)
        self.assertHeader(report["response_headers"], "x-config", "hello from config")


class DenyPathTest(RunPluginCase):
    DENY_HEADERS = [("x-denied-by", "deny_path"), ("content-type", "text/plain")]

    def test_denies_admin(self):
        report = self.run_ok("deny_path", "--root-id", "deny_path", "--path", "/admin/users",
                             "--response-body", "from upstream")
        self.assertLocalResponse(report, 403, "access to /admin/users is forbidden\n", self.DENY_HEADERS)
        self.assertEqual(report["statuses"], [403])
        # Envoy records the details with whitespace replaced; the raw text is fine too.
        self.assertIn(report["local_response"]["details"], ("denied by deny_path", "denied_by_deny_path"))
        self.assertIn("deny_path: denying /admin/users", messages(report, "warn"))

    def test_allows_other_paths(self):
        report = self.run_ok("deny_path", "--root-id", "deny_path", "--path", "/public/admin",
                             "--response-body", "from upstream")
        self.assertUpstreamAnswered(report)
        self.assertEqual(report["response_body"], "from upstream")
        self.assertEqual(messages(report, "warn"), [])

    def test_configured_prefix(self):
        args = ["--root-id", "deny_path", "--config", "prefix: /internal"]
        report = self.run_ok("deny_path", *args, "--path", "/internal/metrics")
        self.assertLocalResponse(report, 403, "access to /internal/metrics is forbidden\n", self.DENY_HEADERS)
        report = self.run_ok("deny_path", *args, "--path", "/admin")
        self.assertUpstreamAnswered(report)

    def test_every_request_denied(self):
        report = self.run_ok("deny_path", "--root-id", "deny_path", "--path", "/admin", "--requests", "3")
        self.assertEqual(report["statuses"], [403, 403, 403])
        self.assertEqual(messages(report, "warn"), ["deny_path: denying /admin"] * 3)


class SharedCounterTest(RunPluginCase):
    def test_counts_across_requests(self):
        report = self.run_ok("shared_counter", "--root-id", "shared_counter", "--requests", "3")
        self.assertUpstreamAnswered(report, requests=3)
        counts = [m for m in messages(report, "info") if m.startswith("shared_counter: request count ")]
        self.assertEqual(counts, ["shared_counter: request count %d" % n for n in (1, 2, 3)])
        # Fields other than logs describe the last request.
        self.assertHeader(report["request_headers"], "x-request-count", "3")
        self.assertHeader(report["response_headers"], "x-request-count", "3")
        # A write with a CAS other than the current one is refused and changes nothing.
        self.assertHeader(report["response_headers"], "x-stale-cas", "mismatch")
        self.assertEqual(messages(report, "error"), [])

    def test_single_request(self):
        report = self.run_ok("shared_counter", "--root-id", "shared_counter")
        self.assertHeader(report["response_headers"], "x-request-count", "1")
        self.assertHeader(report["response_headers"], "x-stale-cas", "mismatch")

    def test_each_run_starts_empty(self):
        for _ in range(2):
            report = self.run_ok("shared_counter", "--root-id", "shared_counter", "--requests", "2")
            self.assertHeader(report["response_headers"], "x-request-count", "2")

    def test_many_requests(self):
        report = self.run_ok("shared_counter", "--root-id", "shared_counter", "--requests", "200")
        self.assertUpstreamAnswered(report, requests=200)
        self.assertHeader(report["response_headers"], "x-request-count", "200")
        self.assertHeader(report["response_headers"], "x-stale-cas", "mismatch")
        self.assertEqual(messages(report, "error"), [])

    def test_vm_id_and_key(self):
        report = self.run_ok("shared_counter", "--root-id", "shared_counter", "--vm-id", "compat",
                             "--config", "key: other.counter", "--requests", "4")
        self.assertHeader(report["response_headers"], "x-request-count", "4")
        self.assertHeader(report["response_headers"], "x-stale-cas", "mismatch")


class HttpCalloutTest(RunPluginCase):
    PLUGIN = "http_callout"

    def call_response(self, status, headers=(), body=""):
        return json.dumps({"status": status, "headers": [list(h) for h in headers], "body": body})

    def assertCall(self, call, cluster="auth_cluster", authority="auth.local", path="/", timeout_ms=1500):
        self.assertEqual(call["cluster"], cluster)
        self.assertHeader(call["headers"], ":method", "POST")
        self.assertHeader(call["headers"], ":path", "/check")
        self.assertHeader(call["headers"], ":authority", authority)
        self.assertHeader(call["headers"], "x-original-path", path)
        self.assertEqual(call["body"], "check " + path)
        self.assertEqual(pairs(call["trailers"]), [])
        self.assertEqual(call["timeout_ms"], timeout_ms)

    def test_allowed_continues_request(self):
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout", "--path", "/api/items",
                             "--http-call-response", self.call_response(200, [("x-user", "alice")], "ignored"),
                             "--response-body", "upstream body")
        self.assertEqual(len(report["http_calls"]), 1)
        self.assertCall(report["http_calls"][0], path="/api/items")
        self.assertUpstreamAnswered(report)
        self.assertEqual(report["response_body"], "upstream body")
        self.assertHeader(report["request_headers"], "x-auth-user", "alice")
        self.assertHeader(report["request_headers"], "x-auth-status", "200")
        self.assertTrue(any(m.startswith("http_callout: response for context ") and
                            m.endswith(": headers %d, body 7, trailers 0" % self.callout_headers(report))
                            for m in messages(report, "info")), report["logs"])
        self.assertEqual(messages(report, "error"), [])

    def callout_headers(self, report):
        # The canned answer's headers plus :status (which the plugin reads); a host
        # may add more (content-length), so take the count the plugin was given.
        for m in messages(report, "info"):
            if m.startswith("http_callout: response for context "):
                return int(m.split(": headers ")[1].split(",")[0])
        self.fail("no http call response logged: %s" % report["logs"])

    def test_user_from_body(self):
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout",
                             "--http-call-response", self.call_response(200, [], "bob"))
        self.assertUpstreamAnswered(report)
        self.assertHeader(report["request_headers"], "x-auth-user", "bob")
        self.assertGreaterEqual(self.callout_headers(report), 1)

    def test_denied_by_status(self):
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout", "--path", "/secret",
                             "--http-call-response", self.call_response(403, [("x-user", "mallory")], "no"))
        self.assertEqual(len(report["http_calls"]), 1)
        self.assertCall(report["http_calls"][0], path="/secret")
        self.assertLocalResponse(report, 403, "denied by authorization service (status 403)\n",
                                 [("x-denied-by", "http_callout")])
        self.assertIn(report["local_response"]["details"], ("auth_denied",))
        self.assertNoHeader(report["request_headers"], "x-auth-user")

    def test_failed_call_denies(self):
        # Without --http-call-response every call fails like an unreachable cluster:
        # proxy_on_http_call_response with all counts 0.
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout", "--path", "/api")
        self.assertEqual(len(report["http_calls"]), 1)
        self.assertCall(report["http_calls"][0], path="/api")
        self.assertLocalResponse(report, 503, "authorization service unavailable\n",
                                 [("x-denied-by", "http_callout")])
        self.assertTrue(any(m.startswith("http_callout: response for context ") and
                            m.endswith(": headers 0, body 0, trailers 0") for m in messages(report, "info")),
                        report["logs"])
        self.assertNoHeader(report["request_headers"], "x-auth-user")

    def test_configured_cluster(self):
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout",
                             "--config", "cluster: ext_authz\nauthority: authz.internal\ntimeout-ms: 250",
                             "--http-call-response", self.call_response(200, [("x-user", "carol")]))
        self.assertCall(report["http_calls"][0], cluster="ext_authz", authority="authz.internal", timeout_ms=250)
        self.assertHeader(report["request_headers"], "x-auth-user", "carol")

    def test_one_call_per_request(self):
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout", "--requests", "3",
                             "--http-call-response", self.call_response(200, [("x-user", "dave")]))
        self.assertEqual(len(report["http_calls"]), 3)
        for call in report["http_calls"]:
            self.assertCall(call)
        self.assertUpstreamAnswered(report, requests=3)

    def test_one_failed_call_per_request(self):
        report = self.run_ok(self.PLUGIN, "--root-id", "http_callout", "--requests", "2")
        self.assertEqual(len(report["http_calls"]), 2)
        self.assertEqual(report["statuses"], [503, 503])


class HttpCalloutDebugBuildTest(HttpCalloutTest):
    """The same plugin unoptimized, with debug information."""
    PLUGIN = "http_callout.debug"


def main():
    global WASMGATE, PLUGIN_DIR
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--wasmgate", required=True)
    parser.add_argument("--plugins", required=True, help="directory with the built .wasm plugins")
    args, rest = parser.parse_known_args()
    WASMGATE = os.path.abspath(args.wasmgate)
    PLUGIN_DIR = os.path.abspath(args.plugins)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""gRPC callouts end to end: the real `wasmgate serve`, a real gRPC server, real clients.

- The gRPC server is Python grpcio on 127.0.0.1 (grpc_server.py, generic bytes handlers).
- The plugin grpc_probe (plugins/grpc_probe.cc) makes one call or stream per request and answers
  with a JSON report of every callback the host made; the tests assert it exactly.
- grpc_bad_input.wasm (fixtures/grpc_bad_input.wat) feeds the gRPC hostcalls bad input.
- examples/plugins/grpc_auth allows and denies requests to a real HTTP upstream.
- Clients are curl. Everything listens on loopback; every wait is bounded.

Classes: ProbeTest (one proxy for many checks), CancelTest, TwoPluginsTest and RestartTest (a
proxy per test, for what can take a proxy down), GrpcAuthTest (the example plugin).

Run: /usr/bin/python3 test_grpc_callouts.py --wasmgate build/src/cli/wasmgate \
       --plugins build/plugins --fixtures build/tests/integration_grpc/fixtures [-v] [Test.name]
Exits 77 (skipped) when grpc cannot be imported.
"""

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
LOOPBACK = "127.0.0.1"
ARGS = None

try:
    import grpc  # noqa: F401  (grpc_server needs it; fail early with a clear message)
except ImportError as error:
    print("integration_grpc: SKIPPED: cannot import grpc with %s (%s); install python3-grpcio "
          "(scripts/setup.sh) and run with /usr/bin/python3" % (sys.executable, error))
    sys.exit(77)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import grpc_server  # noqa: E402
import harness  # noqa: E402  (the integration suite's helpers, shared)
from harness import free_port  # noqa: E402

PROBE_SERVICE = grpc_server.PROBE_SERVICE

# WasmResult values (docs: proxy-wasm-abi.md 2.1) and gRPC status codes (2.9).
OK, NOT_FOUND, BAD_ARGUMENT, PARSE_FAILURE, INVALID_MEMORY_ACCESS = 0, 1, 2, 4, 6
GRPC_OK, GRPC_CANCELLED, GRPC_DEADLINE_EXCEEDED, GRPC_PERMISSION_DENIED = 0, 1, 4, 7
GRPC_INTERNAL, GRPC_UNAVAILABLE = 13, 14


# ---------------------------------------------------------------------------------------------
# helpers


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    return harness.wait_for(predicate, timeout, interval=interval, what=what)


def latin1(text):
    """The plugin writes bytes as \\u00XX: back to bytes."""
    return text.encode("latin-1")


class Response:
    def __init__(self, status, headers, body, elapsed, error=""):
        self.status, self.headers, self.body, self.elapsed, self.error = status, headers, body, elapsed, error

    def json(self):
        return json.loads(self.body.decode("latin-1"))

    def __repr__(self):
        return "Response(%s, %r, %.3fs%s)" % (self.status, self.body[:300], self.elapsed,
                                               ", " + self.error if self.error else "")


def curl(url, headers=(), max_time=10, method=None, data=None):
    """One request with the real curl; status 0 when curl failed (see .error)."""
    cmd = ["curl", "-sS", "-i", "--max-time", str(max_time), "--noproxy", "*", "-H", "Expect:"]
    if method:
        cmd += ["-X", method]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["--data-binary", "@-"]
    cmd.append(url)
    start = time.monotonic()
    proc = subprocess.run(cmd, input=data, capture_output=True, timeout=max_time + 5)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        return Response(0, {}, b"", elapsed, "curl exit %d: %s" % (proc.returncode, proc.stderr.decode().strip()))
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return Response(status, hdrs, body, elapsed)


def curl_many(urls, max_time=20):
    """Requests `urls` in order on one curl process (keep-alive); [(status, body)]."""
    marker = "\n@@wasmgate-status:%{http_code}@@\n"
    cmd = ["curl", "-sS", "--max-time", str(max_time), "--noproxy", "*"]
    for url in urls:
        cmd += ["-w", marker, url]
    proc = subprocess.run(cmd, capture_output=True, timeout=max_time + 5)
    parts = re.split(rb"\n@@wasmgate-status:(\d{3})@@\n", proc.stdout)
    results = [(int(parts[i + 1]), parts[i]) for i in range(0, len(parts) - 1, 2)]
    if len(results) != len(urls):
        raise AssertionError("curl answered %d of %d requests (exit %d): %s"
                             % (len(results), len(urls), proc.returncode, proc.stderr.decode()[-500:]))
    return results


# ---------------------------------------------------------------------------------------------
# peers


class HttpUpstream(ThreadingHTTPServer):
    """Answers every request with 200 and a JSON description of it; remembers them."""
    daemon_threads = True

    def __init__(self):
        super().__init__((LOOPBACK, 0), _UpstreamHandler)
        self.requests = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    @property
    def port(self):
        return self.server_address[1]

    def seen(self):
        with self.lock:
            return list(self.requests)

    def stop(self):
        self.shutdown()
        self.server_close()
        self.thread.join(5)


class _UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, fmt, *args):
        pass

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        entry = {"method": self.command, "path": self.path,
                 "authorization": self.headers.get("authorization", ""), "body": body.decode("latin-1")}
        with self.server.lock:
            self.server.requests.append(entry)
        out = json.dumps({"upstream": True, **entry}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = _answer


class SilentServer:
    """Accepts TCP connections, reads and discards, never writes."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.stopping = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = time.monotonic() + 300  # never outlives a test run
        while not self.stopping.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.setblocking(False)
            self.conns.append(conn)
            for c in self.conns:
                try:
                    c.recv(65536)
                except OSError:
                    pass

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


class Proxy:
    """One `wasmgate serve -c` process; the bootstrap is JSON (valid YAML)."""

    def __init__(self, config):
        self.config = config
        self.tmp = tempfile.TemporaryDirectory(prefix="wasmgate-grpc-it-")
        self.bootstrap = os.path.join(self.tmp.name, "bootstrap.yaml")
        self.log_path = os.path.join(self.tmp.name, "wasmgate.log")
        self.admin_port = int(config["admin"]["address"].rsplit(":", 1)[1])
        self.process = None

    def start(self, timeout=20):
        with open(self.bootstrap, "w") as f:
            json.dump(self.config, f, indent=2)
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen([ARGS.wasmgate, "serve", "-c", self.bootstrap, "--log-level", "info"],
                                        stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                        cwd=self.tmp.name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError("wasmgate exited with %d while starting:\n%s"
                                     % (self.process.returncode, self.log_tail()))
            try:
                if self.admin("/ready", timeout=1)[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.process.kill()
        raise AssertionError("wasmgate not ready after %ds:\n%s" % (timeout, self.log_tail()))

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=10):
        """SIGTERM; the exit status, or None when it had to be killed."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.log.close()
        self.tmp.cleanup()
        return code

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def admin(self, path, timeout=5):
        conn = http.client.HTTPConnection(LOOPBACK, self.admin_port, timeout=timeout)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def metric(self, name, plugin):
        status, text = self.admin("/stats/prometheus")
        assert status == 200, text
        m = re.search(r'^%s\{plugin="%s"\} (\S+)$' % (re.escape(name), re.escape(plugin)), text, re.M)
        return float(m.group(1)) if m else 0.0

    def plugin_info(self, name):
        status, text = self.admin("/plugins")
        assert status == 200, text
        return next(p for p in json.loads(text) if p["name"] == name)


def plugin_url(path):
    return "file://" + os.path.abspath(path)


def grpc_cluster(name, port, **extra):
    cluster = {"name": name, "endpoints": ["%s:%d" % (LOOPBACK, port)], "protocol": "h2"}
    cluster.update(extra)
    return cluster


# ---------------------------------------------------------------------------------------------
# the probe plugin against the gRPC server


def probe_config(port, grpc_port, dead_port, extra_clusters=()):
    """One worker: grpc_bad_input and grpc_probe in front of a direct response."""
    return {
        "admin": {"address": "%s:%d" % (LOOPBACK, free_port())},
        "workers": 1,
        "clusters": [grpc_cluster("grpc", grpc_port), grpc_cluster("dead", dead_port, connect_timeout="1s")]
        + list(extra_clusters),
        "listeners": [{"name": "main", "address": "%s:%d" % (LOOPBACK, port),
                       "routes": [{"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": "ok\n"}}]}],
        "plugins": [
            {"name": "bad-input", "url": plugin_url(os.path.join(ARGS.fixtures, "grpc_bad_input.wasm"))},
            {"name": "probe", "url": plugin_url(os.path.join(ARGS.plugins, "grpc_probe.wasm")),
             "pluginConfig": {"cluster": "grpc", "service": PROBE_SERVICE, "timeout_ms": 2000}},
        ],
    }


class ProbeBase(unittest.TestCase):
    """Helpers for tests that drive grpc_probe (self.proxy, self.port, self.grpc)."""

    def url(self, path):
        return "http://%s:%d%s" % (LOOPBACK, self.port, path)

    def late_callbacks(self):
        return self.proxy.metric("wasmgate_plugin_custom_grpc_probe_late_callbacks", "probe")

    def assertNoLateCallbacks(self, settle=0.3):
        time.sleep(settle)
        self.assertEqual(self.late_callbacks() - self.late_before, 0,
                         "callbacks arrived after the call was over:\n" + self.proxy.log_tail())

    def assertServing(self):
        """The proxy is up and a gRPC callout still works through it."""
        self.assertTrue(self.proxy.alive(), "wasmgate died (exit %r):\n%s"
                        % (self.proxy.process.poll(), self.proxy.log_tail()))
        r = curl(self.url("/unary/Echo?m=still"), max_time=5)
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.proxy.log_tail()))
        self.assertEqual([e["data"] for e in r.json()["events"] if e["type"] == "message"], ["echo:still"], r)

    def probe(self, path, headers=(), max_time=10):
        r = curl(self.url(path), headers, max_time=max_time)
        self.assertEqual(r.status, 200, "%s: %r\n%s" % (path, r, self.proxy.log_tail()))
        self.assertEqual(r.headers.get("content-type"), "application/json", r)
        return r.json(), r.elapsed

    def events(self, report, kind=None):
        return [e for e in report["events"] if kind is None or e["type"] == kind]

    def types(self, report):
        return [e["type"] for e in report["events"]]

    def metadata(self, event):
        return [tuple(pair) for pair in event["metadata"]]

    def assertClose(self, report, status, message=None):
        closes = self.events(report, "close")
        self.assertEqual(len(closes), 1, report)
        close = closes[0]
        self.assertEqual(report["events"][-1], close, "close must be the last callback: %r" % report)
        self.assertEqual(close["status"], status, report)
        self.assertEqual(close["get_status"], OK, report)
        self.assertEqual(close["code"], status, "proxy_get_status code differs: %r" % report)
        if message is not None:
            self.assertEqual(latin1(close["message"]).decode("utf-8"), message, report)
        return close


class ProbeTest(ProbeBase):
    """grpc_probe and grpc_bad_input on one worker and one proxy, against the Python gRPC server."""

    @classmethod
    def setUpClass(cls):
        cls.grpc = grpc_server.GrpcTestServer().start()
        cls.http1 = HttpUpstream()          # speaks HTTP/1.1 only
        cls.silent = SilentServer()         # accepts and never answers
        cls.port = free_port()
        try:
            cls.proxy = Proxy(probe_config(cls.port, cls.grpc.port, free_port(), [
                grpc_cluster("http1", cls.http1.port), grpc_cluster("silent", cls.silent.port)])).start()
        except BaseException:
            cls.grpc.stop()
            cls.http1.stop()
            cls.silent.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        cls.grpc.stop()
        cls.http1.stop()
        cls.silent.stop()
        if code != 0:
            raise AssertionError("wasmgate exited with %r on SIGTERM" % code)

    def setUp(self):
        self.grpc.clear()
        self.late_before = self.late_callbacks()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "wasmgate died:\n" + self.proxy.log_tail())

    # ---- unary ----

    def test_unary_ok_metadata_and_messages_both_ways(self):
        report, _ = self.probe("/unary/Echo?m=hello%20world",
                               ["x-md-x-user: alice", "x-md-x-trace: t-1", "x-md-X-Upper: Yes"])
        self.assertEqual(report["start"], OK, report)
        self.assertEqual(report["kind"], "unary")
        self.assertEqual(report["token"] % 2, 0, "unary tokens are even: %r" % report)
        self.assertEqual(self.types(report), ["initial_metadata", "message", "trailing_metadata"], report)
        initial, message, trailing = report["events"]
        for event in report["events"]:
            self.assertEqual(event["token"], report["token"], report)
        md = self.metadata(initial)
        self.assertEqual(initial["count"], len(md), report)
        for pair in [("echo-x-user", "alice"), ("echo-x-trace", "t-1"), ("echo-x-upper", "Yes"),
                     ("server-name", "probe"), ("content-type", "application/grpc")]:
            self.assertIn(pair, md, report)
        self.assertFalse([k for k, _ in md if k.startswith(":")], "pseudo-headers leaked: %r" % md)
        self.assertEqual(message["data"], "echo:hello world", report)
        self.assertEqual(message["size"], len("echo:hello world"), report)
        tmd = self.metadata(trailing)
        self.assertEqual(trailing["count"], len(tmd), report)
        for pair in [("grpc-status", "0"), ("trailer-x-user", "alice"), ("trailer-count", "1")]:
            self.assertIn(pair, tmd, report)
        # What the server saw: the method, the metadata (names lowercased), the message, a deadline.
        (call,) = self.grpc.calls_to("Echo")
        self.assertEqual(call.requests, [b"hello world"])
        self.assertEqual(call.md("x-user"), ["alice"])
        self.assertEqual(call.md("x-trace"), ["t-1"])
        self.assertEqual(call.md("x-upper"), ["Yes"])
        self.assertIsNotNone(call.time_remaining, "no grpc-timeout reached the server")
        self.assertTrue(0.5 < call.time_remaining <= 2.0, call.time_remaining)
        self.assertNoLateCallbacks()

    def test_unary_binary_and_empty_messages(self):
        report, _ = self.probe("/unary/Echo?m=%00%01%FF%0Aend")
        self.assertEqual(latin1(self.events(report, "message")[0]["data"]), b"echo:\x00\x01\xff\nend", report)
        self.assertEqual(self.grpc.calls_to("Echo")[0].requests, [b"\x00\x01\xff\nend"])
        report, _ = self.probe("/unary/Echo")
        self.assertEqual(self.events(report, "message")[0]["data"], "echo:", report)
        self.assertEqual(self.grpc.calls_to("Echo")[1].requests, [b""])

    def test_unary_permission_denied(self):
        report, _ = self.probe("/unary/Fail?m=7:denied%20by%20policy")
        self.assertEqual(report["start"], OK, report)
        self.assertEqual(self.events(report, "message"), [], report)
        self.assertClose(report, GRPC_PERMISSION_DENIED, "denied by policy")
        trailing = self.events(report, "trailing_metadata")
        self.assertEqual(len(trailing), 1, report)
        self.assertIn(("grpc-status", "7"), self.metadata(trailing[0]), report)
        self.assertIn(("fail-detail", "yes"), self.metadata(trailing[0]), report)
        self.assertNoLateCallbacks()

    def test_unary_unavailable_with_message(self):
        report, _ = self.probe("/unary/Fail?m=14:backend%20down")
        self.assertEqual(self.events(report, "message"), [], report)
        self.assertClose(report, GRPC_UNAVAILABLE, "backend down")

    def test_unary_error_message_percent_encoding(self):
        # grpc-message is percent-encoded on the wire; the plugin must get the original bytes.
        text = "100% sure: na\u00efve \u2713"
        report, _ = self.probe("/unary/Fail?m=" + urllib.parse.quote("13:" + text))
        self.assertClose(report, GRPC_INTERNAL, text)

    def test_unary_unknown_method_is_unimplemented(self):
        report, _ = self.probe("/unary/NoSuchMethod?m=x")
        self.assertClose(report, 12)
        self.assertIn("/%s/NoSuchMethod" % PROBE_SERVICE, self.grpc.lookups)

    def test_unary_dead_port_is_unavailable_not_a_hang(self):
        for path in ["/unary/Echo?cluster=dead&m=x", "/stream/Chat?cluster=dead&m=x"]:
            report, elapsed = self.probe(path, max_time=8)
            self.assertEqual(report["start"], OK, report)
            self.assertEqual(self.types(report), ["close"], report)
            self.assertClose(report, GRPC_UNAVAILABLE)
            self.assertLess(elapsed, 3.0, "connection refused took %.2fs" % elapsed)
        # The cluster that works still does.
        report, _ = self.probe("/unary/Echo?m=after")
        self.assertEqual(self.events(report, "message")[0]["data"], "echo:after", report)
        self.assertNoLateCallbacks()

    def test_unary_deadline_exceeded(self):
        report, elapsed = self.probe("/unary/Sleep?m=3000&timeout=300", max_time=8)
        self.assertEqual(report["start"], OK, report)
        self.assertEqual(self.events(report, "message"), [], report)
        self.assertClose(report, GRPC_DEADLINE_EXCEEDED)
        self.assertTrue(0.25 <= elapsed < 2.0, "deadline of 300 ms answered after %.2fs" % elapsed)
        (call,) = self.grpc.calls_to("Sleep")
        self.assertTrue(call.time_remaining is not None and call.time_remaining <= 0.3, call.time_remaining)
        wait_for(lambda: call.cancelled, 3, what="the server to see the call go away")
        self.assertNoLateCallbacks()

    def test_peer_speaking_http1_fails_the_call_not_a_hang(self):
        report, elapsed = self.probe("/unary/Echo?cluster=http1&m=x&timeout=5000", max_time=8)
        self.assertEqual(self.events(report, "message"), [], report)
        close = self.events(report, "close")
        self.assertEqual(len(close), 1, report)
        self.assertNotEqual(close[0]["status"], GRPC_OK, report)
        self.assertLess(elapsed, 3.0, report)
        self.assertServing()

    def test_silent_peer_hits_the_deadline(self):
        report, elapsed = self.probe("/unary/Echo?cluster=silent&m=x&timeout=300", max_time=8)
        self.assertEqual(self.types(report), ["close"], report)
        self.assertClose(report, GRPC_DEADLINE_EXCEEDED)
        self.assertTrue(0.25 <= elapsed < 2.0, elapsed)

    def test_large_messages_both_ways(self):
        # 1 MB to the server (flow control on the way out) and 1 MB back.
        report, _ = self.probe("/unary/Size?m=0123456789&repeat=100000")
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["1000000"], report["events"][:3])
        self.assertEqual(self.grpc.calls_to("Size")[0].size, 1000000)
        report, _ = self.probe("/unary/Big?m=1000000")
        (message,) = self.events(report, "message")
        self.assertEqual(message["size"], 1000000)
        self.assertEqual(message["data"], ("0123456789" * 100000), "the 1 MB message differs")
        # A stream: 3 messages of 300 kB each way.
        report, _ = self.probe("/stream/Chat?m=a&m=b&m=c&repeat=300000")
        self.assertEqual([(e["size"], e["data"][:4]) for e in self.events(report, "message")],
                         [(300003, "re:a"), (300003, "re:b"), (300003, "re:c")])
        self.assertClose(report, GRPC_OK)

    def test_message_over_the_limit_fails_that_call_only(self):
        # wasmgate takes messages up to 4 MiB; 5 MB ends the call with an error status.
        report, elapsed = self.probe("/unary/Big?m=5000000", max_time=8)
        self.assertEqual(self.events(report, "message"), [], "a 5 MB message was delivered")
        close = self.events(report, "close")
        self.assertEqual(len(close), 1, report)
        self.assertNotEqual(close[0]["status"], GRPC_OK, report)
        self.assertServing()

    def test_unknown_cluster_is_parse_failure_and_request_completes(self):
        for path in ["/unary/Echo?cluster=nope&m=x", "/stream/Chat?cluster=nope&m=x"]:
            report, _ = self.probe(path)
            self.assertEqual(report["start"], PARSE_FAILURE, report)
            self.assertEqual(report["done"], "start_failed", report)
            self.assertEqual(report["events"], [], report)
        self.assertEqual(self.grpc.calls, [])
        self.assertEqual(curl(self.url("/plain")).body, b"ok\n")

    # ---- streams ----

    def test_server_streaming(self):
        report, _ = self.probe("/stream/Count?m=5", ["x-md-x-user: bob"])
        self.assertEqual(report["start"], OK, report)
        self.assertEqual(report["token"] % 2, 1, "stream tokens are odd: %r" % report)
        self.assertEqual(report["sends"], [OK], report)
        self.assertEqual(self.types(report),
                         ["initial_metadata"] + ["message"] * 5 + ["trailing_metadata", "close"], report)
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["item-%d" % i for i in range(5)])
        self.assertIn(("items", "5"), self.metadata(self.events(report, "trailing_metadata")[0]), report)
        self.assertIn(("grpc-status", "0"), self.metadata(self.events(report, "trailing_metadata")[0]), report)
        self.assertClose(report, GRPC_OK, "")
        (call,) = self.grpc.calls_to("Count")
        self.assertEqual(call.requests, [b"5"])
        self.assertEqual(call.md("x-user"), ["bob"])
        self.assertTrue(call.time_remaining is None or call.time_remaining > 1e6,
                        "a stream has no deadline, got %r" % call.time_remaining)
        self.assertNoLateCallbacks()

    def test_bidi_streaming(self):
        report, _ = self.probe("/stream/Chat?m=a&m=bb&m=ccc", ["x-md-x-room: r1"])
        self.assertEqual(report["sends"], [OK, OK, OK], report)
        self.assertIn(("echo-x-room", "r1"), self.metadata(self.events(report, "initial_metadata")[0]), report)
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["re:a", "re:bb", "re:ccc"])
        self.assertIn(("received", "3"), self.metadata(self.events(report, "trailing_metadata")[0]), report)
        self.assertClose(report, GRPC_OK)
        self.assertEqual(self.grpc.calls_to("Chat")[0].requests, [b"a", b"bb", b"ccc"])

    def test_bidi_ping_pong(self):
        # Each next message is sent from proxy_on_grpc_receive of the previous answer.
        report, _ = self.probe("/stream/Chat?pingpong=1&" + "&".join("m=p%d" % i for i in range(6)))
        self.assertEqual(report["sends"], [OK] * 6, report)
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["re:p%d" % i for i in range(6)])
        self.assertClose(report, GRPC_OK)
        self.assertEqual(self.grpc.calls_to("Chat")[0].requests, [b"p%d" % i for i in range(6)])

    def test_client_streaming_half_close_with_grpc_close(self):
        report, _ = self.probe("/stream/Collect?m=x&m=y&m=z&half=close")
        self.assertEqual(report["sends"], [OK, OK, OK], report)
        self.assertEqual(report["close"], OK, report)
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["x|y|z"], report)
        self.assertClose(report, GRPC_OK)
        # No messages at all, then proxy_grpc_close: an empty message back.
        report, _ = self.probe("/stream/Collect?half=close")
        self.assertEqual(report["close"], OK, report)
        self.assertEqual([(e["size"], e["data"]) for e in self.events(report, "message")], [(0, "")], report)
        self.assertClose(report, GRPC_OK)

    def test_send_after_half_close_is_refused(self):
        report, _ = self.probe("/stream/Chat?m=only&send_after_close=1")
        self.assertNotEqual(report["late_send"], OK, report)
        self.assertClose(report, GRPC_OK)
        self.assertEqual(self.grpc.calls_to("Chat")[0].requests, [b"only"])

    def test_stream_error_after_messages(self):
        report, _ = self.probe("/stream/StreamFail?m=2")
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["part-0", "part-1"], report)
        self.assertClose(report, GRPC_UNAVAILABLE, "backend went away")

    # ---- many at once ----

    def test_concurrent_calls_are_not_mixed_up(self):
        results = {}

        def client(n):
            urls = [self.url("/unary/Echo?m=c%d-%d" % (n, i)) for i in range(10)]
            urls += [self.url("/stream/Chat?m=s%d-a&m=s%d-b" % (n, n))]
            results[n] = curl_many(urls)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(sorted(results), list(range(6)))
        for n, answers in results.items():
            for i, (status, body) in enumerate(answers[:10]):
                self.assertEqual(status, 200, body)
                report = json.loads(body)
                self.assertEqual([e["data"] for e in report["events"] if e["type"] == "message"],
                                 ["echo:c%d-%d" % (n, i)], report)
            status, body = answers[10]
            report = json.loads(body)
            self.assertEqual([e["data"] for e in report["events"] if e["type"] == "message"],
                             ["re:s%d-a" % n, "re:s%d-b" % n], report)
        self.assertNoLateCallbacks()

    # ---- latency ----

    def test_warm_unary_callout_is_fast(self):
        args = ["curl", "-sS", "--max-time", "20", "--noproxy", "*"]
        for i in range(20):
            args += ["-o", "/dev/null", "-w", "%{http_code} %{time_total}\n", self.url("/unary/Echo?m=fast%d" % i)]
        lines = subprocess.run(args, capture_output=True, timeout=25).stdout.decode().split("\n")
        samples = sorted(float(line.split()[1]) for line in lines if line.startswith("200 "))
        self.assertEqual(len(samples), 20, lines)
        median = samples[len(samples) // 2]
        self.assertLess(median, 0.015, "median %.1f ms per request with one unary callout (samples: %s)"
                        % (median * 1000, ", ".join("%.1f" % (x * 1000) for x in samples)))

    # ---- bad input ----

    # Cases of fixtures/grpc_bad_input.wat that start no call (calls in flight in two VMs at once
    # are TwoPluginsTest's subject; cancels are CancelTest's) and whose answer does not depend on
    # earlier requests, with the hostcall results expected.
    BAD_CASES = {
        "a": "02 ", "b": "02 ", "c": "02 ", "d": "04 ", "e": "04 ", "f": "01 ", "g": "02 ",
        "h": "01 01 02 02 ", "k": "06 06 ", "m": "02 ", "n": "02 ", "o": "02 ",
    }

    def test_bad_input_returns_errors(self):
        for case, expected in sorted(self.BAD_CASES.items()):
            r = curl(self.url("/bad/" + case))
            self.assertEqual((r.status, r.body.decode()), (200, expected), "case %s: %r" % (case, r))
        self.assertEqual(self.proxy.plugin_info("bad-input")["vm_failures"], 0)

    def test_ended_tokens_are_unknown(self):
        # A stream that ended (s), then send/close/cancel on its token (r); a unary call that
        # answered (t), then close/cancel on its token (u).
        r = curl(self.url("/bad/s"))
        self.assertEqual((r.status, r.body), (200, b"00 00 "), r)
        wait_for(lambda: [c for c in self.grpc.calls_to("Chat") if c.terminated.is_set()], 3, what="the stream to end")
        time.sleep(0.2)
        r = curl(self.url("/bad/r"))
        self.assertEqual((r.status, r.body), (200, b"01 01 01 "), r)
        r = curl(self.url("/bad/t"))
        self.assertEqual((r.status, r.body), (200, b"00 "), r)
        wait_for(lambda: [c for c in self.grpc.calls_to("Echo") if c.terminated.is_set()], 3, what="the call to end")
        time.sleep(0.2)
        r = curl(self.url("/bad/u"))
        self.assertEqual((r.status, r.body), (200, b"01 01 "), r)

    def test_pseudo_header_metadata_cannot_redirect_the_call(self):
        r = curl(self.url("/bad/p"))
        self.assertEqual((r.status, r.body), (200, b"00 "), r)
        call = wait_for(lambda: self.grpc.calls_to("Echo"), 3, what="the call to reach Echo")[0]
        wait_for(call.terminated.is_set, 3, what="the call to end")
        time.sleep(0.3)  # its answer reaches wasmgate before the next test starts a call
        self.assertNotIn("/evil", self.grpc.lookups)
        self.assertEqual(self.grpc.calls_to("Echo")[0].md(":path"), [])

    def test_metadata_with_line_feed_is_refused(self):
        # RFC 9113 8.2.1: no CR, LF or NUL in field values; the hostcall refuses the metadata.
        r = curl(self.url("/bad/o"))
        self.assertEqual((r.status, r.body), (200, b"02 "), r)
        time.sleep(0.2)
        self.assertEqual([c.md("x-evil") for c in self.grpc.calls_to("Echo")], [],
                         "a header value with LF reached the server")

    def test_bad_input_while_serving_concurrently(self):
        # Bad hostcalls run in a loop on the one worker while good requests go through it: every
        # good request must succeed.
        bad_urls = [self.url("/bad/" + c) for _ in range(5) for c in sorted(self.BAD_CASES)]
        good_urls = [self.url(p) for _ in range(15) for p in ["/unary/Echo?m=good", "/stream/Chat?m=g1&m=g2", "/ok"]]
        results = {}

        def run(name, urls):
            results[name] = curl_many(urls, max_time=40)

        threads = [threading.Thread(target=run, args=("bad%d" % i, bad_urls)) for i in range(2)]
        threads += [threading.Thread(target=run, args=("good%d" % i, good_urls)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(45)
        self.assertEqual(len(results), 5, "a client did not finish")
        failures = []
        for name, answers in results.items():
            urls = bad_urls if name.startswith("bad") else good_urls
            for url, (status, body) in zip(urls, answers):
                path = url.split(str(self.port), 1)[1]
                if status != 200:
                    failures.append((path, status, body[:200]))
                    continue
                if path.startswith("/bad/"):
                    expected = self.BAD_CASES.get(path[-1])
                    if expected is not None and body.decode() != expected:
                        failures.append((path, status, body))
                elif path.startswith("/unary/"):
                    report = json.loads(body)
                    if [e.get("data") for e in report["events"] if e["type"] == "message"] != ["echo:good"]:
                        failures.append((path, status, report))
                elif path.startswith("/stream/"):
                    report = json.loads(body)
                    closes = [e for e in report["events"] if e["type"] == "close"]
                    if [e.get("data") for e in report["events"] if e["type"] == "message"] != ["re:g1", "re:g2"] \
                            or [c["status"] for c in closes] != [GRPC_OK]:
                        failures.append((path, status, report))
                elif body != b"ok\n":
                    failures.append((path, status, body))
        self.assertEqual(failures[:5], [], "%d bad answers" % len(failures))
        self.assertEqual(self.proxy.plugin_info("bad-input")["vm_failures"], 0)
        self.assertEqual(self.proxy.plugin_info("probe")["vm_failures"], 0)
        self.assertNoLateCallbacks()


# ---------------------------------------------------------------------------------------------
# cancel and close: a fresh proxy per test, so that one crash does not take the others down

class CancelTest(ProbeBase):
    """proxy_grpc_cancel, and proxy_grpc_close on unary calls, while the call is in flight.

    Each test has its own proxy: these used to crash it (a cancelled call's freed state stayed
    the nghttp2 stream's user data; fixed in acb253f)."""

    @classmethod
    def setUpClass(cls):
        cls.grpc = grpc_server.GrpcTestServer().start()

    @classmethod
    def tearDownClass(cls):
        cls.grpc.stop()

    def setUp(self):
        self.grpc.clear()
        self.port = free_port()
        self.proxy = Proxy(probe_config(self.port, self.grpc.port, free_port())).start()
        self.late_before = self.late_callbacks()
        report, _ = self.probe("/unary/Echo?m=warm")  # the connection to the cluster is up
        self.assertEqual(self.events(report, "message")[0]["data"], "echo:warm")
        self.grpc.clear()

    def tearDown(self):
        self.proxy.stop()

    def test_cancel_stream_stops_further_callbacks(self):
        # The server sends 20 items at once; the plugin cancels after the second.
        report, _ = self.probe("/stream/Count?m=20&cancel_after=2")
        self.assertEqual(report["cancel"], OK, report)
        self.assertEqual(report["done"], "cancel", report)
        self.assertEqual(self.types(report), ["initial_metadata", "message", "message"], report)
        self.assertNoLateCallbacks()
        self.assertServing()

    def test_cancel_slow_stream_server_sees_it(self):
        report, _ = self.probe("/stream/Count?m=40:50&cancel_after=2")
        self.assertEqual(self.types(report), ["initial_metadata", "message", "message"], report)
        (call,) = self.grpc.calls_to("Count")
        wait_for(call.terminated.is_set, 3, what="the server to see the cancel")
        self.assertLess(call.sent, 40, call)
        self.assertNoLateCallbacks()
        self.assertServing()

    def test_cancel_unary_in_flight(self):
        report, _ = self.probe("/unary/Sleep?m=300&cancel_after=0")
        self.assertEqual((report["cancel"], report["events"]), (OK, []), report)
        time.sleep(0.5)  # longer than the sleep: an answer would have come by now
        self.assertNoLateCallbacks(settle=0)
        self.assertServing()

    def test_close_cancels_unary_in_flight(self):
        report, _ = self.probe("/unary/Echo?m=x&cancel_after=0&cancel_with=close")
        self.assertEqual((report["cancel"], report["events"]), (OK, []), report)
        self.assertNoLateCallbacks()
        self.assertServing()

    def test_client_going_away_cancels_the_call(self):
        r = curl(self.url("/unary/Sleep?m=4000&timeout=5000"), max_time=0.5)
        self.assertEqual(r.status, 0, "curl should have given up: %r" % r)
        call = wait_for(lambda: self.grpc.calls_to("Sleep"), 2, what="the call to reach the server")[0]
        wait_for(lambda: call.cancelled, 3, what="the server to see the call cancelled")
        self.assertNoLateCallbacks()
        self.assertServing()

    def test_vm_failure_with_a_call_in_flight(self):
        r = curl(self.url("/unary/Sleep?m=500&trap=1"), max_time=5)
        self.assertEqual(r.status, 503, r)
        time.sleep(0.8)  # longer than the sleep: its answer, if any, has come back
        self.assertTrue(self.proxy.alive(), "wasmgate died:\n" + self.proxy.log_tail())
        wait_for(lambda: curl(self.url("/unary/Echo?m=x"), max_time=3).status == 200, 3,
                 what="the rebuilt VM to answer")
        self.assertServing()

    def test_bad_input_on_cancelled_tokens(self):
        # i: stream, cancel, then send/close/cancel; j: unary, close, close/cancel again;
        # l: message out of memory on a live stream, then cancel; q: send after end_stream.
        for case, expected in [("i", b"00 00 01 01 01 "), ("j", b"00 00 01 01 "), ("l", b"00 06 00 "),
                               ("q", b"00 00 01 00 ")]:
            r = curl(self.url("/bad/" + case))
            self.assertEqual((r.status, r.body), (200, expected), "case %s: %r\n%s" % (case, r, self.proxy.log_tail()))
            time.sleep(0.2)
            self.assertServing()


class TwoPluginsTest(ProbeBase):
    """Two plugins (two VMs) on one worker with gRPC calls in flight on the same cluster."""

    def setUp(self):
        self.grpc = grpc_server.GrpcTestServer().start()
        self.port = free_port()
        config = probe_config(self.port, self.grpc.port, free_port())
        config["plugins"].append({"name": "probe2", "url": plugin_url(os.path.join(ARGS.plugins, "grpc_probe.wasm")),
                                  "pluginConfig": {"cluster": "grpc", "service": PROBE_SERVICE, "prefix": "/p2"}})
        try:
            self.proxy = Proxy(config).start()
        except BaseException:
            self.grpc.stop()
            raise
        self.late_before = self.late_callbacks()

    def tearDown(self):
        self.proxy.stop()
        self.grpc.stop()

    def test_same_token_in_two_plugins(self):
        answers = {}
        slow = threading.Thread(target=lambda: answers.setdefault(
            "probe", curl(self.url("/unary/Sleep?m=400"), max_time=4)))
        slow.start()
        wait_for(lambda: self.grpc.calls_to("Sleep"), 3, what="probe's call to reach the server")
        r = curl(self.url("/p2/unary/Echo?m=from-probe2"), max_time=4)
        slow.join(10)
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.proxy.log_tail()))
        report2 = r.json()
        self.assertEqual([e["data"] for e in self.events(report2, "message")], ["echo:from-probe2"], report2)
        r1 = answers["probe"]
        self.assertEqual(r1.status, 200, "%r\n%s" % (r1, self.proxy.log_tail()))
        report1 = r1.json()
        self.assertEqual(report1["token"], report2["token"], "the test wants both calls on the same token")
        self.assertEqual([e["data"] for e in self.events(report1, "message")], ["slept"], report1)
        self.assertNoLateCallbacks()
        self.assertServing()


class RestartTest(ProbeBase):
    """The gRPC server goes away with a stream open, and comes back on the same port."""

    def setUp(self):
        self.grpc = grpc_server.GrpcTestServer().start()
        self.port = free_port()
        try:
            self.proxy = Proxy(probe_config(self.port, self.grpc.port, free_port())).start()
        except BaseException:
            self.grpc.stop()
            raise
        self.late_before = self.late_callbacks()

    def tearDown(self):
        self.proxy.stop()
        self.grpc.stop()

    def test_server_restart(self):
        report, _ = self.probe("/unary/Echo?m=before")
        self.assertEqual(self.events(report, "message")[0]["data"], "echo:before")
        answer = {}
        client = threading.Thread(target=lambda: answer.setdefault("r", curl(self.url("/stream/Count?m=100:50"))))
        client.start()
        call = wait_for(lambda: [c for c in self.grpc.calls_to("Count") if c.sent >= 2], 3,
                        what="the stream to be under way")[0]
        port = self.grpc.port
        self.grpc.server.stop(grace=None).wait(5)
        client.join(10)
        r = answer["r"]
        self.assertEqual(r.status, 200, r)
        report = r.json()
        self.assertGreaterEqual(len(self.events(report, "message")), 2, report)
        self.assertLess(len(self.events(report, "message")), 100, report)
        self.assertClose(report, GRPC_UNAVAILABLE)
        self.assertLess(r.elapsed, 8, r)
        # Back on the same port: the next call reconnects.
        self.grpc = grpc_server.GrpcTestServer(port).start()
        report, _ = self.probe("/unary/Echo?m=after")
        self.assertEqual([e["data"] for e in self.events(report, "message")], ["echo:after"], report)
        self.assertNoLateCallbacks()
        self.assertTrue(call.terminated.is_set())


# ---------------------------------------------------------------------------------------------
# the grpc_auth example


class GrpcAuthTest(unittest.TestCase):
    """examples/plugins/grpc_auth in front of a real HTTP upstream, asking the real Authorizer."""

    @classmethod
    def setUpClass(cls):
        cls.grpc = grpc_server.GrpcTestServer().start()
        cls.upstream = HttpUpstream()
        cls.port = free_port()
        try:
            cls.proxy = Proxy(cls.config(cls.port, cls.grpc.port)).start()
        except BaseException:
            cls.upstream.stop()
            cls.grpc.stop()
            raise

    @staticmethod
    def config(port, authz_port, timeout_ms=500):
        return {
            "admin": {"address": "%s:%d" % (LOOPBACK, free_port())},
            "workers": 2,
            "clusters": [grpc_cluster("authz", authz_port, connect_timeout="1s"),
                         {"name": "backend", "endpoints": ["%s:%d" % (LOOPBACK, GrpcAuthTest.upstream.port)]}],
            "listeners": [{"name": "main", "address": "%s:%d" % (LOOPBACK, port),
                           "routes": [{"match": {"prefix": "/"}, "cluster": "backend"}]}],
            "plugins": [{"name": "grpc-auth", "url": plugin_url(os.path.join(ARGS.plugins, "grpc_auth.wasm")),
                         "pluginConfig": {"cluster": "authz", "timeout_ms": timeout_ms, "failure_status": 503}}],
        }

    @classmethod
    def tearDownClass(cls):
        code = cls.proxy.stop()
        cls.upstream.stop()
        cls.grpc.stop()
        if code != 0:
            raise AssertionError("wasmgate exited with %r on SIGTERM" % code)

    def setUp(self):
        self.grpc.clear()

    def tearDown(self):
        self.assertTrue(self.proxy.alive(), "wasmgate died:\n" + self.proxy.log_tail())

    def url(self, path, port=None):
        return "http://%s:%d%s" % (LOOPBACK, port or self.port, path)

    def upstream_saw(self, path):
        return [r for r in self.upstream.seen() if r["path"] == path]

    def test_allowed_request_reaches_upstream(self):
        r = curl(self.url("/hello?x=1"), ["Authorization: Bearer allow"])
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.proxy.log_tail()))
        self.assertEqual(json.loads(r.body)["path"], "/hello?x=1")
        self.assertEqual(len(self.upstream_saw("/hello?x=1")), 1)
        (call,) = self.grpc.calls_to("Check")
        self.assertEqual(call.check, {"method": "GET", "path": "/hello?x=1", "authorization": "Bearer allow"})
        self.assertTrue(call.time_remaining is not None and call.time_remaining <= 0.5, call.time_remaining)
        # A body goes through once allowed.
        r = curl(self.url("/upload"), ["Authorization: Bearer allow"], method="POST", data=b"payload " * 1000)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.upstream_saw("/upload")[-1]["body"], "payload " * 1000)

    def test_denied_requests_do_not_reach_upstream(self):
        cases = [(["Authorization: Bearer nope"], "/deny-1", "Forbidden: token rejected\n"),
                 ([], "/deny-2", "Forbidden: no credentials\n"),
                 (["Authorization: Bearer forbidden"], "/deny-3", "Forbidden: no access for you\n")]
        for headers, path, body in cases:
            r = curl(self.url(path), headers)
            self.assertEqual((r.status, r.body.decode()), (403, body), r)
            self.assertEqual(self.upstream_saw(path), [])
        self.assertEqual(len(self.grpc.calls_to("Check")), 3)

    def test_authorizer_timeout_fails_closed(self):
        r = curl(self.url("/slow"), ["Authorization: Bearer sleep"], max_time=8)
        self.assertEqual((r.status, r.body), (503, b"Authorization service unavailable\n"), r)
        self.assertLess(r.elapsed, 2.0, r)
        self.assertEqual(self.upstream_saw("/slow"), [])

    def test_many_requests_allowed_and_denied(self):
        urls = []
        for i in range(30):
            urls.append(self.url("/many-%d" % i))
        results = {}

        def run(token):
            cmd = ["curl", "-sS", "--max-time", "20", "--noproxy", "*", "-H", "Authorization: Bearer " + token]
            for url in urls:
                cmd += ["-o", "/dev/null", "-w", "%{http_code}\n", url]
            out = subprocess.run(cmd, capture_output=True, timeout=25).stdout.decode().split()
            results[token] = out

        threads = [threading.Thread(target=run, args=(t,)) for t in ("allow", "nope")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results["allow"], ["200"] * 30)
        self.assertEqual(results["nope"], ["403"] * 30)
        self.assertEqual(sorted(r["path"] for r in self.upstream.seen() if r["path"].startswith("/many-")),
                         sorted("/many-%d" % i for i in range(30)))
        self.assertGreaterEqual(self.proxy.metric("wasmgate_plugin_custom_grpc_auth_allowed_total", "grpc-auth"), 30)
        self.assertGreaterEqual(self.proxy.metric("wasmgate_plugin_custom_grpc_auth_denied_total", "grpc-auth"), 30)

    def test_authorizer_down_fails_closed(self):
        port = free_port()
        proxy = Proxy(self.config(port, free_port())).start()
        try:
            r = curl(self.url("/down", port), ["Authorization: Bearer allow"], max_time=8)
            self.assertEqual((r.status, r.body), (503, b"Authorization service unavailable\n"), r)
            self.assertLess(r.elapsed, 3.0, r)
            self.assertEqual(self.upstream_saw("/down"), [])
        finally:
            self.assertEqual(proxy.stop(), 0)


def main():
    global ARGS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wasmgate", required=True)
    parser.add_argument("--plugins", required=True, help="folder with grpc_probe.wasm and grpc_auth.wasm")
    parser.add_argument("--fixtures", required=True, help="folder with grpc_bad_input.wasm")
    ARGS, rest = parser.parse_known_args()
    ARGS.wasmgate, ARGS.plugins, ARGS.fixtures = (os.path.abspath(p) for p in (ARGS.wasmgate, ARGS.plugins, ARGS.fixtures))
    for path in [ARGS.wasmgate, os.path.join(ARGS.plugins, "grpc_probe.wasm"),
                 os.path.join(ARGS.plugins, "grpc_auth.wasm"), os.path.join(ARGS.fixtures, "grpc_bad_input.wasm")]:
        if not os.path.exists(path):
            print("integration_grpc: missing %s (build first)" % path)
            return 1
    program = unittest.main(argv=[sys.argv[0]] + rest, exit=False)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())

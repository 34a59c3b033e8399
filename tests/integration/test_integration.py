#!/usr/bin/env python3
"""Integration tests: the real `wasmgate serve`, a real upstream server, real clients.

Usage:
  test_integration.py --wasmgate PATH --plugins DIR [--wat2wasm PATH] [unittest arguments]

The plugins folder holds the example plugins (<name>.wasm). Each TestCase class starts its own
proxy (2 workers, admin on a free port) and its own peers on loopback. Standard library, curl and
wat2wasm only.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (  # noqa: E402
    LOOPBACK, Background, IncompleteResponse, Proxy, RawConnection, base_config, build_request,
    chunked, cluster, curl, free_port, get, header_values, http_listener, metric, payload,
    plugin, port_is_free, route, sha256, start_auth_server, start_upstream, wait_for, with_header)

WASMGATE = None
PLUGINS = None
WAT2WASM = None
FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

FIVE_MB = 5 * 1024 * 1024
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def wasm(name):
    return os.path.join(PLUGINS, name + ".wasm")


def new_id():
    return uuid.uuid4().hex


class ProxyTestCase(unittest.TestCase):
    """Starts an upstream and one proxy per class; checks the proxy survives every test and
    exits 0 on SIGTERM at the end. Subclasses give make_config() (and setUpPeers())."""

    log_level = "info"

    @classmethod
    def setUpPeers(cls):
        pass

    @classmethod
    def make_config(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.upstream = start_upstream()
        cls.addClassCleanup(cls.upstream.stop)
        cls.port = free_port()
        cls.setUpPeers()
        cls.proxy = Proxy(WASMGATE, cls.make_config(), cls.log_level)
        cls.addClassCleanup(cls.proxy.cleanup)
        cls.addClassCleanup(cls.proxy.kill)
        cls.proxy.start()

    @classmethod
    def tearDownClass(cls):
        alive = cls.proxy.alive()
        started = time.monotonic()
        code = cls.proxy.stop(timeout=5)
        if not alive or code != 0:
            raise AssertionError("wasmgate %s (exit status %r after SIGTERM, %.1fs); log:\n%s"
                                 % ("had died" if not alive else "did not stop cleanly", code,
                                    time.monotonic() - started, cls.proxy.log_tail()))

    def tearDown(self):
        if not self.proxy.alive():
            self.fail("wasmgate died during this test (exit %r); log:\n%s"
                      % (self.proxy.process.returncode, self.proxy.log_tail()))
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is not None and any(t is self for t, _ in result.failures + result.errors):
            sys.stderr.write("\n--- wasmgate log (%s) ---\n%s\n---\n" % (self.id(), self.proxy.log_tail(40)))

    # helpers
    def url(self, path, port=None):
        return "http://%s:%d%s" % (LOOPBACK, port or self.port, path)

    def upstream_saw(self, tid):
        return self.upstream.seen(with_header("x-test-id", tid))

    def assert_upstream_saw_nothing(self, tid):
        time.sleep(0.1)  # anything forwarded would have arrived by now
        self.assertEqual(self.upstream_saw(tid), [], "the upstream received the request")


# ---------------------------------------------------------------------------------------------


ADD_HEADER_CONFIG = {"request_headers": {"x-added": "yes"},
                     "response_headers": {"x-served-by": "wasmgate"}}
DENY_CONFIG = {"path_prefixes": ["/admin"], "headers": {"x-blocked": "yes"},
               "status": 451, "body": "denied by test\n"}


class PluginChainTest(ProxyTestCase):
    """add_header and deny, in front of the real upstream."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("add-header", wasm("add_header"), "add_header", ADD_HEADER_CONFIG, phase="AUTHN"),
             plugin("deny", wasm("deny"), "deny", DENY_CONFIG, phase="AUTHZ")])

    def test_add_header_reaches_upstream_and_client(self):
        tid = new_id()
        r = curl(self.url("/hello"), "-H", "x-test-id: " + tid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-served-by"), "wasmgate")
        self.assertEqual(r.header("x-upstream"), "yes")
        seen_by_upstream = r.json()["headers"]
        self.assertEqual(header_values(seen_by_upstream, "x-added"), ["yes"])
        [entry] = self.upstream_saw(tid)
        self.assertEqual(entry["path"], "/hello")
        self.assertEqual(header_values(entry["headers"], "x-added"), ["yes"])

    def test_add_header_keeps_the_clients_value(self):
        tid = new_id()
        r = get(self.port, "/keep", [("x-test-id", tid), ("x-added", "original")])
        self.assertEqual(r.status, 200)
        [entry] = self.upstream_saw(tid)
        self.assertEqual(header_values(entry["headers"], "x-added"), ["original", "yes"])

    def test_deny_by_path_answers_locally(self):
        tid = new_id()
        r = curl(self.url("/admin/users"), "-H", "x-test-id: " + tid)
        self.assertEqual(r.status, 451)
        self.assertEqual(r.body, b"denied by test\n")
        self.assertEqual(r.header("content-type"), "text/plain")
        self.assertEqual(r.header("content-length"), str(len(b"denied by test\n")))
        self.assertIsNone(r.header("x-upstream"))
        self.assert_upstream_saw_nothing(tid)

    def test_deny_by_header(self):
        tid = new_id()
        self.assertEqual(get(self.port, "/x", [("x-test-id", tid), ("x-blocked", "yes")]).status, 451)
        self.assert_upstream_saw_nothing(tid)
        self.assertEqual(get(self.port, "/x", [("x-blocked", "no")]).status, 200)

    def test_local_response_keeps_the_connection_usable(self):
        with RawConnection(self.port) as c:
            tid = new_id()
            r1 = c.request("GET", "/admin", [("x-test-id", tid)])
            r2 = c.request("GET", "/after-deny")
        self.assertEqual((r1.status, r1.body), (451, b"denied by test\n"))
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.json()["path"], "/after-deny")
        self.assert_upstream_saw_nothing(tid)

    def test_pipelined_local_reply_between_forwarded_requests(self):
        tid = new_id()
        with RawConnection(self.port) as c:
            c.send(build_request("GET", "/p/1") + build_request("GET", "/admin/p", [("x-test-id", tid)]) +
                   build_request("GET", "/p/3"))
            r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        self.assertEqual((r1.status, r1.json()["path"]), (200, "/p/1"))
        self.assertEqual((r2.status, r2.body), (451, b"denied by test\n"))
        self.assertEqual((r3.status, r3.json()["path"]), (200, "/p/3"))
        self.assert_upstream_saw_nothing(tid)

    def test_denied_request_with_body_is_not_forwarded(self):
        tid = new_id()
        body = payload(200_000)
        with RawConnection(self.port) as c:
            r = c.request("POST", "/admin/upload", [("x-test-id", tid)], body)
        self.assertEqual(r.status, 451)
        self.assert_upstream_saw_nothing(tid)

    def test_requests_read_in_one_turn_get_their_own_answers(self):
        # Requests on many connections at once: the header callbacks of those a worker reads in
        # one event-loop pass run in batches, one guest entry for several streams. Each request
        # must still get its own plugins' decisions, and the counters must show a real batch.
        def batch_counters():
            stats = self.proxy.stats()
            return (metric(stats, "wasmgate_plugin_header_batches_total", plugin="deny"),
                    metric(stats, "wasmgate_plugin_batched_header_callbacks_total", plugin="deny"))

        before = batch_counters()
        for attempt in range(20):
            connections = [RawConnection(self.port) for _ in range(24)]
            try:
                sent = []
                for i, c in enumerate(connections):
                    denied = i % 3 == 0
                    tid = new_id()
                    headers = [("x-test-id", tid)] + ([("x-blocked", "yes")] if denied else [])
                    sent.append((c, "/batch/%d/%d" % (attempt, i), denied, tid, headers))
                for c, path, _, _, headers in sent:
                    c.send(build_request("GET", path, headers))
                for c, path, denied, tid, _ in sent:
                    r = c.read_response()
                    if denied:
                        self.assertEqual((r.status, r.body), (451, b"denied by test\n"), path)
                        self.assertEqual(self.upstream_saw(tid), [], path)
                    else:
                        self.assertEqual(r.status, 200, path)
                        self.assertEqual(r.json()["path"], path)
                        self.assertEqual(header_values(r.json()["headers"], "x-added"), ["yes"])
                        self.assertEqual(r.header("x-served-by"), "wasmgate", path)
            finally:
                for c in connections:
                    c.close()
            batches, callbacks = (a - b for a, b in zip(batch_counters(), before))
            if callbacks > batches:
                break  # some batch ran more than one stream's callback
        else:
            self.fail("no batch held more than one header callback: %d batches, %d callbacks"
                      % (batches, callbacks))

    def test_clients_resetting_right_after_their_request_leave_the_others_unharmed(self):
        # A request whose client resets the connection in the same loop pass that read it: its
        # header callback waits in a batch and must be dropped with the stream, while the
        # requests read beside it are answered.
        for attempt in range(10):
            good = [RawConnection(self.port) for _ in range(8)]
            doomed = [socket.create_connection((LOOPBACK, self.port), timeout=5) for _ in range(8)]
            try:
                for i, (g, d) in enumerate(zip(good, doomed)):
                    g.send(build_request("GET", "/reset/%d/%d" % (attempt, i)))
                    d.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    d.sendall(build_request("GET", "/doomed/%d/%d" % (attempt, i)))
                    d.close()  # RST, with the request maybe still unread
                for i, g in enumerate(good):
                    r = g.read_response()
                    self.assertEqual(r.status, 200)
                    self.assertEqual(r.json()["path"], "/reset/%d/%d" % (attempt, i))
                    self.assertEqual(r.header("x-served-by"), "wasmgate")
            finally:
                for g in good:
                    g.close()
                for d in doomed:
                    d.close()
        self.assertTrue(self.proxy.alive())

    def test_denied_expect_continue_gets_the_final_status_without_100(self):
        tid = new_id()
        with RawConnection(self.port, timeout=5) as c:
            c.send(build_request("POST", "/admin/x", [("x-test-id", tid), ("Expect", "100-continue"),
                                                      ("Content-Length", "100000")]))
            r = c.read_response("POST")
        self.assertEqual(r.interim, [])
        self.assertEqual(r.status, 451)
        self.assert_upstream_saw_nothing(tid)


# ---------------------------------------------------------------------------------------------


class BodyTest(ProxyTestCase):
    """5 MB bodies both ways, through a plugin chain."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("add-header", wasm("add_header"), "add_header", ADD_HEADER_CONFIG)])

    @classmethod
    def setUpPeers(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wasmgate-body-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.data = payload(FIVE_MB, seed=11)
        cls.data_file = os.path.join(cls.tmp, "five.bin")
        with open(cls.data_file, "wb") as f:
            f.write(cls.data)

    def check_upstream_body(self, tid):
        [entry] = self.upstream_saw(tid)
        self.assertNotIn("error", entry)
        self.assertEqual(entry["body_length"], FIVE_MB)
        self.assertEqual(entry["body_sha256"], sha256(self.data))
        return entry

    def test_content_length_request_body_both_ways(self):
        tid = new_id()
        r = curl(self.url("/echo"), "--data-binary", "@" + self.data_file,
                 "-H", "Content-Type: application/octet-stream", "-H", "x-test-id: " + tid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.status, 200)
        self.assertEqual(len(r.body), FIVE_MB)
        self.assertEqual(sha256(r.body), sha256(self.data))
        self.assertEqual(r.header("x-served-by"), "wasmgate")
        self.check_upstream_body(tid)

    def test_chunked_request_body_from_curl(self):
        tid = new_id()
        r = curl(self.url("/echo"), "--data-binary", "@" + self.data_file,
                 "-H", "Transfer-Encoding: chunked", "-H", "x-test-id: " + tid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.status, 200)
        self.assertEqual(sha256(r.body), sha256(self.data))
        self.check_upstream_body(tid)

    def test_chunked_request_body_with_odd_chunks_extension_and_trailer(self):
        tid = new_id()
        framed = b"5;name=value\r\n" + self.data[:5] + b"\r\n"
        framed += chunked(self.data[5:], sizes=(1, 7, 4093, 65536, 1048573))[:-2]  # drop the final CRLF
        framed += b"x-trailer: t1\r\n\r\n"
        with RawConnection(self.port, timeout=20) as c:
            c.send(build_request("POST", "/echo", [("x-test-id", tid), ("Transfer-Encoding", "chunked")]) + framed)
            r = c.read_response("POST")
            self.assertEqual(r.status, 200)
            self.assertEqual(sha256(r.body), sha256(self.data))
            follow = c.request("GET", "/after-chunked")  # the framing ended where it should
            self.assertEqual(follow.json()["path"], "/after-chunked")
        entry = self.check_upstream_body(tid)
        self.assertEqual(entry["trailers"], ["x-trailer: t1"])

    def test_chunked_response_from_upstream(self):
        r = curl(self.url("/bytes/%d" % FIVE_MB))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("transfer-encoding"), "chunked")
        self.assertEqual(len(r.body), FIVE_MB)
        self.assertEqual(sha256(r.body), sha256(payload(FIVE_MB)))

    def test_chunked_response_to_http10_client_is_close_delimited(self):
        with RawConnection(self.port, timeout=20) as c:
            c.send(build_request("GET", "/bytes/%d" % FIVE_MB, version="HTTP/1.0"))
            r = c.read_response()
        self.assertIsNone(r.header("transfer-encoding"))
        self.assertEqual(sha256(r.body), sha256(payload(FIVE_MB)))

    def test_parallel_large_bodies(self):
        results = {}

        def upload(n):
            tid = new_id()
            data = payload(FIVE_MB, seed=100 + n)
            r = get(self.port, "/echo", [("x-test-id", tid)], timeout=30, method="POST", body=data)
            results[n] = (r.status, sha256(r.body) == sha256(data), tid, sha256(data))

        threads = [threading.Thread(target=upload, args=(n,)) for n in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(sorted(results), [0, 1, 2])
        for status, intact, tid, digest in results.values():
            self.assertEqual((status, intact), (200, True))
            [entry] = self.upstream_saw(tid)
            self.assertEqual(entry["body_sha256"], digest)


# ---------------------------------------------------------------------------------------------


EXT_AUTH_CONFIG = {"cluster": "auth", "path": "/check", "timeout_ms": 2000,
                   "forward_headers": ["x-allowed"], "allowed_upstream_headers": ["x-user"]}


class StalledReader:
    """An upstream that accepts one connection, reads nothing until release(), then reads the
    request head and a content-length body and answers 200 with the body's length."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((LOOPBACK, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.released = threading.Event()
        self.received = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.sock.accept()
        with conn:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            self.released.wait(60)
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            received = len(body)
            while received < length:
                chunk = conn.recv(1 << 20)
                if not chunk:
                    break
                received += len(chunk)
            self.received = received
            answer = str(received).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))

    def release(self):
        self.released.set()

    def stop(self):
        self.released.set()
        self.sock.close()


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class RequestBackPressureTest(ProxyTestCase):
    """A client uploading faster than the upstream reads is itself slowed down: the proxy holds
    a bounded amount of the body, not all of it."""

    BODY = 96 * 1024 * 1024

    @classmethod
    def setUpPeers(cls):
        cls.stalled = StalledReader()
        cls.addClassCleanup(cls.stalled.stop)

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "stalled")])],
            [cluster("stalled", cls.stalled.port)], workers=1)

    def test_upload_to_a_stalled_upstream_is_held_back_not_buffered(self):
        rss_before = rss_kb(self.proxy.process.pid)
        result = {}

        def upload():
            conn = socket.create_connection((LOOPBACK, self.port), timeout=60)
            with conn:
                conn.sendall(b"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: %d\r\n\r\n"
                             % self.BODY)
                block = b"x" * (1 << 20)
                sent = 0
                while sent < self.BODY:
                    sent += conn.send(block[:min(len(block), self.BODY - sent)])
                    result["sent"] = sent
                result["answer"] = conn.recv(65536)

        client = threading.Thread(target=upload, daemon=True)
        client.start()
        time.sleep(2)  # the client sends as fast as it may; the upstream reads nothing
        sent_while_stalled = result.get("sent", 0)
        growth_mb = (rss_kb(self.proxy.process.pid) - rss_before) / 1024
        self.stalled.release()
        client.join(60)
        self.assertFalse(client.is_alive(), "the upload did not finish once the upstream read")
        self.assertLess(sent_while_stalled, self.BODY // 2,
                        "the client could send %d bytes to a stalled upstream" % sent_while_stalled)
        self.assertLess(growth_mb, 24, "wasmgate grew by %.0f MiB holding the body" % growth_mb)
        self.assertEqual(self.stalled.received, self.BODY)
        self.assertIn(b"200 OK", result["answer"])
        self.assertTrue(result["answer"].endswith(str(self.BODY).encode()))


class ExtAuthTest(ProxyTestCase):
    """ext_auth with a real authorization server; a second listener's instance points at a port
    where nothing listens."""

    @classmethod
    def setUpPeers(cls):
        cls.auth = start_auth_server()
        cls.addClassCleanup(cls.auth.stop)
        cls.down_port = free_port()
        cls.nocluster_port = free_port()

    @classmethod
    def make_config(cls):
        down_config = dict(EXT_AUTH_CONFIG, cluster="auth-down")
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")]),
             http_listener("down", cls.down_port, [route("/", "backend")]),
             http_listener("nocluster", cls.nocluster_port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port), cluster("auth", cls.auth.port),
             cluster("auth-down", free_port(), connect_timeout="500ms")],
            [plugin("ext-auth", wasm("ext_auth"), "ext_auth", EXT_AUTH_CONFIG,
                    match=[{"ports": [{"number": cls.port}]}]),
             plugin("ext-auth-down", wasm("ext_auth"), "ext_auth", down_config,
                    match=[{"ports": [{"number": cls.down_port}]}]),
             plugin("ext-auth-nocluster", wasm("ext_auth"), "ext_auth",
                    dict(EXT_AUTH_CONFIG, cluster="no-such-cluster"),
                    match=[{"ports": [{"number": cls.nocluster_port}]}])])

    def auth_saw(self, tid):
        """The checks the auth server received for the request whose path carries tid."""
        return [r for r in self.auth.seen() if tid in "".join(header_values(r["headers"], "x-original-path"))]

    def test_allowed_request_reaches_upstream_with_the_auth_header(self):
        tid = new_id()
        r = get(self.port, "/resource?id=" + tid,
                [("x-allowed", "yes"), ("x-test-id", tid), ("x-user", "mallory")])
        self.assertEqual(r.status, 200)
        [entry] = self.upstream_saw(tid)
        self.assertEqual(header_values(entry["headers"], "x-user"), ["alice"])  # the client's is replaced
        [check] = self.auth_saw(tid)
        self.assertEqual(check["method"], "GET")
        self.assertEqual(check["path"], "/check")
        self.assertEqual(header_values(check["headers"], "x-original-path"), ["/resource?id=" + tid])
        self.assertEqual(header_values(check["headers"], "x-original-method"), ["GET"])
        self.assertEqual(header_values(check["headers"], "x-allowed"), ["yes"])

    def test_denied_request_gets_403_and_never_reaches_upstream(self):
        for headers in ([], [("x-allowed", "no")]):
            tid = new_id()
            r = get(self.port, "/resource?id=" + tid, headers + [("x-test-id", tid)])
            self.assertEqual(r.status, 403)
            self.assertEqual(len(self.auth_saw(tid)), 1)
            self.assert_upstream_saw_nothing(tid)

    def test_allowed_post_body_survives_the_pause(self):
        tid = new_id()
        body = payload(300_000, seed=3)
        r = get(self.port, "/echo?id=" + tid, [("x-allowed", "yes"), ("x-test-id", tid)],
                method="POST", body=body)
        self.assertEqual(r.status, 200)
        self.assertEqual(sha256(r.body), sha256(body))
        [entry] = self.upstream_saw(tid)
        self.assertEqual(entry["body_sha256"], sha256(body))

    def test_unreachable_auth_service_gives_503(self):
        tid = new_id()
        r = get(self.down_port, "/resource", [("x-allowed", "yes"), ("x-test-id", tid)])
        self.assertEqual(r.status, 503)
        self.assert_upstream_saw_nothing(tid)
        # the healthy listener is unaffected
        self.assertEqual(get(self.port, "/resource", [("x-allowed", "yes")]).status, 200)

    def test_unknown_auth_cluster_gives_503(self):
        tid = new_id()
        r = get(self.nocluster_port, "/resource", [("x-allowed", "yes"), ("x-test-id", tid)])
        self.assertEqual(r.status, 503)
        self.assert_upstream_saw_nothing(tid)

    def test_concurrent_mixed_decisions(self):
        outcomes = []
        lock = threading.Lock()

        def client(n):
            for i in range(6):
                allowed = (n + i) % 2 == 0
                r = get(self.port, "/c%d/%d" % (n, i), [("x-allowed", "yes" if allowed else "no")])
                with lock:
                    outcomes.append((allowed, r.status))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(len(outcomes), 24)
        for allowed, status in outcomes:
            self.assertEqual(status, 200 if allowed else 403)


# ---------------------------------------------------------------------------------------------


class RateLimitTest(ProxyTestCase):
    """rate_limit's buckets live in shared data: the limit holds across both workers."""

    log_level = "debug"  # the worker that rejects a request logs it with the client's port
    capacity = 8

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("rate-limit", wasm("rate_limit"), "rate_limit",
                    {"capacity": cls.capacity, "refill_per_second": 0, "key_header": "x-client-id"})])

    def worker_of(self, local_port):
        """The worker that served the connection from local_port (see the BOGUS request below)."""
        pattern = re.compile(r"\[worker (\d+)\] rejected request from 127\.0\.0\.1:%d:" % local_port)

        def find():
            m = pattern.search(self.proxy.log_text())
            return m and m.group(1)
        return wait_for(find, 5, what="the worker log line of port %d" % local_port)

    def test_limit_is_shared_across_workers(self):
        before = self.proxy.stats()
        results = []
        for _ in range(2 * self.capacity):
            with RawConnection(self.port) as c:
                r = c.request("GET", "/limited", [("x-client-id", "client-a")])
                # A malformed request on the same connection makes its worker log the client port.
                c.send(b"BOGUS\r\n\r\n")
                self.assertEqual(c.read_response().status, 400)
                results.append((r, c.local_port))
        statuses = [r.status for r, _ in results]
        self.assertEqual(statuses, [200] * self.capacity + [429] * self.capacity)
        remaining = [r.header("x-ratelimit-remaining") for r, _ in results[:self.capacity]]
        self.assertEqual(remaining, [str(n) for n in range(self.capacity - 1, -1, -1)])
        for r, _ in results[self.capacity:]:
            self.assertEqual(r.header("retry-after"), "1")
        workers = {self.worker_of(port) for _, port in results}
        self.assertEqual(workers, {"0", "1"}, "all connections landed on one worker; "
                                              "the test proves nothing")
        after = self.proxy.stats()
        for name, expected in (("rate_limit_allowed_total", self.capacity),
                               ("rate_limit_denied_total", self.capacity)):
            full = "wasmgate_plugin_custom_" + name
            self.assertEqual(metric(after, full, plugin="rate-limit") - metric(before, full, plugin="rate-limit"),
                             expected, full)
        # 429s are local responses: the upstream saw exactly `capacity` of them
        self.assertEqual(len(self.upstream.seen(lambda e: e["path"] == "/limited")), self.capacity)

    def test_other_clients_have_their_own_bucket(self):
        statuses = [get(self.port, "/other", [("x-client-id", "client-b")]).status for _ in range(3)]
        self.assertEqual(statuses, [200, 200, 200])


# ---------------------------------------------------------------------------------------------


class HttpSemanticsTest(ProxyTestCase):
    """HTTP/1.1 connection handling and the headers a proxy owns."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port,
                           [route("/direct", direct_response={"status": 200, "body": "direct\n"}),
                            route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("add-header", wasm("add_header"), "add_header", ADD_HEADER_CONFIG)])

    def test_head(self):
        with RawConnection(self.port) as c:
            r = c.request("HEAD", "/head")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("content-length"), "1234")
            self.assertEqual(r.body, b"")
            follow = c.request("GET", "/after-head")  # no body bytes were sent after the head
            self.assertEqual(follow.json()["path"], "/after-head")
        r = curl(self.url("/head"), "-I")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-length"), "1234")

    def test_connection_close(self):
        with RawConnection(self.port) as c:
            r = c.request("GET", "/close-me", [("Connection", "close")])
            self.assertEqual(r.status, 200)
            self.assertEqual((r.header("connection") or "").lower(), "close")
            closed, extra = c.wait_closed(3)
        self.assertTrue(closed, "the connection stayed open after Connection: close")
        self.assertEqual(extra, b"")

    def test_http10_without_keep_alive_closes(self):
        with RawConnection(self.port) as c:
            c.send(build_request("GET", "/old", version="HTTP/1.0"))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["path"], "/old")
            closed, _ = c.wait_closed(3)
        self.assertTrue(closed)

    def test_http10_keep_alive_is_announced(self):
        with RawConnection(self.port) as c:
            c.send(build_request("GET", "/old-ka", [("Connection", "keep-alive")], version="HTTP/1.0"))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual((r.header("connection") or "").lower(), "keep-alive")

    def test_keep_alive_serves_several_requests(self):
        with RawConnection(self.port) as c:
            for i in range(6):
                r = c.request("GET", "/ka/%d" % i)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json()["path"], "/ka/%d" % i)
                self.assertNotEqual((r.header("connection") or "").lower(), "close")

    def test_pipelined_requests_answered_in_order(self):
        with RawConnection(self.port) as c:
            c.send(build_request("GET", "/pipe/1") + build_request("GET", "/pipe/2"))
            r1 = c.read_response()
            r2 = c.read_response()
        self.assertEqual((r1.status, r1.json()["path"]), (200, "/pipe/1"))
        self.assertEqual((r2.status, r2.json()["path"]), (200, "/pipe/2"))

    def test_pipelined_mixed_methods_and_bodies(self):
        with RawConnection(self.port) as c:
            c.send(build_request("GET", "/mix/1") + build_request("HEAD", "/mix/2") +
                   build_request("POST", "/echo/3", body=b"third body") +
                   build_request("GET", "/direct") + build_request("GET", "/mix/5"))
            responses = [c.read_response(m) for m in ("GET", "HEAD", "POST", "GET", "GET")]
        self.assertEqual([r.status for r in responses], [200] * 5)
        self.assertEqual(responses[0].json()["path"], "/mix/1")
        self.assertEqual(responses[1].body, b"")
        self.assertEqual(responses[2].body, b"third body")
        self.assertEqual(responses[3].body, b"direct\n")
        self.assertEqual(responses[4].json()["path"], "/mix/5")

    def test_expect_100_continue_with_curl(self):
        body = b"q" * 5000
        with tempfile.NamedTemporaryFile() as f:
            f.write(body)
            f.flush()
            r = curl(self.url("/echo"), "--data-binary", "@" + f.name, "-H", "Expect: 100-continue",
                     "--expect100-timeout", "10")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([status for status, _ in r.blocks], [100, 200])
        self.assertEqual(r.body, body)
        self.assertLess(r.elapsed, 5, "curl waited for its expect100 timeout")

    def test_expect_100_continue_raw(self):
        with RawConnection(self.port, timeout=5) as c:
            c.send(build_request("POST", "/echo", [("Expect", "100-continue"), ("Content-Length", "11")]))
            version, status, _, _ = c.read_head()  # must come before any body is sent
            self.assertEqual(status, 100)
            c.send(b"hello world")
            r = c.read_response("POST")
        self.assertEqual((r.status, r.body), (200, b"hello world"))

    def test_hop_by_hop_request_headers_removed(self):
        tid = new_id()
        with RawConnection(self.port) as c:
            r = c.request("GET", "/hop", [("x-test-id", tid), ("Connection", "keep-alive, x-foo"),
                                          ("x-foo", "secret"), ("Keep-Alive", "timeout=5"),
                                          ("Proxy-Connection", "keep-alive"), ("TE", "trailers"),
                                          ("Upgrade", "websocket")])
        self.assertEqual(r.status, 200)
        [entry] = self.upstream_saw(tid)
        names = {k for k, _ in entry["headers"]}
        for name in ("keep-alive", "proxy-connection", "te", "upgrade"):
            self.assertNotIn(name, names)

    def test_connection_nominated_request_header_removed(self):
        tid = new_id()
        get(self.port, "/nominated", [("x-test-id", tid), ("Connection", "x-foo"), ("x-foo", "secret")])
        [entry] = self.upstream_saw(tid)
        self.assertEqual(header_values(entry["headers"], "x-foo"), [])

    def test_connection_nominated_response_header_removed(self):
        r = get(self.port, "/conn-token")
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("x-up-secret"))

    def test_forwarded_for_and_request_id_added(self):
        tid = new_id()
        get(self.port, "/ids", [("x-test-id", tid)])
        get(self.port, "/ids", [("x-test-id", tid), ("X-Forwarded-For", "10.1.2.3")])
        get(self.port, "/ids", [("x-test-id", tid), ("x-request-id", "client-chosen-id")])
        first, second, third = self.upstream_saw(tid)
        self.assertEqual(header_values(first["headers"], "x-forwarded-for"), ["127.0.0.1"])
        self.assertEqual(header_values(second["headers"], "x-forwarded-for"), ["10.1.2.3, 127.0.0.1"])
        ids = [header_values(e["headers"], "x-request-id") for e in (first, second)]
        for one in ids:
            self.assertEqual(len(one), 1)
            self.assertRegex(one[0], UUID_RE)
        self.assertNotEqual(ids[0], ids[1])
        self.assertEqual(header_values(third["headers"], "x-request-id"), ["client-chosen-id"])

    def test_host_and_query_forwarded(self):
        tid = new_id()
        with RawConnection(self.port) as c:
            r = c.request("GET", "/q?a=1&b=%20x&c", [("x-test-id", tid)], host="example.test:1234")
        self.assertEqual(r.status, 200)
        [entry] = self.upstream_saw(tid)
        self.assertEqual(entry["path"], "/q?a=1&b=%20x&c")
        self.assertEqual(header_values(entry["headers"], "host"), ["example.test:1234"])

    def test_bodiless_statuses_keep_framing(self):
        with RawConnection(self.port) as c:
            r204 = c.request("GET", "/status/204")
            r304 = c.request("GET", "/status/304")
            r = c.request("GET", "/after-204")
        self.assertEqual((r204.status, r204.body), (204, b""))
        self.assertEqual((r304.status, r304.body), (304, b""))
        self.assertEqual(r.json()["path"], "/after-204")

    def test_absolute_form_request_target(self):
        tid = new_id()
        r = curl("http://example.test/abs?x=1", "-x", self.url(""), "-H", "x-test-id: " + tid)
        self.assertEqual(r.status, 200, r.body)
        [entry] = self.upstream_saw(tid)
        self.assertEqual(entry["path"], "/abs?x=1")
        self.assertEqual(header_values(entry["headers"], "host"), ["example.test"])

    def test_close_delimited_upstream_body_is_rechunked(self):
        with RawConnection(self.port) as c:
            r = c.request("GET", "/no-length")
            self.assertEqual(r.header("transfer-encoding"), "chunked")
            self.assertEqual(sha256(r.body), sha256(payload(300_000, seed=5)))
            self.assertEqual(c.request("GET", "/after-no-length").status, 200)

    def test_upstream_interim_100_is_not_the_final_response(self):
        with RawConnection(self.port) as c:
            r = c.request("GET", "/early-100")
            self.assertEqual((r.status, r.json()["path"]), (200, "/early-100"))
            self.assertEqual(c.request("GET", "/after-100").json()["path"], "/after-100")

    def test_upstream_connection_close_is_honoured(self):
        with RawConnection(self.port) as c:
            paths = ["/then-close", "/a", "/then-close", "/b", "/then-close", "/then-close", "/c"]
            statuses = [c.request("GET", p).status for p in paths]
        self.assertEqual(statuses, [200] * len(paths))

    def test_many_concurrent_connections(self):
        connections = [RawConnection(self.port) for _ in range(64)]
        try:
            for i, c in enumerate(connections):
                c.send(build_request("GET", "/many/%d" % i))
            responses = [c.read_response() for c in connections]
            self.assertEqual([r.status for r in responses], [200] * 64)
            paths = [r.json()["path"] for r in responses]
        finally:
            for c in connections:
                c.close()
        self.assertEqual(paths, ["/many/%d" % i for i in range(64)])

    def test_direct_response_runs_the_plugins(self):
        r = curl(self.url("/direct"))
        self.assertEqual((r.status, r.body), (200, b"direct\n"))
        self.assertEqual(r.header("x-served-by"), "wasmgate")


# ---------------------------------------------------------------------------------------------


class BadInputTest(ProxyTestCase):
    """Malformed and hostile input on one side, a well-behaved client loop on the other."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port,
                           [route("/hang", "backend", timeout="1s"),
                            route("/slow", "backend", timeout="1s"),
                            route("/refused", "refused"),
                            route("/", "backend")],
                           request_headers_timeout="1s", idle_timeout="2s")],
            [cluster("backend", cls.upstream.port),
             cluster("refused", free_port(), connect_timeout="500ms")])

    def expect_rejected(self, data, status):
        with Background(self.port) as bg:
            with RawConnection(self.port, timeout=5) as c:
                c.send(data)
                r = c.read_response()
                closed, _ = c.wait_closed(3)
        bg.check(self)
        self.assertEqual(r.status, status, r.body)
        self.assertEqual((r.header("connection") or "").lower(), "close")
        self.assertTrue(closed, "the connection stayed open after %d" % status)
        return r

    def test_malformed_request_lines(self):
        before = self.proxy.stats()
        for data in (b"NOT A REQUEST\r\n\r\n",
                     b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                     b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
                     b"GET / HTTP/7.5\r\nHost: x\r\n\r\n",
                     b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"):
            with self.subTest(data=data):
                self.expect_rejected(data, 400)
        after = self.proxy.stats()
        name = "wasmgate_listener_downstream_rq_rejected_total"
        self.assertGreaterEqual(metric(after, name, listener="main") - metric(before, name, listener="main"), 5)

    def test_malformed_header(self):
        self.expect_rejected(b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400)

    def test_oversized_headers_get_431(self):
        self.expect_rejected(build_request("GET", "/", [("x-big", "a" * 70_000)]), 431)

    def test_too_many_headers_get_431(self):
        self.expect_rejected(build_request("GET", "/", [("x-h%d" % i, "v") for i in range(150)]), 431)

    def test_protocol_violations_get_400(self):
        violations = {
            "two Host headers": b"GET /v HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "HTTP/1.1 without Host": b"GET /v HTTP/1.1\r\n\r\n",
            "space before colon": b"GET /v HTTP/1.1\r\nHost : x\r\n\r\n",
            "NUL in a value": b"GET /v HTTP/1.1\r\nHost: x\r\nx-a: a\x00b\r\n\r\n",
            "transfer coding not ending in chunked":
                b"POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc",
            "chunk size overflow": b"POST /v HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n",
            "content-length +3": b"POST /v HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc",
            "content-length -1": b"POST /v HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            "content-length past 2^64":
                b"POST /v HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        }
        with Background(self.port) as bg:
            for what, data in violations.items():
                with self.subTest(what), RawConnection(self.port, timeout=5) as c:
                    c.send(data)
                    r = c.read_response()
                    closed, _ = c.wait_closed(3)
                    self.assertEqual(r.status, 400, r.body)
                    self.assertTrue(closed)
        bg.check(self)
        # The head of a request whose body turns out malformed may already be upstream (the proxy
        # streams); what must never arrive there is a complete request.
        self.assertEqual(self.upstream.seen(lambda e: e["path"] == "/v" and "error" not in e), [])

    def test_bad_content_length_gets_400(self):
        self.expect_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400)
        self.expect_rejected(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                             b"Content-Length: 4\r\n\r\nabcd", 400)

    def test_no_request_smuggling_through_te_and_cl(self):
        tid = new_id()
        smuggled = b"GET /smuggled-" + tid.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
        data = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled)
        with RawConnection(self.port, timeout=5) as c:
            c.send(data)
            try:
                c.read_response("POST")
                c.wait_closed(2)
            except (IncompleteResponse, OSError):
                pass
        time.sleep(0.2)
        self.assertEqual(self.upstream.seen(lambda e: tid in e["path"]), [])

    def test_client_stalling_mid_head_gets_408_or_close(self):
        with Background(self.port) as bg:
            with RawConnection(self.port, timeout=5) as c:
                started = time.monotonic()
                c.send(b"GET /slow-client HTTP/1.1\r\nHost: x\r\n")
                closed, received = c.wait_closed(5)
                elapsed = time.monotonic() - started
        bg.check(self)
        self.assertTrue(closed, "the proxy kept a stalled client for 5 s (request_headers_timeout is 1 s)")
        self.assertTrue(received == b"" or received.startswith(b"HTTP/1.1 408 "), received[:100])
        self.assertGreater(elapsed, 0.8)
        self.assertLess(elapsed, 3.5)

    def test_upstream_closing_mid_response_closes_the_client(self):
        with Background(self.port) as bg:
            with RawConnection(self.port, timeout=5) as c:
                c.send(build_request("GET", "/close-mid"))
                try:
                    r = c.read_response()
                    self.fail("a truncated body arrived as complete: %r" % r)
                except IncompleteResponse as e:
                    self.assertLess(len(e.received), 1_000_000)
                except (socket.timeout, TimeoutError):
                    self.fail("the client connection hung after the upstream closed mid-response")
        bg.check(self)

    def test_upstream_closing_mid_chunked_response_is_not_completed(self):
        with Background(self.port) as bg:
            with RawConnection(self.port, timeout=5) as c:
                c.send(build_request("GET", "/close-mid-chunked"))
                try:
                    r = c.read_response()
                    self.fail("the proxy ended a truncated chunked body as if complete (%d bytes)" % len(r.body))
                except IncompleteResponse:
                    pass
                except (socket.timeout, TimeoutError):
                    self.fail("the client connection hung after the upstream closed mid-response")
        bg.check(self)

    def test_upstream_never_answering_gives_504_after_route_timeout(self):
        with Background(self.port) as bg:
            started = time.monotonic()
            r = get(self.port, "/hang", timeout=10)
            elapsed = time.monotonic() - started
        bg.check(self)
        self.assertEqual(r.status, 504)
        self.assertEqual(r.body, b"upstream request timeout\n")
        self.assertGreater(elapsed, 0.9)
        self.assertLess(elapsed, 3)

    def test_slow_upstream_within_and_past_the_route_timeout(self):
        with Background(self.port) as bg:
            started = time.monotonic()
            fast = get(self.port, "/slow/300")
            took = time.monotonic() - started
            slow = get(self.port, "/slow/2500")
        bg.check(self)
        self.assertEqual((fast.status, fast.json()["path"]), (200, "/slow/300"))
        self.assertGreaterEqual(took, 0.3)
        self.assertEqual(slow.status, 504)

    def test_malformed_upstream_responses_give_502(self):
        with Background(self.port) as bg:
            for path in ("/bad-status", "/huge-header"):
                with self.subTest(path=path), RawConnection(self.port) as c:
                    self.assertEqual(c.request("GET", path).status, 502)
                    self.assertEqual(c.request("GET", "/after-502").status, 200)
        bg.check(self)

    def test_idle_keep_alive_connection_is_closed_after_idle_timeout(self):
        with RawConnection(self.port, timeout=5) as c:
            self.assertEqual(c.request("GET", "/idle/1").status, 200)
            time.sleep(0.5)
            self.assertEqual(c.request("GET", "/idle/2").status, 200)
            started = time.monotonic()
            closed, received = c.wait_closed(4)
            elapsed = time.monotonic() - started
        self.assertTrue(closed, "an idle connection outlived idle_timeout (2 s)")
        self.assertEqual(received, b"")
        self.assertGreater(elapsed, 1.5)

    def test_connect_refused_gives_503(self):
        with Background(self.port) as bg:
            started = time.monotonic()
            r = get(self.port, "/refused")
            elapsed = time.monotonic() - started
        bg.check(self)
        self.assertEqual(r.status, 503)
        self.assertLess(elapsed, 3)

    def test_bad_chunked_body_gets_400(self):
        tid = new_id()
        with RawConnection(self.port, timeout=5) as c:
            c.send(build_request("POST", "/echo", [("Transfer-Encoding", "chunked"), ("x-test-id", tid)]) +
                   b"zz\r\nhello\r\n0\r\n\r\n")
            r = c.read_response("POST")
            closed, _ = c.wait_closed(3)
        self.assertEqual(r.status, 400)
        self.assertTrue(closed)

    def test_client_closing_mid_body_leaves_the_proxy_serving(self):
        with Background(self.port) as bg:
            for _ in range(5):
                with RawConnection(self.port) as c:
                    c.send(build_request("POST", "/echo", [("Content-Length", "100000")]) + b"x" * 1000)
                time.sleep(0.05)
            time.sleep(0.2)
        bg.check(self)


# ---------------------------------------------------------------------------------------------


class FailStrategyTest(ProxyTestCase):
    """A plugin that traps on /trap: FAIL_OPEN on one listener, FAIL_CLOSE on another, a third
    listener without plugins. The failed VM is rebuilt after a backoff."""

    @classmethod
    def setUpPeers(cls):
        if not WAT2WASM:
            raise unittest.SkipTest("wat2wasm not found")
        cls.tmp = tempfile.mkdtemp(prefix="wasmgate-wat-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.trap_wasm = os.path.join(cls.tmp, "trap_on_path.wasm")
        subprocess.run([WAT2WASM, os.path.join(FIXTURES, "trap_on_path.wat"), "-o", cls.trap_wasm],
                       check=True, timeout=60)
        cls.open_port = cls.port
        cls.close_port = free_port()
        cls.plain_port = free_port()

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("open", cls.open_port, [route("/", "backend")]),
             http_listener("close", cls.close_port, [route("/", "backend")]),
             http_listener("plain", cls.plain_port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("trap-open", cls.trap_wasm, "", None, failStrategy="FAIL_OPEN", vm_id="trap-open",
                    match=[{"ports": [{"number": cls.open_port}]}]),
             plugin("trap-close", cls.trap_wasm, "", None, failStrategy="FAIL_CLOSE", vm_id="trap-close",
                    match=[{"ports": [{"number": cls.close_port}]}])])

    def plugin_entry(self, name):
        [entry] = [p for p in self.proxy.admin_json("/plugins") if p["name"] == name]
        return entry

    def wait_running(self, name):
        def running():
            entry = self.plugin_entry(name)
            return entry["workers"] == ["running", "running"] and entry
        return wait_for(running, 10, what="plugin %s running on both workers" % name)

    def counters(self, name):
        s = self.proxy.stats()
        return {k: metric(s, "wasmgate_plugin_%s_total" % k, plugin=name)
                for k in ("vm_failures", "fail_open", "fail_closed", "vm_restarts")}

    def test_plugin_is_loaded(self):
        entry = self.wait_running("trap-open")
        self.assertEqual(entry["abi_version"], "0.2.1")
        self.assertEqual(entry["fail_strategy"], "FAIL_OPEN")
        self.assertEqual(self.plugin_entry("trap-close")["fail_strategy"], "FAIL_CLOSE")

    def test_fail_open_lets_the_request_through(self):
        self.wait_running("trap-open")
        before = self.counters("trap-open")
        before_close = self.counters("trap-close")
        with Background(self.open_port) as bg:
            tid = new_id()
            r = get(self.open_port, "/trap", [("x-test-id", tid)])
            self.assertEqual(r.status, 200)
            self.assertEqual(len(self.upstream_saw(tid)), 1)
            after = self.counters("trap-open")
            self.assertEqual(after["vm_failures"] - before["vm_failures"], 1)
            # this request, and any other that met the VM while it was down
            self.assertGreaterEqual(after["fail_open"] - before["fail_open"], 1)
            self.assertEqual(self.plugin_entry("trap-open")["vm_failures"], after["vm_failures"])
            entry = self.wait_running("trap-open")
            self.assertGreaterEqual(entry["vm_restarts"], 1)
            r = get(self.open_port, "/trap")  # the rebuilt VM traps again, and fails open again
            self.assertEqual(r.status, 200)
            self.wait_running("trap-open")
        bg.check(self)
        self.assertEqual(self.counters("trap-close"), before_close, "the other plugin was affected")

    def test_fail_close_answers_503(self):
        self.wait_running("trap-close")
        before = self.counters("trap-close")
        before_open = self.counters("trap-open")
        self.assertEqual(get(self.close_port, "/fine").status, 200)
        with Background(self.plain_port) as plain, Background(self.open_port) as other, \
                Background(self.close_port) as same:
            time.sleep(0.1)
            tid = new_id()
            trapped_at = time.monotonic()
            r = get(self.close_port, "/trap", [("x-test-id", tid)])
            self.assertEqual(r.status, 503)
            self.assertIn(b"trap-close", r.body)
            self.assert_upstream_saw_nothing(tid)
            after = self.counters("trap-close")
            self.assertEqual(after["vm_failures"] - before["vm_failures"], 1)
            self.assertGreaterEqual(after["fail_closed"] - before["fail_closed"], 1)
            entry = self.wait_running("trap-close")
            running_at = time.monotonic()
            self.assertGreaterEqual(entry["vm_restarts"], 1)
            time.sleep(0.2)
            # back in service, on both workers
            statuses = [get(self.close_port, "/fine-again").status for _ in range(10)]
            self.assertEqual(statuses, [200] * 10)
        plain.check(self)
        other.check(self)
        # Other paths on the FAIL_CLOSE listener: 200, except while the failed VM is down: then a
        # request gets 503, or a reset if its response had started (its plugin context died with
        # the VM, as in Envoy). After the rebuild: 200 only.
        same.finish()
        self.assertGreater(len(same.timeline), 0)
        for at, outcome in same.timeline:
            if outcome != 200:
                self.assertTrue(outcome == 503 or isinstance(outcome, str), outcome)
                self.assertTrue(trapped_at <= at <= running_at + 0.05,
                                "%r outside the rebuild window (%.2fs after the trap)" % (outcome, at - trapped_at))
        # every 503 (and reset) of this listener was counted as fail-closed, the trap's included
        closed = self.counters("trap-close")["fail_closed"] - before["fail_closed"]
        outcomes = [outcome for _, outcome in same.timeline]
        self.assertGreaterEqual(closed, 1 + outcomes.count(503))
        self.assertLessEqual(closed, 1 + outcomes.count(503) + len(same.errors))
        self.assertEqual(self.counters("trap-open"), before_open, "the other plugin was affected")

    def test_failure_shows_in_plugins_and_prometheus(self):
        get(self.close_port, "/trap")
        entry = self.plugin_entry("trap-close")
        self.assertGreaterEqual(entry["vm_failures"], 1)
        text = self.proxy.admin("GET", "/stats/prometheus")[1]
        self.assertRegex(text, r'wasmgate_plugin_vm_failures_total\{plugin="trap-close"\} [1-9]')
        self.wait_running("trap-close")


class BatchedFailStrategyTest(FailStrategyTest):
    """The same with a plugin built with the C++ SDK: its header callbacks run in batches, and a
    trap fails the batch it happens in."""

    @classmethod
    def setUpPeers(cls):
        cls.trap_wasm = wasm("sdk_trap_on_path")
        cls.open_port = cls.port
        cls.close_port = free_port()
        cls.plain_port = free_port()


class FailReloadTest(ProxyTestCase):
    """FAIL_RELOAD, on one worker: the request that meets the trap gets 503, and the next one
    rebuilds the VM at once (FAIL_CLOSE would answer 503 until the background rebuild)."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("trap-reload", wasm("sdk_trap_on_path"), "", None, failStrategy="FAIL_RELOAD")],
            workers=1)

    def counters(self):
        s = self.proxy.stats()
        return {k: metric(s, "wasmgate_plugin_%s_total" % k, plugin="trap-reload")
                for k in ("vm_failures", "vm_restarts", "fail_closed")}

    def test_the_request_after_a_trap_gets_a_new_vm(self):
        [entry] = self.proxy.admin_json("/plugins")
        self.assertEqual(entry["fail_strategy"], "FAIL_RELOAD")
        before = self.counters()
        for i in range(3):
            time.sleep(0.15)  # reloads are at least 100 ms apart
            tid = new_id()
            r = get(self.port, "/trap", [("x-test-id", tid)])
            self.assertEqual(r.status, 503)
            # at once: the background rebuild would come 100 ms later
            r = get(self.port, "/after-trap/%d" % i)
            self.assertEqual(r.status, 200, "the VM was not rebuilt for the next request")
            self.assertEqual(r.json()["path"], "/after-trap/%d" % i)
            self.assert_upstream_saw_nothing(tid)
        after = self.counters()
        self.assertEqual({k: after[k] - before[k] for k in after},
                         {"vm_failures": 3, "vm_restarts": 3, "fail_closed": 3})


# ---------------------------------------------------------------------------------------------


class AdminTest(ProxyTestCase):
    """The admin endpoint, live reload, and `wasmgate validate`."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port, connect_timeout="750ms")],
            [plugin("add-header", wasm("add_header"), "add_header",
                    {"response_headers": {"x-version": "v1"}}, phase="AUTHN", priority=5,
                    failStrategy="FAIL_OPEN")])

    def reload(self, plugin_config=None, text=None):
        if plugin_config is not None:
            config = json.loads(json.dumps(self.proxy.config))
            config["plugins"][0]["pluginConfig"] = plugin_config
            self.proxy.write_config(config)
        if text is not None:
            self.proxy.write_config(text=text)
        return self.proxy.admin("POST", "/reload")

    def test_ready_and_healthz(self):
        self.assertEqual(self.proxy.admin("GET", "/ready"), (200, "LIVE\n"))
        self.assertEqual(self.proxy.admin("GET", "/healthz"), (200, "ok\n"))
        self.assertEqual(self.proxy.admin("GET", "/nope")[0], 404)
        self.assertEqual(self.proxy.admin("GET", "/reload")[0], 405)

    def test_prometheus_counters_move(self):
        before = self.proxy.stats()
        for i in range(5):
            self.assertEqual(get(self.port, "/count/%d" % i).status, 200)
        get(self.port, "/status/404")
        labels = {"listener": "main"}

        def moved():
            after = self.proxy.stats()
            delta = lambda name, **extra: metric(after, name, **labels, **extra) - \
                metric(before, name, **labels, **extra)  # noqa: E731
            return (delta("wasmgate_listener_downstream_rq_total"),
                    delta("wasmgate_listener_downstream_rq_completed_total", **{"class": "2xx"}),
                    delta("wasmgate_listener_downstream_rq_completed_total", **{"class": "4xx"}),
                    delta("wasmgate_listener_downstream_cx_total"),
                    metric(after, "wasmgate_plugin_streams_total", plugin="add-header") -
                    metric(before, "wasmgate_plugin_streams_total", plugin="add-header"))
        wait_for(lambda: moved() == (6, 5, 1, 6, 6), 3, what="counters (rq, 2xx, 4xx, cx, streams)")

    def test_plugins_endpoint(self):
        [entry] = self.proxy.admin_json("/plugins")
        with open(wasm("add_header"), "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        self.assertEqual(entry["name"], "add-header")
        self.assertEqual(entry["sha256"], digest)
        self.assertEqual(entry["abi_version"], "0.2.1")
        self.assertEqual(entry["phase"], "AUTHN")
        self.assertEqual(entry["priority"], 5)
        self.assertEqual(entry["fail_strategy"], "FAIL_OPEN")
        self.assertEqual(entry["workers"], ["running", "running"])
        self.assertEqual(entry["vm_failures"], 0)

    def test_config_dump(self):
        dump = self.proxy.admin_json("/config_dump")
        self.assertEqual(dump["workers"], 2)
        self.assertEqual(dump["admin"], "%s:%d" % (LOOPBACK, self.proxy.admin_port))
        [listener] = dump["listeners"]
        self.assertEqual(listener["address"], "%s:%d" % (LOOPBACK, self.port))
        self.assertEqual(listener["routes"][0]["cluster"], "backend")
        [backend] = dump["clusters"]
        self.assertEqual(backend["endpoints"], ["%s:%d" % (LOOPBACK, self.upstream.port)])
        self.assertEqual(backend["connect_timeout_ms"], 750)
        [p] = dump["plugins"]
        self.assertEqual(json.loads(p["plugin_config"]), {"response_headers": {"x-version": "v1"}})

    def test_reload_applies_good_edits_and_refuses_broken_ones(self):
        original = json.loads(json.dumps(self.proxy.config))
        try:
            self.assertEqual(get(self.port, "/v").header("x-version"), "v1")
            with Background(self.port) as bg:
                self.assertEqual(self.reload({"response_headers": {"x-version": "v2"}}), (200, "reloaded\n"))
                time.sleep(0.2)
            bg.check(self)
            self.assertEqual([get(self.port, "/v").header("x-version") for _ in range(6)], ["v2"] * 6)
            with open(self.proxy.bootstrap) as f:
                good_text = f.read()
            broken = {
                "rejected by on_configure": dict(plugin_config={"response_headers": {"x-version": 5}}),
                "YAML syntax": dict(text=good_text + "plugins: [\n"),
                "missing module": dict(text=good_text.replace(wasm("add_header"), "/nonexistent/x.wasm")),
                "unknown field": dict(text=good_text + "no_such_field: 1\n"),
            }
            for what, edit in broken.items():
                with self.subTest(edit=what):
                    status, body = self.reload(**edit)
                    self.assertEqual(status, 400, body)
                    self.assertTrue(body.startswith("reload refused: "), body)
                    self.assertEqual([get(self.port, "/v").header("x-version") for _ in range(4)], ["v2"] * 4)
                    self.assertEqual(self.proxy.admin_json("/plugins")[0]["workers"], ["running", "running"])
                    self.proxy.write_config(text=good_text)
        finally:
            self.proxy.write_config(original)
            self.assertEqual(self.proxy.admin("POST", "/reload")[0], 200)
        self.assertEqual(get(self.port, "/v").header("x-version"), "v1")

    def test_reload_lets_requests_in_flight_finish_on_the_old_plugin(self):
        original = json.loads(json.dumps(self.proxy.config))
        try:
            result = {}
            slow = threading.Thread(target=lambda: result.setdefault("r", get(self.port, "/slow/800")))
            slow.start()
            time.sleep(0.2)
            self.assertEqual(self.reload({"response_headers": {"x-version": "v-new"}})[0], 200)
            self.assertEqual(get(self.port, "/v").header("x-version"), "v-new")
            slow.join(10)
            self.assertEqual(result["r"].status, 200)
            self.assertEqual(result["r"].header("x-version"), "v1")
        finally:
            self.proxy.write_config(original)
            self.assertEqual(self.proxy.admin("POST", "/reload")[0], 200)

    def test_sighup_reloads(self):
        original = json.loads(json.dumps(self.proxy.config))
        config = json.loads(json.dumps(original))
        config["plugins"][0]["pluginConfig"] = {"response_headers": {"x-version": "v-hup"}}
        try:
            self.proxy.write_config(config)
            self.proxy.process.send_signal(signal.SIGHUP)
            wait_for(lambda: get(self.port, "/v").header("x-version") == "v-hup", 5, what="SIGHUP reload")
        finally:
            self.proxy.write_config(original)
            self.assertEqual(self.proxy.admin("POST", "/reload")[0], 200)
        self.assertEqual(get(self.port, "/v").header("x-version"), "v1")

    def test_serve_refuses_a_bad_bootstrap(self):
        with tempfile.TemporaryDirectory(prefix="wasmgate-bad-") as tmp:
            path = os.path.join(tmp, "bootstrap.yaml")
            with open(path, "w") as f:
                f.write(self.bootstrap_text(route_cluster="nope"))
            proc = subprocess.run([WASMGATE, "serve", "-c", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertIn(path + ":9: listeners[0].routes[0].cluster", proc.stderr)

    # wasmgate validate

    def validate(self, text):
        with tempfile.TemporaryDirectory(prefix="wasmgate-validate-") as tmp:
            path = os.path.join(tmp, "bootstrap.yaml")
            with open(path, "w") as f:
                f.write(text)
            proc = subprocess.run([WASMGATE, "validate", "-c", path], capture_output=True, text=True,
                                  timeout=60, cwd=tmp)
            return proc, path

    def bootstrap_text(self, route_cluster="backend", connect_timeout="1s",
                       plugin_config='{"request_headers": {"x-a": "b"}}'):
        return ("admin:\n"
                "  address: 127.0.0.1:%d\n"
                "workers: 2\n"
                "listeners:\n"
                "  - name: main\n"
                "    address: 127.0.0.1:%d\n"
                "    routes:\n"
                "      - match: { prefix: / }\n"
                "        cluster: %s\n"
                "clusters:\n"
                "  - name: backend\n"
                "    endpoints: [127.0.0.1:%d]\n"
                "    connect_timeout: %s\n"
                "plugins:\n"
                "  - name: add-header\n"
                "    url: file://%s\n"
                "    pluginName: add_header\n"
                "    pluginConfig: %s\n"
                % (free_port(), free_port(), route_cluster, self.upstream.port, connect_timeout,
                   wasm("add_header"), plugin_config))

    def assert_one_line_error(self, proc, path, line, field):
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        lines = proc.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stderr)
        self.assertIn("%s:%d: " % (path, line), lines[0])
        self.assertIn(field, lines[0])

    def test_validate_ok(self):
        proc, path = self.validate(self.bootstrap_text())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "%s: ok (1 listeners, 1 clusters, 1 plugins)" % path)

    def test_validate_errors_name_file_line_and_field(self):
        proc, path = self.validate(self.bootstrap_text(route_cluster="nope"))
        self.assert_one_line_error(proc, path, 9, "listeners[0].routes[0].cluster")
        proc, path = self.validate(self.bootstrap_text(connect_timeout="soon"))
        self.assert_one_line_error(proc, path, 13, "clusters[0].connect_timeout")
        proc, path = self.validate(self.bootstrap_text().replace("    endpoints:", "    endpointz:"))
        self.assert_one_line_error(proc, path, 12, "endpointz")

    def test_validate_refuses_a_plugin_config(self):
        proc, path = self.validate(self.bootstrap_text(plugin_config='{"request_headers": ["x"]}'))
        self.assertEqual(proc.returncode, 1, proc.stdout)
        # the plugin's own log lines may come first; the verdict is one line, the last
        errors = [line for line in proc.stderr.strip().splitlines() if line.startswith("wasmgate: error:")]
        self.assertEqual(len(errors), 1, proc.stderr)
        self.assertEqual(errors[0], proc.stderr.strip().splitlines()[-1])
        self.assertIn(path + ":15: ", errors[0])
        self.assertIn("plugin add-header", errors[0])

    def test_validate_missing_file(self):
        proc = subprocess.run([WASMGATE, "validate", "-c", "/nonexistent/bootstrap.yaml"],
                              capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("/nonexistent/bootstrap.yaml", proc.stderr)


# ---------------------------------------------------------------------------------------------


class DefaultServeTest(unittest.TestCase):
    """`wasmgate serve` without -c: the built-in example on 127.0.0.1:8080, admin on :9901."""

    def test_builtin_example(self):
        if not (port_is_free(8080) and port_is_free(9901)):
            self.skipTest("port 8080 or 9901 is busy")
        with tempfile.TemporaryDirectory(prefix="wasmgate-default-") as tmp:
            log_path = os.path.join(tmp, "log")
            with open(log_path, "wb") as log:
                proc = subprocess.Popen([WASMGATE, "serve"], cwd=tmp, stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT)
            try:
                def ready():
                    if proc.poll() is not None:
                        raise AssertionError("wasmgate exited with %d: %s" % (proc.returncode, open(log_path).read()))
                    try:
                        return get(9901, "/ready", timeout=1).status == 200
                    except OSError:
                        return False
                wait_for(ready, 15, what="the built-in example")
                r = curl("http://127.0.0.1:8080/")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.header("x-served-by"), "wasmgate")
                self.assertEqual(r.body, b"Hello from wasmgate!\n")
            finally:
                if proc.poll() is None:
                    proc.terminate()
                try:
                    code = proc.wait(5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
                    code = None
            self.assertEqual(code, 0, open(log_path).read())


def main():
    global WASMGATE, PLUGINS, WAT2WASM
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wasmgate", default=os.environ.get("WASMGATE"), help="the wasmgate binary")
    parser.add_argument("--plugins", default=os.environ.get("WASMGATE_PLUGINS"),
                        help="folder of the example plugins (<name>.wasm)")
    parser.add_argument("--wat2wasm", default=os.environ.get("WAT2WASM") or shutil.which("wat2wasm"))
    args, rest = parser.parse_known_args()
    if not args.wasmgate or not args.plugins:
        parser.error("--wasmgate and --plugins are required")
    WASMGATE = os.path.abspath(args.wasmgate)
    PLUGINS = os.path.abspath(args.plugins)
    WAT2WASM = args.wat2wasm
    for path in (WASMGATE, PLUGINS):
        if not os.path.exists(path):
            sys.exit("test_integration.py: %s does not exist (build first)" % path)
    if not shutil.which("curl"):
        sys.exit("test_integration.py: curl not found")
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()

"""Harness for the integration tests: the real wasmgate binary, real peers, real clients.

Everything here listens on 127.0.0.1 only, on ports the kernel hands out. Standard library only.

- Proxy: writes a bootstrap YAML to a temporary folder, runs `wasmgate serve -c`, waits for
  GET /ready on the admin port, and stops it with SIGTERM (which must end it with status 0).
- Upstream: a threaded HTTP/1.1 server that reports what reached it (JSON body, and a log the
  tests can search), echoes bodies (content-length and chunked), and misbehaves on request.
- AuthServer: the peer of the ext_auth plugin: 200 when `x-allowed: yes`, else 403.
- RawConnection: a client on a plain socket, for pipelining, malformed input and framing checks.
- curl(): the real curl.
- Background: a well-behaved client loop, run while a test does something nasty.
"""

import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOOPBACK = "127.0.0.1"


# ---------------------------------------------------------------------------------------------
# small helpers


def free_port():
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def port_is_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def payload(size, seed=7):
    """`size` deterministic pseudo-random bytes; the upstream produces the same for /bytes/<size>."""
    return random.Random(seed).randbytes(size)


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a true value; returns that value or raises."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


def yaml_text(value, indent=0):
    """Block-style YAML for dicts, lists and scalars; strings are double-quoted (JSON escapes)."""
    pad = " " * indent
    if isinstance(value, dict):
        if not value:
            return pad + "{}\n"
        out = ""
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                out += "%s%s:\n%s" % (pad, key, yaml_text(item, indent + 2))
            else:
                out += "%s%s: %s\n" % (pad, key, yaml_scalar(item))
        return out
    if isinstance(value, list):
        if not value:
            return pad + "[]\n"
        out = ""
        for item in value:
            if isinstance(item, (dict, list)) and item:
                body = yaml_text(item, indent + 2)
                out += pad + "- " + body[indent + 2:]
            else:
                out += "%s- %s\n" % (pad, yaml_scalar(item))
        return out
    return pad + yaml_scalar(value) + "\n"


def yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(str(value))


def parse_prometheus(text):
    """{(name, ((label, value), ...)): float} of every sample line."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$', line)
        if not m:
            raise AssertionError("unparsable prometheus line: %r" % line)
        labels = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or "")))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples


def metric(samples, name, **labels):
    """The value of one sample (0 when absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------------------------------------
# upstream and auth servers

MAX_REQUESTS_PER_CONNECTION = 10000
SOCKET_TIMEOUT = 20  # seconds an idle upstream connection may sit before the server drops it


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256  # listen backlog: the proxy may open many connections at once

    def __init__(self, handler):
        super().__init__((LOOPBACK, 0), handler)
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.requests = []  # every request seen, in arrival order

    @property
    def port(self):
        return self.server_address[1]

    def handle_error(self, request, client_address):
        pass  # peers that reset or time out are part of the tests

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def seen(self, predicate=lambda r: True):
        with self.lock:
            return [r for r in self.requests if predicate(r)]

    def start(self):
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        self._thread = thread
        return self

    def stop(self):
        self.stopping.set()
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        # BaseHTTPRequestHandler.handle, with a bound on requests per connection.
        self.close_connection = True
        self.handle_one_request()
        count = 1
        while not self.close_connection and count < MAX_REQUESTS_PER_CONNECTION and \
                not self.server.stopping.is_set():
            self.handle_one_request()
            count += 1

    def read_body(self):
        """The request body: chunked decoded here (http.server does not), or content-length."""
        encoding = self.headers.get("Transfer-Encoding", "")
        if encoding.lower().strip() == "chunked":
            body = bytearray()
            for _ in range(10_000_000):
                line = self.rfile.readline(65537)
                if not line.endswith(b"\r\n"):
                    raise ValueError("bad chunk-size line %r" % line[:80])
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    trailers = []
                    for _ in range(1000):
                        t = self.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                        trailers.append(t.decode("latin-1").rstrip("\r\n"))
                    self.trailers = trailers
                    return bytes(body)
                chunk = self.rfile.read(size)
                if len(chunk) != size or self.rfile.read(2) != b"\r\n":
                    raise ValueError("truncated chunk")
                body += chunk
            raise ValueError("too many chunks")
        length = self.headers.get("Content-Length")
        if length is not None:
            n = int(length)
            data = self.rfile.read(n)
            if len(data) != n:
                raise ValueError("short body")
            return data
        return b""

    def header_pairs(self):
        return [(k.lower(), v) for k, v in self.headers.items()]

    def send_body(self, status, body, content_type="application/octet-stream", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class UpstreamHandler(_Handler):
    """Paths:
    /echo...            the request body back, x-body-sha256 and x-body-length headers
    /bytes/N            N bytes of payload(N), chunked, 64 KiB chunks
    /close-mid          content-length 1000000, 65536 bytes, then the connection closes
    /close-mid-chunked  chunked, a few chunks, then the connection closes without the last chunk
    /hang               never answers (until the server stops, 30 s at most)
    /slow/MS            answers after MS milliseconds
    /status/N           status N, no body for 204/304
    /conn-token         response carries `Connection: x-up-secret` and `x-up-secret: 1`
    /no-length          a body delimited by closing the connection (no length, not chunked)
    /early-100          a 100 Continue, then the report
    /then-close         the report with `Connection: close`, then the connection closes
    /bad-status         a malformed status line, then the connection closes
    /huge-header        a 70 KB response header
    anything else       200, a JSON report of the request
    HEAD                the GET headers with content-length 1234 and no body
    HEAD /head-chunked  `Transfer-Encoding: chunked` and no body (as a HEAD answer must)
    """

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = do_GET

    def dispatch(self):
        try:
            body = self.read_body()
        except (ValueError, OSError) as e:
            self.server.record({"method": self.command, "path": self.path, "error": str(e),
                                "headers": self.header_pairs()})
            self.close_connection = True
            return
        headers = self.header_pairs()
        entry = {"method": self.command, "path": self.path, "headers": headers,
                 "body_length": len(body), "body_sha256": sha256(body),
                 "trailers": getattr(self, "trailers", []), "time": time.monotonic()}
        self.server.record(entry)
        path = urllib.parse.urlsplit(self.path).path
        if self.command == "HEAD" and path == "/head-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            return
        if self.command == "HEAD":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "1234")
            self.send_header("x-upstream", "yes")
            self.end_headers()
            return
        if path.startswith("/echo"):
            self.send_body(200, body, extra=[("x-body-sha256", sha256(body)),
                                             ("x-body-length", str(len(body)))])
        elif path.startswith("/bytes/"):
            self.send_chunked(payload(int(path[len("/bytes/"):])))
        elif path == "/close-mid":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 65536)
            self.wfile.flush()
            self.abort()
        elif path == "/close-mid-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(4):
                self.wfile.write(b"4000\r\n" + b"y" * 0x4000 + b"\r\n")
            self.wfile.flush()
            self.abort()
        elif path == "/hang":
            self.server.stopping.wait(30)
            self.abort()
        elif path.startswith("/slow/"):
            time.sleep(min(int(path[len("/slow/"):]), 10000) / 1000.0)
            self.send_report(entry)
        elif path.startswith("/status/"):
            status = int(path[len("/status/"):])
            self.send_response(status)
            if status not in (204, 304):
                self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/no-length":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(payload(300_000, seed=5))
            self.close_connection = True
        elif path == "/early-100":
            self.send_response_only(100)
            self.end_headers()
            self.wfile.flush()
            time.sleep(0.05)
            self.send_report(entry)
        elif path == "/then-close":
            self.close_connection = True
            report = json.dumps({"path": self.path}).encode()
            self.send_body(200, report, "application/json", extra=[("Connection", "close")])
        elif path == "/bad-status":
            self.wfile.write(b"HTTP/1.1 abc Oops\r\ncontent-length: 0\r\n\r\n")
            self.abort()
        elif path == "/huge-header":
            self.send_body(200, b"big", "text/plain", extra=[("x-huge", "h" * 70_000)])
        elif path == "/conn-token":
            self.send_body(200, b"token\n", "text/plain",
                           extra=[("Connection", "x-up-secret"), ("x-up-secret", "1")])
        else:
            self.send_report(entry)

    def send_report(self, entry):
        report = {k: entry[k] for k in ("method", "path", "headers", "body_length", "body_sha256")}
        self.send_body(200, json.dumps(report).encode(), "application/json",
                       extra=[("x-upstream", "yes")])

    def send_chunked(self, data, size=65536):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(0, len(data), size):
            piece = data[i:i + size]
            self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")

    def abort(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class AuthHandler(_Handler):
    """GET /check: 200 with x-user: alice when the request has x-allowed: yes, else 403."""

    def do_GET(self):
        self.read_body()
        self.server.record({"method": self.command, "path": self.path, "headers": self.header_pairs()})
        if self.headers.get("x-allowed") == "yes":
            self.send_body(200, b"", extra=[("x-user", "alice")])
        else:
            self.send_body(403, b"no\n", "text/plain")

    do_POST = do_GET


def start_upstream():
    return _Server(UpstreamHandler).start()


def start_auth_server():
    return _Server(AuthHandler).start()


def header_values(pairs, name):
    return [v for k, v in pairs if k.lower() == name.lower()]


def with_header(name, value):
    """A predicate for _Server.seen(): the request carried header name: value."""
    return lambda r: value in header_values(r.get("headers", []), name)


# ---------------------------------------------------------------------------------------------
# the proxy


class ProxyError(AssertionError):
    pass


class Proxy:
    """One `wasmgate serve -c` process with its bootstrap in a temporary folder."""

    def __init__(self, wasmgate, config, log_level="info", workdir=None):
        self.wasmgate = wasmgate
        self.config = config
        self.log_level = log_level
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="wasmgate-it-")
        self.dir = workdir or self._tmp.name
        self.bootstrap = os.path.join(self.dir, "bootstrap.yaml")
        self.log_path = os.path.join(self.dir, "wasmgate.log")
        self.process = None
        self.admin_port = int(config["admin"]["address"].rsplit(":", 1)[1])

    def write_config(self, config=None, text=None):
        if config is not None:
            self.config = config
        with open(self.bootstrap, "w") as f:
            f.write(text if text is not None else yaml_text(self.config))

    def start(self, timeout=20):
        self.write_config()
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [self.wasmgate, "serve", "-c", self.bootstrap, "--log-level", self.log_level],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ProxyError("wasmgate exited with %d while starting:\n%s"
                                 % (self.process.returncode, self.log_tail()))
            try:
                status, _ = self.admin("GET", "/ready", timeout=1)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise ProxyError("wasmgate not ready after %ds:\n%s" % (timeout, self.log_tail()))

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout=5):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if self.process is None:
            return 0
        code = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                code = None
        self._log.close()
        return code

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def cleanup(self):
        if self._tmp:
            self._tmp.cleanup()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def admin(self, method, path, timeout=5):
        conn = http.client.HTTPConnection(LOOPBACK, self.admin_port, timeout=timeout)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def admin_json(self, path):
        status, body = self.admin("GET", path)
        if status != 200:
            raise ProxyError("GET %s: %d %s" % (path, status, body))
        return json.loads(body)

    def stats(self):
        status, body = self.admin("GET", "/stats/prometheus")
        if status != 200:
            raise ProxyError("GET /stats/prometheus: %d" % status)
        return parse_prometheus(body)


def base_config(listeners, clusters=(), plugins=(), admin_port=None, workers=2):
    config = {"admin": {"address": "%s:%d" % (LOOPBACK, admin_port or free_port())},
              "workers": workers,
              "listeners": list(listeners)}
    if clusters:
        config["clusters"] = list(clusters)
    if plugins:
        config["plugins"] = list(plugins)
    return config


def http_listener(name, port, routes, **extra):
    listener = {"name": name, "address": "%s:%d" % (LOOPBACK, port), "routes": list(routes)}
    listener.update(extra)
    return listener


def route(prefix="/", cluster=None, **extra):
    r = {"match": {"prefix": prefix}}
    if cluster:
        r["cluster"] = cluster
    r.update(extra)
    return r


def cluster(name, *ports, **extra):
    c = {"name": name, "endpoints": ["%s:%d" % (LOOPBACK, p) for p in ports]}
    c.update(extra)
    return c


def plugin(name, wasm_path, root_id, config=None, **extra):
    p = {"name": name, "url": "file://" + wasm_path, "pluginName": root_id}
    if config is not None:
        p["pluginConfig"] = config
    p.update(extra)
    return p


# ---------------------------------------------------------------------------------------------
# clients


class Response:
    def __init__(self, status, reason, headers, body, version="HTTP/1.1", interim=()):
        self.status = status
        self.reason = reason
        self.headers = headers  # [(lowercase name, value)]
        self.body = body
        self.version = version
        self.interim = list(interim)  # 1xx responses that came before

    def header(self, name):
        values = header_values(self.headers, name)
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %r %d bytes>" % (self.status, self.headers, len(self.body))


class IncompleteResponse(AssertionError):
    def __init__(self, message, received=b""):
        super().__init__(message)
        self.received = received


class RawConnection:
    """An HTTP/1.1 client on a plain socket: what is sent is exactly what the test wrote."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
        self.reader = self.sock.makefile("rb")

    @property
    def local_port(self):
        return self.sock.getsockname()[1]

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.reader.close()
        finally:
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def _line(self):
        line = self.reader.readline(70000)
        if not line:
            raise IncompleteResponse("connection closed")
        return line

    def read_head(self):
        status_line = self._line().decode("latin-1").rstrip("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3})(?: (.*))?$", status_line)
        if not m:
            raise AssertionError("bad status line %r" % status_line)
        headers = []
        for _ in range(1000):
            line = self._line().decode("latin-1").rstrip("\r\n")
            if line == "":
                return m.group(1), int(m.group(2)), m.group(3) or "", headers
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        raise AssertionError("too many header lines")

    def read_response(self, method="GET"):
        """Reads one final response (1xx ones are kept in .interim)."""
        interim = []
        while True:
            version, status, reason, headers = self.read_head()
            if 100 <= status < 200 and status != 101:
                interim.append(status)
                continue
            break
        body = self.read_body(method, status, headers)
        return Response(status, reason, headers, body, version, interim)

    def read_body(self, method, status, headers):
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return b""
        encoding = ",".join(header_values(headers, "transfer-encoding")).lower()
        if "chunked" in encoding:
            body = bytearray()
            for _ in range(10_000_000):
                line = self._line()
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    for _ in range(1000):
                        if self._line() in (b"\r\n", b"\n"):
                            return bytes(body)
                    raise AssertionError("too many trailer lines")
                chunk = self.reader.read(size)
                if len(chunk) != size:
                    raise IncompleteResponse("truncated chunk", bytes(body) + chunk)
                body += chunk
                if self.reader.read(2) != b"\r\n":
                    raise AssertionError("chunk without CRLF")
            raise AssertionError("too many chunks")
        lengths = header_values(headers, "content-length")
        if lengths:
            n = int(lengths[0])
            data = self.reader.read(n)
            if len(data) != n:
                raise IncompleteResponse("body of %d bytes ended after %d" % (n, len(data)), data)
            return data
        return self.reader.read()  # until the server closes

    def request(self, method, path, headers=(), body=None, host="test"):
        """Sends one request and reads its response."""
        self.send(build_request(method, path, headers, body, host))
        return self.read_response(method)

    def wait_closed(self, timeout):
        """True when the peer closes (EOF or reset) within timeout; any bytes are returned too."""
        self.sock.settimeout(timeout)
        received = b""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                data = self.reader.read1(65536)
                if not data:
                    return True, received
                received += data
        except (ConnectionResetError, BrokenPipeError):
            return True, received
        except (socket.timeout, TimeoutError):
            return False, received
        return False, received


def build_request(method, path, headers=(), body=None, host="test", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, path, version)]
    if host is not None:
        lines.append("Host: " + host)
    names = {k.lower() for k, _ in headers}
    for k, v in headers:
        lines.append("%s: %s" % (k, v))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        lines.append("Content-Length: %d" % len(body))
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return data + (body or b"")


def chunked(data, sizes=(65536,)):
    """data in chunked framing, chunk sizes cycling through `sizes`."""
    out = bytearray()
    i = 0
    k = 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        k += 1
        piece = data[i:i + n]
        out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        i += n
    return bytes(out) + b"0\r\n\r\n"


def get(port, path, headers=(), timeout=10, method="GET", body=None):
    """One request on a fresh connection (http.client)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers))
        r = conn.getresponse()
        data = r.read()
        return Response(r.status, r.reason, [(k.lower(), v) for k, v in r.getheaders()], data)
    finally:
        conn.close()


class CurlResult:
    def __init__(self, proc, header_blocks, body, elapsed):
        self.returncode = proc.returncode
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.blocks = header_blocks  # [(status, [(name, value)])], interim responses first
        self.status = header_blocks[-1][0] if header_blocks else 0
        self.headers = header_blocks[-1][1] if header_blocks else []
        self.body = body
        self.elapsed = elapsed

    def header(self, name):
        values = header_values(self.headers, name)
        return values[0] if values else None

    def json(self):
        return json.loads(self.body)


def curl(url, *args, timeout=30):
    """Runs curl; returns the final status, headers, body and any 1xx blocks before it."""
    with tempfile.TemporaryDirectory(prefix="wasmgate-curl-") as tmp:
        head_file = os.path.join(tmp, "head")
        body_file = os.path.join(tmp, "body")
        started = time.monotonic()
        proc = subprocess.run(["curl", "-sS", "--max-time", str(timeout), "-D", head_file,
                               "-o", body_file, *args, url],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout + 10)
        elapsed = time.monotonic() - started
        blocks = []
        if os.path.exists(head_file):
            with open(head_file, "rb") as f:
                for line in f.read().decode("latin-1").split("\r\n"):
                    m = re.match(r"^HTTP/[\d.]+ (\d{3})", line)
                    if m:
                        blocks.append((int(m.group(1)), []))
                    elif line and blocks and ":" in line:
                        name, _, value = line.partition(":")
                        blocks[-1][1].append((name.strip().lower(), value.strip()))
        body = b""
        if os.path.exists(body_file):
            with open(body_file, "rb") as f:
                body = f.read()
        return CurlResult(proc, blocks, body, elapsed)


class Background(threading.Thread):
    """A well-behaved client: GETs `path` in a loop (a few requests per keep-alive connection)
    until finish(), at most max_requests times and max_seconds long; records every outcome
    (statuses; errors; and (monotonic time, status or error text) pairs in .timeline)."""

    def __init__(self, port, path="/ok", max_requests=5000, max_seconds=30, per_connection=5):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.per_connection = per_connection
        self.statuses = []
        self.timeline = []
        self.errors = []
        self._stop_event = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        conn = None
        used = 0
        while not self._stop_event.is_set() and len(self.statuses) + len(self.errors) < self.max_requests \
                and time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=5)
                    used = 0
                conn.request("GET", self.path, headers={"x-background": "1"})
                r = conn.getresponse()
                r.read()
                self.statuses.append(r.status)
                self.timeline.append((time.monotonic(), r.status))
                used += 1
                if used >= self.per_connection or r.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                self.errors.append(repr(e))
                self.timeline.append((time.monotonic(), repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
            time.sleep(0.005)
        if conn is not None:
            conn.close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.finish()

    def finish(self):
        self._stop_event.set()
        self.join(10)
        return self.statuses

    def check(self, test):
        """Asserts that the loop made progress and saw only 200s."""
        self.finish()
        test.assertFalse(self.is_alive(), "background client did not stop")
        test.assertEqual(self.errors, [], "background client errors")
        test.assertGreater(len(self.statuses), 0, "background client made no request")
        bad = [s for s in self.statuses if s != 200]
        test.assertEqual(bad, [], "background client saw non-200 statuses (of %d)" % len(self.statuses))

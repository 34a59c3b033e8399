"""Helpers for the operations tests, on top of tests/integration/harness.py (imported, not copied).

- compile_wat(): a fixtures/*.wat plugin compiled with wat2wasm into a folder.
- rss_kb(): a process's resident set (VmRSS in /proc/PID/status).
- manifest() / ManifestDir: Istio WasmPlugin manifests written into a plugin_dirs folder, by
  atomic rename, in-place rewrite, rename in and out of the folder's *.yaml pattern, or deletion.
- LoadClients: several keep-alive connections, each on its own thread, sending GETs back to back
  and judging every answer with a check function; connection errors and bad answers are kept.
- wasm_imports(): the function imports of a .wasm module (to build an allowed_hostcalls list).

Standard library only; every loop and wait is bounded.
"""

import collections
import errno
import http.client
import os
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from harness import (  # noqa: E402,F401  (re-exported for the tests)
    LOOPBACK, Proxy, base_config, cluster, free_port, get, header_values, http_listener, metric,
    plugin, route, start_upstream, wait_for, with_header, yaml_text)

FIXTURES = os.path.join(HERE, "fixtures")
API_VERSION = "extensions.istio.io/v1alpha1"


def compile_wat(wat2wasm, name, outdir):
    """fixtures/<name>.wat -> <outdir>/<name>.wasm; returns the output path."""
    out = os.path.join(outdir, name + ".wasm")
    subprocess.run([wat2wasm, os.path.join(FIXTURES, name + ".wat"), "-o", out],
                   check=True, timeout=60, capture_output=True)
    return out


def rss_kb(pid):
    """VmRSS of a live process in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def start_proxy(proxy, attempts=30):
    """proxy.start(), retried while the binary cannot be executed because a concurrent build is
    relinking it (EACCES / ETXTBSY), for up to `attempts` seconds."""
    for attempt in range(attempts):
        try:
            return proxy.start()
        except OSError as e:
            if e.errno not in (errno.EACCES, errno.ETXTBSY, errno.ENOENT) or attempt == attempts - 1:
                raise
            time.sleep(1)


def manifest(name, wasm_path, root_id="", config=None, **spec):
    """One WasmPlugin resource as a dict; spec fields beyond url/pluginName/pluginConfig as kwargs."""
    body = {"url": "file://" + wasm_path, "pluginName": root_id}
    if config is not None:
        body["pluginConfig"] = config
    body.update(spec)
    return {"apiVersion": API_VERSION, "kind": "WasmPlugin", "metadata": {"name": name}, "spec": body}


class ManifestDir:
    """A plugin_dirs folder. Only *.yaml / *.yml files not starting with '.' are manifests, so a
    file is staged under a dot name and renamed in (atomic), or parked as <name>.off."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path, exist_ok=True)

    def file(self, filename):
        return os.path.join(self.path, filename)

    def write(self, filename, doc):
        """Atomic: written to .<filename>.tmp, then renamed over <filename>."""
        staging = self.file("." + filename + ".tmp")
        with open(staging, "w") as f:
            f.write(yaml_text(doc))
        os.replace(staging, self.file(filename))

    def write_in_place(self, filename, doc):
        """As an editor would: truncate and rewrite the same file."""
        with open(self.file(filename), "w") as f:
            f.write(yaml_text(doc))

    def park(self, filename):
        """Renames <filename> to <filename>.off: the folder no longer holds it as a manifest."""
        os.replace(self.file(filename), self.file(filename + ".off"))

    def unpark(self, filename):
        os.replace(self.file(filename + ".off"), self.file(filename))

    def remove(self, filename):
        os.remove(self.file(filename))

    def exists(self, filename):
        return os.path.exists(self.file(filename))

    def clear(self):
        for name in os.listdir(self.path):
            path = self.file(name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)

    def configmap_update(self, files, generation):
        """Kubernetes' ConfigMap volume layout: <key> -> ..data/<key>, ..data -> ..<generation>/.
        An update writes a new ..<generation>/ folder and renames a new ..data link over the old
        one; the key links never change."""
        version_dir = "..%s" % generation
        os.mkdir(self.file(version_dir))
        for filename, doc in files.items():
            with open(os.path.join(self.file(version_dir), filename), "w") as f:
                f.write(yaml_text(doc))
            if not os.path.lexists(self.file(filename)):
                os.symlink(os.path.join("..data", filename), self.file(filename))
        os.symlink(version_dir, self.file("..data_tmp"))
        os.replace(self.file("..data_tmp"), self.file("..data"))


class LoadClients:
    """`connections` threads, each GETting `path` on its own keep-alive connection (`pause` seconds
    between requests) until stop() (at most max_seconds). check(status, headers, body) returns None for a good answer, else a
    short description. A connection is only reopened when the server announced its close or after
    an error; both are counted."""

    def __init__(self, port, path="/load", connections=4, check=None, max_seconds=60, headers=None,
                 pause=0.002):
        self.port = port
        self.path = path
        self.connections = connections
        self.check = check or (lambda status, headers, body: None if status == 200 else "status %d" % status)
        self.max_seconds = max_seconds
        self.headers = dict(headers or {})
        self.pause = pause
        self.lock = threading.Lock()
        self.statuses = collections.Counter()
        self.errors = []   # (monotonic time, connection index, repr of the exception)
        self.bad = []      # (monotonic time, connection index, status, description)
        self.opened = 0    # connections opened (the first one of each thread included)
        self.closed_by_server = 0
        self.timeline = []  # (monotonic time, status or error text)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(connections)]

    @property
    def total(self):
        with self.lock:
            return sum(self.statuses.values()) + len(self.errors)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(15)
        if any(t.is_alive() for t in self._threads):
            raise AssertionError("a load client thread did not stop")
        return self

    def _run(self, index):
        deadline = time.monotonic() + self.max_seconds
        conn = None
        count = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            count += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=10)
                    with self.lock:
                        self.opened += 1
                headers = dict(self.headers)
                headers["x-load"] = "%d-%d" % (index, count)
                conn.request("GET", self.path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                pairs = [(k.lower(), v) for k, v in r.getheaders()]
                verdict = self.check(r.status, pairs, body)
                now = time.monotonic()
                with self.lock:
                    self.statuses[r.status] += 1
                    self.timeline.append((now, r.status))
                    if verdict is not None:
                        self.bad.append((now, index, r.status, verdict))
                if r.will_close:
                    conn.close()
                    conn = None
                    with self.lock:
                        self.closed_by_server += 1
            except (OSError, http.client.HTTPException) as e:
                now = time.monotonic()
                with self.lock:
                    self.errors.append((now, index, repr(e)))
                    self.timeline.append((now, repr(e)))
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.01)
            if self.pause:
                time.sleep(self.pause)
        if conn is not None:
            conn.close()

    def summary(self):
        with self.lock:
            return ("%d requests on %d connections (%d closed by the server): statuses %s, %d errors %s, "
                    "%d bad answers %s"
                    % (sum(self.statuses.values()) + len(self.errors), self.opened, self.closed_by_server,
                       dict(self.statuses), len(self.errors), self.errors[:5], len(self.bad), self.bad[:5]))


def _leb128(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def wasm_imports(path):
    """[(module, name)] of the function imports of a binary .wasm module."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\0asm":
        raise AssertionError("%s is not a wasm module" % path)
    pos = 8
    while pos < len(data):
        section = data[pos]
        size, pos = _leb128(data, pos + 1)
        end = pos + size
        if section != 2:
            pos = end
            continue
        count, pos = _leb128(data, pos)
        funcs = []
        for _ in range(count):
            names = []
            for _ in range(2):
                length, pos = _leb128(data, pos)
                names.append(data[pos:pos + length].decode())
                pos += length
            kind = data[pos]
            pos += 1
            if kind == 0:            # function: type index
                _, pos = _leb128(data, pos)
                funcs.append(tuple(names))
            elif kind == 1:          # table: reftype, limits
                pos += 1
                flags, pos = _leb128(data, pos)
                _, pos = _leb128(data, pos)
                if flags & 1:
                    _, pos = _leb128(data, pos)
            elif kind == 2:          # memory: limits
                flags, pos = _leb128(data, pos)
                _, pos = _leb128(data, pos)
                if flags & 1:
                    _, pos = _leb128(data, pos)
            elif kind == 3:          # global: valtype, mutability
                pos += 2
            elif kind == 4:          # tag: attribute, type index
                pos += 1
                _, pos = _leb128(data, pos)
            else:
                raise AssertionError("unknown import kind %d in %s" % (kind, path))
        return funcs
    return []

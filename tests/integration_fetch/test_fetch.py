#!/usr/bin/env python3
"""Module fetching with the real wasmgate binary and real peers, loopback only.

Usage:
  test_fetch.py --wasmgate PATH --plugins DIR [--registry PATH] [unittest arguments]

- OciRegistryTest: Debian's docker-registry (plain http on loopback) with modules pushed by the
  test itself through the registry API (blob upload POST/PUT, manifest PUT), as a Wasm OCI
  artifact and as a docker image whose last layer is a tar.gz holding plugin.wasm; then
  `wasmgate serve` with an oci:// plugin answers with the plugin's effect. The cache keeps a
  restart working with the registry gone (IfNotPresent), and Always refuses it.
- HttpsTest: an https:// module from a Python https server whose self-signed certificate is made
  with the openssl CLI and given as fetch.ca_file; without it the certificate is refused, and
  insecure_skip_verify accepts it. HttpsHostCheckTest: a certificate for 127.0.0.1 only is
  refused for the name localhost.
- Sha256Test: a wrong sha256 is refused at start; on reload (POST /reload, or a changed file in
  plugin_dirs) the reload is refused and the old plugin keeps serving.

Standard library only. Every wait is bounded.
"""

import argparse
import gzip
import hashlib
import http.client
import io
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

WASMGATE = None
PLUGINS = None
REGISTRY = None
LOOPBACK = "127.0.0.1"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def request(port, method, path, body=None, headers=None, timeout=10):
    """(status, headers dict with lowercase names, body) of one plain HTTP request."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        res = conn.getresponse()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
    finally:
        conn.close()


def add_header_module():
    with open(os.path.join(PLUGINS, "add_header.wasm"), "rb") as f:
        return f.read()


# ---------------------------------------------------------------------------------------------
# Debian's docker-registry and pushes through its API


class Registry:
    """`docker-registry serve` on a free loopback port with a temporary storage folder."""

    def __init__(self, workdir):
        self.port = free_port()
        self.dir = os.path.join(workdir, "registry")
        os.makedirs(self.dir, exist_ok=True)
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    "    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s:%d\n"
                    "  secret: wasmgate-test\n" % (os.path.join(self.dir, "data"), LOOPBACK, self.port))
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen([REGISTRY, "serve", config], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: request(self.port, "GET", "/v2/", timeout=1)[0] == 200, 20, "docker-registry")
        except AssertionError:
            self.stop()
            raise

    @property
    def host(self):
        return "%s:%d" % (LOOPBACK, self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()

    def push_blob(self, repo, data):
        """Monolithic upload: POST an upload session, then PUT the bytes with their digest."""
        digest = "sha256:" + sha256(data)
        status, headers, body = request(self.port, "POST", "/v2/%s/blobs/uploads/" % repo,
                                        body=b"", headers={"Content-Length": "0"})
        assert status == 202, "upload start: %d %r" % (status, body)
        location = urllib.parse.urlsplit(headers["location"])
        query = location.query + ("&" if location.query else "") + "digest=" + urllib.parse.quote(digest)
        status, _, body = request(self.port, "PUT", location.path + "?" + query, body=data,
                                  headers={"Content-Type": "application/octet-stream"})
        assert status == 201, "upload finish: %d %r" % (status, body)
        return {"digest": digest, "size": len(data)}

    def push_manifest(self, repo, ref, manifest, media_type):
        data = json.dumps(manifest).encode()
        status, headers, body = request(self.port, "PUT", "/v2/%s/manifests/%s" % (repo, ref), body=data,
                                        headers={"Content-Type": media_type})
        assert status == 201, "manifest put: %d %r" % (status, body)
        assert headers["docker-content-digest"] == "sha256:" + sha256(data)
        return headers["docker-content-digest"]

    def push_artifact(self, repo, tag, module):
        """The Wasm OCI artifact: the module itself is the only layer."""
        config = self.push_blob(repo, b"{}")
        layer = self.push_blob(repo, module)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": dict(config, mediaType="application/vnd.module.wasm.config.v1+json"),
            "layers": [dict(layer, mediaType="application/vnd.module.wasm.content.layer.v1+wasm")],
        }
        return self.push_manifest(repo, tag, manifest, OCI_MANIFEST)

    def push_image(self, repo, tag, module):
        """A docker image, as `docker build` of `FROM scratch` + `COPY plugin.wasm ./` makes it."""
        tar = io.BytesIO()
        with tarfile.open(fileobj=tar, mode="w") as t:
            info = tarfile.TarInfo("plugin.wasm")
            info.size = len(module)
            info.mtime = 0
            t.addfile(info, io.BytesIO(module))
        layer_bytes = gzip.compress(tar.getvalue(), mtime=0)
        layer = self.push_blob(repo, layer_bytes)
        config = self.push_blob(repo, json.dumps({
            "architecture": "amd64", "os": "linux", "config": {},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(tar.getvalue())]},
        }).encode())
        manifest = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": dict(config, mediaType="application/vnd.docker.container.image.v1+json"),
            "layers": [dict(layer, mediaType="application/vnd.docker.image.rootfs.diff.tar.gzip")],
        }
        return self.push_manifest(repo, tag, manifest, DOCKER_MANIFEST)


# ---------------------------------------------------------------------------------------------
# an https server with a self-signed certificate


class HttpsServer:
    """Serves `root` over https with a certificate for localhost and 127.0.0.1 made by openssl."""

    def __init__(self, workdir, root, san="DNS:localhost,IP:127.0.0.1"):
        self.cert = os.path.join(workdir, "cert.pem")
        key = os.path.join(workdir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", self.cert, "-days", "1", "-subj", "/CN=wasmgate-test",
                        "-addext", "subjectAltName=" + san],
                       check=True, capture_output=True, timeout=60)

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=root, **kwargs)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.daemon = True
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


# ---------------------------------------------------------------------------------------------
# wasmgate serve


class Proxy:
    """`wasmgate serve -c` with one listener answering 200 directly and the given plugins."""

    def __init__(self, workdir, plugins, fetch=None, plugin_dirs=None):
        self.workdir = workdir
        self.port = free_port()
        self.admin = free_port()
        self.config = os.path.join(workdir, "bootstrap.yaml")
        self.write(plugins, fetch, plugin_dirs)
        self.log_path = os.path.join(workdir, "wasmgate-%d.log" % self.port)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([WASMGATE, "serve", "-c", self.config],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def write(self, plugins, fetch=None, plugin_dirs=None):
        doc = {
            "admin": {"address": "%s:%d" % (LOOPBACK, self.admin)},
            "workers": 1,
            "listeners": [{"name": "main", "address": "%s:%d" % (LOOPBACK, self.port),
                           "routes": [{"match": {"prefix": "/"},
                                       "direct_response": {"status": 200, "body": "hi"}}]}],
            "plugins": plugins,
        }
        if fetch:
            doc["fetch"] = fetch
        if plugin_dirs:
            doc["plugin_dirs"] = plugin_dirs
        with open(self.config, "w") as f:
            json.dump(doc, f)  # JSON is YAML

    def wait_ready(self):
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError("wasmgate exited %d:\n%s" % (self.proc.returncode, self.output()))
            return request(self.admin, "GET", "/ready", timeout=1)[0] == 200
        wait_for(ready, 30, "wasmgate /ready")
        return self

    def wait_exit(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.log.close()

    def output(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def get(self, path="/"):
        return request(self.port, "GET", path)

    def reload(self):
        return request(self.admin, "POST", "/reload", body=b"", timeout=60)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if not self.log.closed:
            self.log.close()


def plugin(url, value, sha="", policy=None, name="add-header"):
    spec = {"name": name, "url": url, "sha256": sha, "pluginName": "add_header",
            "failStrategy": "FAIL_CLOSE",
            "pluginConfig": {"response_headers": {"x-version": value}}}
    if policy:
        spec["imagePullPolicy"] = policy
    return spec


class FetchTestCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="wasmgate-fetch-it-")
        self.dir = self.tmp.name
        self.cache = os.path.join(self.dir, "cache")
        self.module = add_header_module()
        self.cleanups = []
        self.proxies = []

    def tearDown(self):
        for stop in reversed(self.cleanups):
            stop()
        try:
            for proxy in self.proxies:  # sanitizer builds report here
                output = proxy.output()
                self.assertNotIn("AddressSanitizer", output)
                self.assertNotIn("runtime error:", output)
        finally:
            self.tmp.cleanup()

    def start_proxy(self, plugins, fetch=None, plugin_dirs=None, ready=True):
        fetch = dict({"cache_dir": self.cache, "timeout": "5s", "attempts": 2}, **(fetch or {}))
        proxy = Proxy(self.dir, plugins, fetch, plugin_dirs)
        self.cleanups.append(proxy.stop)
        self.proxies.append(proxy)
        return proxy.wait_ready() if ready else proxy

    def assert_version(self, proxy, value):
        status, headers, body = proxy.get("/")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-version"), value)


# ---------------------------------------------------------------------------------------------


@unittest.skipUnless(REGISTRY or shutil.which("docker-registry"), "docker-registry is not installed")
class OciRegistryTest(FetchTestCase):
    def setUp(self):
        super().setUp()
        self.registry = Registry(self.dir)
        self.cleanups.append(self.registry.stop)

    def test_wasm_artifact(self):
        self.registry.push_artifact("plugins/add-header", "v1", self.module)
        url = "oci://%s/plugins/add-header:v1" % self.registry.host
        proxy = self.start_proxy([plugin(url, "artifact", sha=sha256(self.module))])
        self.assert_version(proxy, "artifact")

    def test_image_with_plugin_wasm_layer(self):
        digest = self.registry.push_image("plugins/add-header-image", "v1", self.module)
        url = "oci://%s/plugins/add-header-image:v1" % self.registry.host
        # Istio's reading of sha256 for an image: the image (manifest) digest.
        proxy = self.start_proxy([plugin(url, "image", sha=digest.split(":")[1])])
        self.assert_version(proxy, "image")

    def test_pinned_by_digest(self):
        digest = self.registry.push_artifact("plugins/pinned", "v1", self.module)
        url = "oci://%s/plugins/pinned@%s" % (self.registry.host, digest)
        proxy = self.start_proxy([plugin(url, "pinned")])
        self.assert_version(proxy, "pinned")

    def test_cache_serves_a_restart_without_the_registry(self):
        self.registry.push_artifact("plugins/cached", "v1", self.module)
        url = "oci://%s/plugins/cached:v1" % self.registry.host
        proxy = self.start_proxy([plugin(url, "cached", policy="IfNotPresent")])
        self.assert_version(proxy, "cached")
        proxy.stop()
        self.registry.stop()
        restarted = self.start_proxy([plugin(url, "again", policy="IfNotPresent")])
        self.assert_version(restarted, "again")
        # Always must reach the registry: the reload fails and the running version stays.
        restarted.write([plugin(url, "always", policy="Always")],
                        {"cache_dir": self.cache, "timeout": "1s", "attempts": 2})
        status, _, body = restarted.reload()
        self.assertEqual(status, 400, body)
        self.assertIn(b"connect", body)
        self.assert_version(restarted, "again")

    def test_always_picks_up_a_new_push_on_reload(self):
        first = self.registry.push_artifact("plugins/moving", "v1", self.module)
        url = "oci://%s/plugins/moving:v1" % self.registry.host
        proxy = self.start_proxy([plugin(url, "first", policy="Always")])
        self.assert_version(proxy, "first")
        self.assertIn("manifest=" + first.split(":")[1], self.cached_ref(url))
        second = self.registry.push_image("plugins/moving", "v1", self.module)  # same tag, new image
        proxy.write([plugin(url, "second", policy="Always")],
                    {"cache_dir": self.cache, "timeout": "5s", "attempts": 2})
        status, _, body = proxy.reload()
        self.assertEqual(status, 200, body)
        self.assert_version(proxy, "second")
        self.assertIn("manifest=" + second.split(":")[1], self.cached_ref(url))

    def cached_ref(self, url):
        """What the on-disk cache recorded for `url` (see src/fetch/module_cache.h)."""
        with open(os.path.join(self.cache, "urls", sha256(url.encode()) + ".ref")) as f:
            return f.read()


class HttpsBase(FetchTestCase):
    """A Python https server on loopback serving add_header.wasm with a fresh certificate."""
    san = "DNS:localhost,IP:127.0.0.1"

    def setUp(self):
        super().setUp()
        root = os.path.join(self.dir, "www")
        os.makedirs(root)
        with open(os.path.join(root, "add_header.wasm"), "wb") as f:
            f.write(self.module)
        self.https = HttpsServer(self.dir, root, self.san)
        self.cleanups.append(self.https.stop)


class HttpsTest(HttpsBase):
    def test_https_with_the_certificate_as_ca(self):
        for host in ("127.0.0.1", "localhost"):  # an IP SAN, and a DNS SAN with SNI
            with self.subTest(host=host):
                url = "https://%s:%d/add_header.wasm" % (host, self.https.port)
                proxy = self.start_proxy([plugin(url, "https-" + host, sha=sha256(self.module))],
                                         {"ca_file": self.https.cert, "cache_dir": self.cache + host})
                self.assert_version(proxy, "https-" + host)
                proxy.stop()

    def test_unknown_certificate_is_refused(self):
        url = "https://127.0.0.1:%d/add_header.wasm" % self.https.port
        proxy = self.start_proxy([plugin(url, "x")], ready=False)
        self.assertNotEqual(proxy.wait_exit(), 0)
        self.assertIn("certificate", proxy.output())

    def test_insecure_skip_verify_accepts_it(self):
        url = "https://127.0.0.1:%d/add_header.wasm" % self.https.port
        proxy = self.start_proxy([plugin(url, "insecure")], {"insecure_skip_verify": True})
        self.assert_version(proxy, "insecure")

    def test_missing_module_is_an_error(self):
        url = "https://127.0.0.1:%d/absent.wasm" % self.https.port
        proxy = self.start_proxy([plugin(url, "x")], {"ca_file": self.https.cert}, ready=False)
        self.assertNotEqual(proxy.wait_exit(), 0)
        self.assertIn("404", proxy.output())


class HttpsHostCheckTest(HttpsBase):
    """A certificate for 127.0.0.1 only: trusted, but not for the name localhost."""
    san = "IP:127.0.0.1"

    def test_https_with_the_certificate_as_ca(self):
        url = "https://127.0.0.1:%d/add_header.wasm" % self.https.port
        proxy = self.start_proxy([plugin(url, "by-ip")], {"ca_file": self.https.cert})
        self.assert_version(proxy, "by-ip")

    def test_another_host_name_is_refused(self):
        url = "https://localhost:%d/add_header.wasm" % self.https.port
        proxy = self.start_proxy([plugin(url, "x")], {"ca_file": self.https.cert}, ready=False)
        self.assertNotEqual(proxy.wait_exit(), 0)
        self.assertIn("hostname mismatch", proxy.output())


class Sha256Test(FetchTestCase):
    def setUp(self):
        super().setUp()
        self.path = os.path.join(self.dir, "add_header.wasm")
        with open(self.path, "wb") as f:
            f.write(self.module)
        self.wrong = "0" * 64

    def test_wrong_sha256_refuses_the_start(self):
        proxy = self.start_proxy([plugin(self.path, "x", sha=self.wrong)], ready=False)
        self.assertEqual(proxy.wait_exit(), 1)
        self.assertIn("sha256 mismatch", proxy.output())

    def test_reload_with_wrong_sha256_keeps_the_old_plugin(self):
        proxy = self.start_proxy([plugin(self.path, "v1", sha=sha256(self.module))])
        self.assert_version(proxy, "v1")
        proxy.write([plugin(self.path, "v2", sha=self.wrong)], {"cache_dir": self.cache})
        status, _, body = proxy.reload()
        self.assertEqual(status, 400, body)
        self.assertIn(b"sha256 mismatch", body)
        for _ in range(5):
            self.assert_version(proxy, "v1")
        proxy.write([plugin(self.path, "v3", sha=sha256(self.module))], {"cache_dir": self.cache})
        self.assertEqual(proxy.reload()[0], 200)
        self.assert_version(proxy, "v3")

    def test_plugin_dir_change_with_wrong_sha256_keeps_the_old_plugin(self):
        plugins_d = os.path.join(self.dir, "plugins.d")
        os.makedirs(plugins_d)
        manifest = os.path.join(plugins_d, "add-header.yaml")

        def write_manifest(value, sha):
            spec = plugin(self.path, value, sha=sha)
            del spec["name"]
            with open(manifest + ".tmp", "w") as f:
                json.dump({"apiVersion": "extensions.istio.io/v1alpha1", "kind": "WasmPlugin",
                           "metadata": {"name": "add-header"}, "spec": spec}, f)
            os.replace(manifest + ".tmp", manifest)

        write_manifest("v1", sha256(self.module))
        proxy = self.start_proxy([], plugin_dirs=[plugins_d])
        self.assert_version(proxy, "v1")
        write_manifest("v2", self.wrong)
        wait_for(lambda: "sha256 mismatch" in proxy.output(), 20, "the refused reload in the log")
        self.assert_version(proxy, "v1")
        write_manifest("v3", sha256(self.module))
        wait_for(lambda: proxy.get("/")[1].get("x-version") == "v3", 20, "the fixed manifest to load")


def main():
    global WASMGATE, PLUGINS, REGISTRY
    parser = argparse.ArgumentParser()
    parser.add_argument("--wasmgate", required=True)
    parser.add_argument("--plugins", required=True)
    parser.add_argument("--registry", default=shutil.which("docker-registry"))
    args, rest = parser.parse_known_args()
    WASMGATE, PLUGINS, REGISTRY = args.wasmgate, args.plugins, args.registry
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()

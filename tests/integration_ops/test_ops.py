#!/usr/bin/env python3
"""Operations tests: live plugin changes under load, and plugins that fail, with the real binary.

Usage:
  test_ops.py --wasmgate PATH --plugins DIR [--wat2wasm PATH] [unittest arguments]

The plugins folder holds the example plugins (<name>.wasm); the WAT plugins of fixtures/ are
compiled with wat2wasm when a class starts. Each class runs its own `wasmgate serve -c` (2 workers,
admin and listeners on free loopback ports) with the Python upstream of tests/integration, and
stops it with SIGTERM, which must end it with status 0.

- LiveChangeTest: 50 adds, changes and removals of WasmPlugin manifests in a plugin_dirs folder
  (atomic rename, in-place rewrite, rename in and out, deletion; some followed by POST /reload)
  under steady keep-alive load: no request fails, and each change shows. Also: ConfigMap-style
  symlink swaps, a refused change and a vanished folder keep the running set, a same-size
  same-mtime replacement is seen, and an unrelated reload leaves a plugin's counters alone.
- FailOpenTest, FailCloseTest: plugins that trap on every tenth request, loop forever on /loop
  (cpu_deadline_ms: 100) and grow memory without end on /grow (memory_mb: 16), in a chain with
  add_header: the rest of the traffic stays correct, RSS stays bounded, /plugins and
  /stats/prometheus count the failures and restarts, and a fixed module dropped into the manifest
  serves again.
- LogOnlyTest: a logOnly deny plugin lets every request through and counts its would-be denials.
- CapabilityTest: add_header without proxy_add_header_map_value in allowed_hostcalls adds nothing,
  and the refusal is logged.
"""

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ops import (  # noqa: E402
    LoadClients, ManifestDir, Proxy, base_config, cluster, compile_wat, free_port, get,
    header_values, http_listener, manifest, metric, plugin, route, rss_kb, start_proxy, start_upstream,
    wait_for, wasm_imports, with_header)

WASMGATE = None
PLUGINS = None
WAT2WASM = None

RSS_GROWTH_LIMIT_MB = 300  # --rss-limit-mb; AddressSanitizer's quarantine and shadow need more
CHANGES = 50


def wasm(name):
    return os.path.join(PLUGINS, name + ".wasm")


def new_id():
    return uuid.uuid4().hex


def upstream_header(body, name):
    """The values of header `name` in the upstream's JSON report (the request as it arrived)."""
    try:
        return header_values(json.loads(body)["headers"], name)
    except (ValueError, KeyError, TypeError):
        return None


class OpsTestCase(unittest.TestCase):
    """An upstream, a temporary folder (plugin_dirs folder and compiled fixtures) and one proxy per
    class. The proxy must survive every test and exit 0 on SIGTERM."""

    fixtures = ()

    @classmethod
    def make_config(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="wasmgate-ops-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.wasm = {}
        if cls.fixtures:
            if not WAT2WASM:
                raise unittest.SkipTest("wat2wasm not found")
            for name in cls.fixtures:
                cls.wasm[name] = compile_wat(WAT2WASM, name, cls.tmp)
        cls.dir = ManifestDir(os.path.join(cls.tmp, "plugins.d"))
        cls.upstream = start_upstream()
        cls.addClassCleanup(cls.upstream.stop)
        cls.port = free_port()
        cls.setUpPorts()
        config = cls.make_config()
        config["plugin_dirs"] = [cls.dir.path]
        cls.proxy = Proxy(WASMGATE, config, workdir=os.path.join(cls.tmp, "proxy"))
        os.makedirs(cls.proxy.dir, exist_ok=True)
        cls.addClassCleanup(cls.proxy.kill)
        start_proxy(cls.proxy)
        cls.rss_start = rss_kb(cls.proxy.process.pid)

    @classmethod
    def setUpPorts(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        alive = cls.proxy.alive()
        if alive:
            rss = rss_kb(cls.proxy.process.pid)
            sys.stderr.write("%s: wasmgate RSS %d MiB at start, %d MiB at the end\n"
                             % (cls.__name__, cls.rss_start // 1024, rss // 1024))
        code = cls.proxy.stop(timeout=10)
        if not alive or code != 0:
            raise AssertionError("wasmgate %s (exit status %r after SIGTERM); log:\n%s"
                                 % ("had died" if not alive else "did not stop cleanly", code,
                                    cls.proxy.log_tail()))

    def tearDown(self):
        if not self.proxy.alive():
            self.fail("wasmgate died during this test (exit %r); log:\n%s"
                      % (self.proxy.process.returncode, self.proxy.log_tail()))
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is not None and any(t is self for t, _ in result.failures + result.errors):
            sys.stderr.write("\n--- wasmgate log (%s) ---\n%s\n---\n" % (self.id(), self.proxy.log_tail(40)))

    # helpers

    def reload(self):
        status, body = self.proxy.admin("POST", "/reload")
        self.assertEqual(status, 200, body)

    def settle(self, quiet=0.6, timeout=10):
        """Waits until no reload has been logged for `quiet` seconds. The folder watch (every
        250 ms) reloads after any change of the folder, even one that a POST /reload already
        applied, and a reload starts fresh VMs for changed plugins: tests that count what VMs do let
        it pass first."""
        pattern = r"\[server\] reload(ed)? \("
        last = self.log_count(pattern)
        quiet_since = time.monotonic()
        deadline = quiet_since + timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.log_count(pattern)
            if now != last:
                last, quiet_since = now, time.monotonic()
            elif time.monotonic() - quiet_since >= quiet:
                return
        raise AssertionError("reloads kept coming for %ds" % timeout)

    def plugin_entry(self, name):
        entries = [p for p in self.proxy.admin_json("/plugins") if p["name"] == name]
        return entries[0] if entries else None

    def wait_running(self, name, timeout=10):
        def running():
            entry = self.plugin_entry(name)
            return entry if entry and all(s == "running" for s in entry["workers"]) else None
        return wait_for(running, timeout, what="plugin %s running on every worker" % name)

    def plugin_counters(self, name):
        samples = self.proxy.stats()
        return {k: metric(samples, "wasmgate_plugin_%s_total" % k, plugin=name)
                for k in ("vm_failures", "vm_restarts", "fail_open", "fail_closed", "streams", "callbacks",
                          "log_only_actions", "local_responses", "vm_starts")}

    def rss_growth_kb(self):
        return rss_kb(self.proxy.process.pid) - self.rss_start

    def assert_rss_bounded(self):
        growth = self.rss_growth_kb()
        self.assertLess(growth, RSS_GROWTH_LIMIT_MB * 1024,
                        "RSS grew by %d MiB since the proxy started" % (growth // 1024))

    def log_count(self, pattern):
        return len(re.findall(pattern, self.proxy.log_text()))


# ---------------------------------------------------------------------------------------------


class LiveChangeTest(OpsTestCase):
    """A plugin_dirs folder changed 50 times under steady load (4 keep-alive connections):
    add_header's response header carries the version of each change, a deny plugin comes and
    goes and changes its status. The load itself is never denied."""

    @classmethod
    def make_config(cls):
        return base_config([http_listener("main", cls.port, [route("/", "backend")])],
                           [cluster("backend", cls.upstream.port)])

    def version_doc(self, version):
        return manifest("version", wasm("add_header"), "add_header",
                        {"request_headers": {"x-version-up": version},
                         "response_headers": {"x-version": version}},
                        phase="AUTHN", failStrategy="FAIL_OPEN")

    def deny_doc(self, status):
        return manifest("deny", wasm("deny"), "deny",
                        {"path_prefixes": ["/blocked"], "status": status, "body": "denied %d\n" % status},
                        phase="AUTHZ")

    def observed(self):
        """(x-version of a forwarded request, status of a request to /blocked)."""
        probe = get(self.port, "/probe")
        self.assertEqual(probe.status, 200)
        blocked = get(self.port, "/blocked/x")
        return probe.header("x-version"), blocked.status

    def test_50_changes_under_load(self):
        written = set()  # every x-version value ever written (a load answer may carry any of them)

        def check(status, headers, body):
            if status != 200:
                return "status %d" % status
            version = header_values(headers, "x-version")
            if len(version) > 1 or (version and version[0] not in written):
                return "x-version %r" % version
            if upstream_header(body, "x-version-up") != version:
                return "the upstream saw x-version-up %r, the client x-version %r" % (
                    upstream_header(body, "x-version-up"), version)
            return None

        expected = {"version": None, "deny": None}  # deny: the status of the deny plugin, or None
        parked_deny = None
        steps = []  # (change number, what, how applied, seconds until it showed)
        self.dir.clear()
        self.reload()
        self.assertEqual(self.observed(), (None, 200))

        with LoadClients(self.port, "/load", connections=4, check=check, max_seconds=120) as load:
            time.sleep(0.3)
            for n in range(1, CHANGES + 1):
                op = (n - 1) % 10
                version = "v%d" % n
                deny_status = (403, 429, 451)[n % 3]
                written.add(version)
                if op == 0:
                    what = "add version (atomic rename)"
                    self.dir.write("version.yaml", self.version_doc(version))
                    expected["version"] = version
                elif op == 1:
                    what = "change version (rewrite in place)"
                    self.dir.write_in_place("version.yaml", self.version_doc(version))
                    expected["version"] = version
                elif op == 2:
                    what = "add deny %d (atomic rename)" % deny_status
                    self.dir.write("deny.yaml", self.deny_doc(deny_status))
                    expected["deny"] = deny_status
                elif op == 3:
                    what = "change deny to %d (rewrite in place)" % deny_status
                    self.dir.write_in_place("deny.yaml", self.deny_doc(deny_status))
                    expected["deny"] = deny_status
                elif op == 4:
                    what = "remove deny (renamed to .off)"
                    self.dir.park("deny.yaml")
                    parked_deny, expected["deny"] = expected["deny"], None
                elif op == 5:
                    what = "change version (atomic rename)"
                    self.dir.write("version.yaml", self.version_doc(version))
                    expected["version"] = version
                elif op == 6:
                    what = "add deny back (renamed from .off)"
                    self.dir.unpark("deny.yaml")
                    expected["deny"] = parked_deny
                elif op == 7:
                    what = "change deny to %d (atomic rename)" % deny_status
                    if deny_status == expected["deny"]:
                        deny_status = 418
                    self.dir.write("deny.yaml", self.deny_doc(deny_status))
                    expected["deny"] = deny_status
                elif op == 8:
                    what = "remove deny (deleted)"
                    self.dir.remove("deny.yaml")
                    expected["deny"] = None
                else:
                    what = "remove version (deleted)"
                    self.dir.remove("version.yaml")
                    expected["version"] = None
                want = (expected["version"], expected["deny"] or 200)
                started = time.monotonic()
                if n % 3 == 0:
                    how = "POST /reload"
                    self.reload()
                    # the reload answers once every worker has swapped: the next request shows it
                    self.assertEqual(self.observed(), want, "change %d (%s) after POST /reload" % (n, what))
                else:
                    how = "folder watch"
                    wait_for(lambda: self.observed() == want, 10,
                             what="change %d (%s) to show %r" % (n, what, want))
                steps.append((n, what, how, time.monotonic() - started))
        self.assertEqual(load.errors, [], load.summary())
        self.assertEqual(load.bad, [], load.summary())
        self.assertEqual(set(load.statuses), {200}, load.summary())
        self.assertGreater(sum(load.statuses.values()), 200, load.summary())
        # keep-alive connections stayed open across the reloads
        self.assertEqual(load.closed_by_server, 0, load.summary())
        self.assertEqual(load.opened, 4, load.summary())
        samples = self.proxy.stats()
        self.assertEqual(metric(samples, "wasmgate_listener_downstream_rq_completed_total",
                                listener="main", **{"class": "5xx"}), 0)
        self.assertEqual(len(steps), CHANGES)
        slowest = max(steps, key=lambda s: s[3])
        sys.stderr.write("\n%d changes; load: %s; slowest change %d (%s, %s) %.2fs\n"
                         % (len(steps), load.summary(), slowest[0], slowest[1], slowest[2], slowest[3]))
        self.assert_rss_bounded()
        self.dir.clear()
        self.reload()

    def test_refused_change_keeps_the_running_set_under_load(self):
        self.dir.clear()
        self.dir.write("version.yaml", self.version_doc("good"))
        self.reload()
        with LoadClients(self.port, "/load", connections=2, max_seconds=30) as load:
            broken = self.version_doc("broken")
            broken["spec"]["no_such_field"] = 1  # an unknown field: the whole change is refused
            self.dir.write_in_place("version.yaml", broken)
            status, body = self.proxy.admin("POST", "/reload")
            self.assertEqual(status, 400, body)
            self.assertIn("version.yaml:", body)
            self.assertIn("no_such_field", body)
            self.assertEqual(self.observed(), ("good", 200))
            self.dir.write("version.yaml", self.version_doc("after"))
            wait_for(lambda: self.observed() == ("after", 200), 10, what="the corrected manifest")
        self.assertEqual(load.errors, [], load.summary())
        self.assertEqual(set(load.statuses), {200}, load.summary())
        self.dir.clear()
        self.reload()

    def test_configmap_style_symlink_swaps_under_load(self):
        self.dir.clear()
        self.reload()
        with LoadClients(self.port, "/load", connections=2, max_seconds=30) as load:
            for generation in range(1, 6):
                version = "cm%d" % generation
                files = {"version.yaml": self.version_doc(version)}
                if generation % 2 == 0:
                    files["deny.yaml"] = self.deny_doc(403)
                self.dir.configmap_update(files, generation)
                # a key of an older generation that the new one lacks dangles: it is not a manifest
                want = (version, 403 if generation % 2 == 0 else 200)
                wait_for(lambda: self.observed() == want, 10, what="ConfigMap generation %d" % generation)
        self.assertEqual(load.errors, [], load.summary())
        self.assertEqual(set(load.statuses), {200}, load.summary())
        self.dir.clear()
        self.reload()

    def test_missing_folder_keeps_the_running_set(self):
        self.dir.clear()
        self.dir.write("version.yaml", self.version_doc("kept"))
        self.reload()
        refusals = self.log_count(r"reload \(plugin_dirs change\) refused")
        moved = self.dir.path + ".moved"
        with LoadClients(self.port, "/load", connections=2, max_seconds=30) as load:
            os.rename(self.dir.path, moved)
            try:
                wait_for(lambda: self.log_count(r"reload \(plugin_dirs change\) refused") > refusals, 5,
                         what="the watch to notice the folder is gone")
                self.assertEqual(self.observed(), ("kept", 200))
                status, body = self.proxy.admin("POST", "/reload")
                self.assertEqual(status, 400, body)
                self.assertIn("plugins.d", body)
                self.assertEqual(self.observed(), ("kept", 200))
            finally:
                os.rename(moved, self.dir.path)
            self.dir.write("version.yaml", self.version_doc("back"))
            wait_for(lambda: self.observed() == ("back", 200), 10, what="the folder to be read again")
        self.assertEqual(load.errors, [], load.summary())
        self.assertEqual(set(load.statuses), {200}, load.summary())
        self.dir.clear()
        self.reload()

    def test_change_with_the_same_size_and_mtime_is_picked_up(self):
        # A manifest replaced by one of the same size and mtime (cp -p, rsync -a, tar x of an
        # archive with normalised mtimes; or two same-size writes within one timestamp tick): the
        # folder watch must still see it (the inode and ctime change).
        self.dir.clear()
        self.reload()
        fixed_mtime = 1_700_000_000
        self.dir.write("version.yaml", self.version_doc("s1"))
        os.utime(self.dir.file("version.yaml"), (fixed_mtime, fixed_mtime))
        wait_for(lambda: self.observed() == ("s1", 200), 10, what="the first version")
        self.settle()
        self.dir.write("version.yaml", self.version_doc("s2"))  # same size, a new inode
        os.utime(self.dir.file("version.yaml"), (fixed_mtime, fixed_mtime))
        deadline = time.monotonic() + 3  # twelve polls of the watch
        while time.monotonic() < deadline and self.observed() != ("s2", 200):
            time.sleep(0.05)
        picked_up = self.observed() == ("s2", 200)
        self.reload()  # the file itself is fine: an explicit reload applies it
        self.assertEqual(self.observed(), ("s2", 200))
        self.dir.clear()
        self.reload()
        self.assertTrue(picked_up, "the folder watch did not apply the change within 3 s")

    def test_unchanged_plugin_keeps_its_vms_across_reloads(self):
        # A reload that changes another plugin, or nothing, starts no VM for an unchanged one;
        # changing the plugin itself starts one per worker.
        self.dir.clear()
        self.dir.write("version.yaml", self.version_doc("kept"))
        self.reload()
        self.settle()
        started = self.plugin_counters("version")["vm_starts"]
        self.assertGreaterEqual(started, 1)
        self.dir.write("deny.yaml", self.deny_doc(403))  # another plugin
        self.reload()
        self.assertEqual(get(self.port, "/blocked").status, 403)
        self.reload()  # nothing changed
        self.assertEqual(self.plugin_counters("version")["vm_starts"], started)
        self.assertEqual(self.observed(), ("kept", 403))
        self.dir.write("version.yaml", self.version_doc("changed"))
        self.reload()
        self.assertEqual(self.observed()[0], "changed")
        self.assertGreater(self.plugin_counters("version")["vm_starts"], started)
        self.dir.clear()
        self.reload()

    def test_counters_of_an_unchanged_plugin_survive_a_reload(self):
        # Prometheus counters (and vm_failures / vm_restarts in /plugins) of a plugin must not go
        # back when a reload (a manifest edit, POST /reload, SIGHUP) changes another plugin.
        self.dir.clear()
        self.dir.write("version.yaml", self.version_doc("steady"))
        self.reload()
        self.settle()
        for _ in range(5):
            self.assertEqual(get(self.port, "/count").status, 200)
        before = self.plugin_counters("version")["callbacks"]
        self.assertGreaterEqual(before, 10)
        self.dir.write("deny.yaml", self.deny_doc(403))  # another plugin
        self.reload()
        after = self.plugin_counters("version")["callbacks"]
        self.dir.clear()
        self.reload()
        self.assertGreaterEqual(after, before, "wasmgate_plugin_callbacks_total went back")


# ---------------------------------------------------------------------------------------------


ADD_HEADER_CONFIG = {"request_headers": {"x-added": "yes"}, "response_headers": {"x-chain": "add_header"}}


class FailingPluginsTest(OpsTestCase):
    """Listener `chain`: add_header (inline, AUTHN) and one failing plugin (a manifest in the
    plugin_dirs folder, AUTHZ, matched to this listener's port). Listener `plain`: add_header only.
    Subclasses set the failing plugin's failStrategy."""

    fixtures = ("trap_every_tenth", "loop_on_path", "grow_on_path", "fixed")
    strategy = None

    @classmethod
    def setUpPorts(cls):
        cls.plain_port = free_port()

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("chain", cls.port, [route("/", "backend")]),
             http_listener("plain", cls.plain_port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("add-header", wasm("add_header"), "add_header", ADD_HEADER_CONFIG, phase="AUTHN")])

    def failing_doc(self, name, fixture, limits=None):
        spec = {"phase": "AUTHZ", "failStrategy": self.strategy,
                "match": [{"ports": [{"number": self.port}]}]}
        if limits:
            spec["limits"] = limits
        return manifest(name, self.wasm[fixture], "", None, **spec)

    def install(self, name, fixture, limits=None):
        self.dir.clear()
        self.dir.write(name + ".yaml", self.failing_doc(name, fixture, limits))
        self.reload()
        self.addCleanup(self.uninstall, name)
        self.settle()
        entry = self.wait_running(name)
        self.assertEqual(entry["fail_strategy"], self.strategy)
        self.assertEqual(entry["vm_failures"], 0)

    def uninstall(self, name):
        self.dir.clear()
        self.reload()
        self.assertIsNone(self.plugin_entry(name))

    def good_answer(self, name):
        """The check of an answer on the chain listener: add_header's work on both sides, and for
        FAIL_CLOSE a 503 naming the failed plugin is acceptable too (while its VM is down)."""
        def check(status, headers, body):
            if status == 503 and self.strategy == "FAIL_CLOSE":
                return None if body == ("plugin %s failed\n" % name).encode() else "503 body %r" % body
            if status != 200:
                return "status %d" % status
            if header_values(headers, "x-chain") != ["add_header"]:
                return "x-chain %r" % header_values(headers, "x-chain")
            if upstream_header(body, "x-added") != ["yes"]:
                return "the upstream saw x-added %r" % upstream_header(body, "x-added")
            return None
        return check

    def plain_check(self, status, headers, body):
        if status != 200:
            return "status %d" % status
        if header_values(headers, "x-chain") != ["add_header"] or upstream_header(body, "x-added") != ["yes"]:
            return "add_header did not run: %r" % headers
        return None

    def expect_trigger(self, name, response):
        """A request that makes the plugin fail: FAIL_OPEN forwards it (add_header still ran),
        FAIL_CLOSE answers 503."""
        if self.strategy == "FAIL_OPEN":
            self.assertEqual(response.status, 200, response.body[:200])
            self.assertEqual(response.header("x-chain"), "add_header")
            self.assertEqual(upstream_header(response.body, "x-added"), ["yes"])
        else:
            self.assertEqual(response.status, 503)
            self.assertEqual(response.body, ("plugin %s failed\n" % name).encode())

    def fail_closed_streams(self, chain, plain):
        """Checks the clients' outcomes; returns how many chain requests were failed closed.
        The plain listener never fails. On the chain listener, FAIL_OPEN never fails either;
        FAIL_CLOSE answers 503 while the plugin's VM is down on that worker, and a request whose
        response had already started when its VM died is cut short (its plugin context died with
        the VM, as in Envoy): the client reads the head and then too few body bytes."""
        self.assertEqual(plain.errors, [], plain.summary())
        self.assertEqual(plain.bad, [], plain.summary())
        self.assertEqual(set(plain.statuses), {200}, plain.summary())
        self.assertGreater(sum(plain.statuses.values()), 10, plain.summary())
        self.assertEqual(chain.bad, [], chain.summary())
        self.assertGreater(chain.total, 10, chain.summary())
        if self.strategy == "FAIL_OPEN":
            self.assertEqual(chain.errors, [], chain.summary())
            self.assertEqual(set(chain.statuses), {200}, chain.summary())
            return 0
        cut = [e for e in chain.errors if e[2].startswith("IncompleteRead(0 bytes read")]
        self.assertEqual(chain.errors, cut, chain.summary())
        return chain.statuses[503] + len(cut)

    def check_counters(self, name, before, after, failures, failed_closed):
        """/stats/prometheus and /plugins agree on `failures` failures, each followed by a restart;
        the fail-open / fail-closed counters match what the clients saw."""
        self.assertEqual(after["vm_failures"] - before["vm_failures"], failures)
        self.assertEqual(after["vm_restarts"] - before["vm_restarts"], failures)
        entry = self.plugin_entry(name)
        self.assertEqual(entry["vm_failures"], after["vm_failures"])
        self.assertEqual(entry["vm_restarts"], after["vm_restarts"])
        text = self.proxy.admin("GET", "/stats/prometheus")[1]
        self.assertRegex(text, r'wasmgate_plugin_vm_failures_total\{plugin="%s"\} [1-9]' % name)
        self.assertRegex(text, r'wasmgate_plugin_vm_restarts_total\{plugin="%s"\} [1-9]' % name)
        if self.strategy == "FAIL_OPEN":
            self.assertGreaterEqual(after["fail_open"] - before["fail_open"], failures)
            self.assertEqual(after["fail_closed"], before["fail_closed"])
        else:
            # every 503 and every cut-short response the clients saw is one fail-closed stream
            self.assertEqual(after["fail_closed"] - before["fail_closed"], failed_closed)
            self.assertGreaterEqual(failed_closed, failures)
            self.assertEqual(after["fail_open"], before["fail_open"])

    def drop_in_fix(self, name, trigger_path, limits=None):
        """The manifest's url now names the fixed module (the folder watch picks it up): requests,
        the old trigger included, pass through it."""
        doc = self.failing_doc(name, "fixed", limits)
        self.dir.write(name + ".yaml", doc)
        wait_for(lambda: get(self.port, trigger_path).header("x-fixed") == "yes", 10,
                 what="the fixed module of %s to serve" % name)
        entry = self.wait_running(name)
        self.assertTrue(entry["url"].endswith("/fixed.wasm"), entry)
        failures = self.plugin_counters(name)["vm_failures"]
        for path in [trigger_path] * 10 + ["/after-fix"] * 10:
            tid = new_id()
            r = get(self.port, path, [("x-test-id", tid)])
            self.assertEqual(r.status, 200, r.body[:200])
            self.assertEqual(r.header("x-fixed"), "yes")
            self.assertEqual(r.header("x-chain"), "add_header")
            self.assertEqual(len(self.upstream.seen(with_header("x-test-id", tid))), 1)
        self.assertEqual(self.plugin_counters(name)["vm_failures"], failures)
        self.assertEqual(self.plugin_entry(name)["workers"], ["running", "running"])

    def run_path_triggers(self, name, path, triggers, max_seconds):
        """`triggers` requests to `path`, each once the plugin runs on both workers (so each one
        fails a live VM), under load on both listeners. Returns the trigger latencies."""
        check = self.good_answer(name)
        before = self.plugin_counters(name)
        latencies = []
        with LoadClients(self.port, "/load", connections=2, check=check, max_seconds=60) as chain, \
                LoadClients(self.plain_port, "/plain", connections=1, check=self.plain_check,
                            max_seconds=60) as plain:
            for _ in range(triggers):
                self.wait_running(name)
                started = time.monotonic()
                r = get(self.port, path)
                latencies.append(time.monotonic() - started)
                self.expect_trigger(name, r)
            self.wait_running(name)
            time.sleep(0.2)
            # back in service: the chain is whole again
            for _ in range(6):
                r = get(self.port, "/again")
                self.assertEqual(check(r.status, r.headers, r.body), None)
                self.assertEqual(r.status, 200)
        after = self.plugin_counters(name)
        failed_closed = self.fail_closed_streams(chain, plain)
        if self.strategy == "FAIL_CLOSE":
            failed_closed += triggers
        self.check_counters(name, before, after, triggers, failed_closed)
        self.assertLess(max(latencies), max_seconds, "slowest trigger")
        return latencies

    # the three failing plugins

    def test_trap_on_every_tenth_request(self):
        name = "trap-tenth"
        self.install(name, "trap_every_tenth")
        check = self.good_answer(name)
        before = self.plugin_counters(name)
        with LoadClients(self.port, "/load", connections=3, check=check, max_seconds=60) as chain, \
                LoadClients(self.plain_port, "/plain", connections=1, check=self.plain_check,
                            max_seconds=60) as plain:
            wait_for(lambda: chain.total >= 400 and plain.total >= 30, 40, interval=0.1,
                     what="400 requests through the trapping plugin, 30 beside it")
        self.wait_running(name)
        after = self.plugin_counters(name)
        failed_closed = self.fail_closed_streams(chain, plain)
        failures = after["vm_failures"] - before["vm_failures"]
        streams = after["streams"] - before["streams"]
        # each VM traps on the tenth request it sees: streams = 10 x failures + the requests the
        # two live VMs have seen since their last rebuild (0 to 9 each)
        self.assertGreaterEqual(failures, 4, "%d streams" % streams)
        self.assertIn(streams - 10 * failures, range(0, 19), "%d failures in %d streams" % (failures, streams))
        self.check_counters(name, before, after, failures, failed_closed)
        self.assertGreaterEqual(self.log_count(r"\[plugin %s\] VM failed: trap: .*unreachable" % name), failures)
        self.assert_rss_bounded()
        self.drop_in_fix(name, "/load")
        self.assert_rss_bounded()

    def test_endless_loop_hits_the_cpu_deadline(self):
        name = "loop-forever"
        limits = {"cpu_deadline_ms": 100}
        self.install(name, "loop_on_path", limits)
        latencies = self.run_path_triggers(name, "/loop", 8, max_seconds=0.9)
        # the 100 ms deadline, not the 1 s default, ended each loop
        self.assertGreaterEqual(min(latencies), 0.09)
        self.assertGreaterEqual(
            self.log_count(r"\[plugin %s\] VM failed: deadline_exceeded: .*deadline of 100 ms" % name), 8)
        self.assert_rss_bounded()
        self.drop_in_fix(name, "/loop", limits)
        self.assert_rss_bounded()

    def test_endless_memory_growth_hits_the_cap(self):
        name = "grow-forever"
        limits = {"memory_mb": 16}
        self.install(name, "grow_on_path", limits)
        self.run_path_triggers(name, "/grow", 20, max_seconds=2)
        self.assertGreaterEqual(
            self.log_count(r"\[plugin %s\] VM failed: .*linear memory is at its cap of 256 pages" % name), 20)
        self.assert_rss_bounded()
        self.drop_in_fix(name, "/grow", limits)
        self.assert_rss_bounded()


class FailOpenTest(FailingPluginsTest):
    strategy = "FAIL_OPEN"


class FailCloseTest(FailingPluginsTest):
    strategy = "FAIL_CLOSE"


del FailingPluginsTest  # only its subclasses run


# ---------------------------------------------------------------------------------------------


class LogOnlyTest(OpsTestCase):
    """deny with logOnly: true denies /private and requests with x-blocked: yes, on paper only."""

    @classmethod
    def make_config(cls):
        return base_config(
            [http_listener("main", cls.port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("deny-log-only", wasm("deny"), "deny",
                    {"path_prefixes": ["/private"], "headers": {"x-blocked": "yes"}, "status": 403},
                    logOnly=True)])

    def test_would_be_denials_pass_and_are_counted(self):
        self.assertTrue(self.plugin_entry("deny-log-only")["log_only"])
        before = self.plugin_counters("deny-log-only")
        lines_before = self.log_count(r"\[plugin deny-log-only\] log-only: would have sent a local response 403")
        requests = ([("/private/%d" % i, []) for i in range(20)] +
                    [("/public/%d" % i, [("x-blocked", "yes")]) for i in range(7)] +
                    [("/public/%d" % i, [("x-blocked", "no")]) for i in range(8)] +
                    [("/other", []) for _ in range(5)])
        would_deny = 27
        for path, headers in requests:
            tid = new_id()
            r = get(self.port, path, headers + [("x-test-id", tid)])
            self.assertEqual(r.status, 200, (path, r.body[:200]))
            self.assertEqual(r.header("x-upstream"), "yes")
            [seen] = self.upstream.seen(with_header("x-test-id", tid))
            self.assertEqual(seen["path"], path)
        # and under concurrent keep-alive load
        with LoadClients(self.port, "/private/load", connections=3, max_seconds=30) as load:
            wait_for(lambda: load.total >= 60, 20, what="60 requests to /private/load")
        self.assertEqual(load.errors, [], load.summary())
        self.assertEqual(set(load.statuses), {200}, load.summary())
        would_deny += sum(load.statuses.values())
        after = self.plugin_counters("deny-log-only")
        self.assertEqual(after["log_only_actions"] - before["log_only_actions"], would_deny)
        self.assertEqual(after["local_responses"], before["local_responses"])
        self.assertEqual(after["vm_failures"], 0)
        lines = self.log_count(r"\[plugin deny-log-only\] log-only: would have sent a local response 403")
        self.assertEqual(lines - lines_before, would_deny)


# ---------------------------------------------------------------------------------------------


class CapabilityTest(OpsTestCase):
    """add_header twice: `restricted` (port of listener `restricted`) may call every hostcall it
    imports except proxy_add_header_map_value; `control` (listener `control`) is unrestricted."""

    @classmethod
    def setUpPorts(cls):
        cls.control_port = free_port()

    @classmethod
    def make_config(cls):
        imports = [name for module, name in wasm_imports(wasm("add_header")) if module == "env"]
        if "proxy_add_header_map_value" not in imports:
            raise AssertionError("add_header.wasm does not import proxy_add_header_map_value: %r" % imports)
        cls.allowed = [name for name in imports if name != "proxy_add_header_map_value"]
        config = {"request_headers": {"x-cap-request": "yes"}, "response_headers": {"x-cap-response": "yes"}}
        return base_config(
            [http_listener("restricted", cls.port, [route("/", "backend")]),
             http_listener("control", cls.control_port, [route("/", "backend")])],
            [cluster("backend", cls.upstream.port)],
            [plugin("restricted", wasm("add_header"), "add_header", config,
                    allowed_hostcalls=cls.allowed, match=[{"ports": [{"number": cls.port}]}]),
             plugin("control", wasm("add_header"), "add_header", config,
                    match=[{"ports": [{"number": cls.control_port}]}])])

    def test_refused_hostcall_adds_nothing_and_is_logged(self):
        refusal = r"\[plugin restricted\] hostcall proxy_add_header_map_value refused"
        refusals_before = self.log_count(refusal)
        for _ in range(5):
            tid = new_id()
            r = get(self.port, "/cap", [("x-test-id", tid)])
            self.assertEqual(r.status, 200, r.body[:200])
            self.assertIsNone(r.header("x-cap-response"))
            [seen] = self.upstream.seen(with_header("x-test-id", tid))
            self.assertEqual(header_values(seen["headers"], "x-cap-request"), [])
        # two refusals a request: the request header and the response header
        wait_for(lambda: self.log_count(refusal) - refusals_before >= 10, 5, what="refusals in the log")
        self.assertEqual(self.log_count(refusal) - refusals_before, 10)
        self.assertEqual(self.log_count(r"\[plugin control\] hostcall .* refused"), 0)
        # the unrestricted twin adds both headers
        tid = new_id()
        r = get(self.control_port, "/cap", [("x-test-id", tid)])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("x-cap-response"), "yes")
        [seen] = self.upstream.seen(with_header("x-test-id", tid))
        self.assertEqual(header_values(seen["headers"], "x-cap-request"), ["yes"])
        # refusing a hostcall is not a VM failure
        entry = self.wait_running("restricted")
        self.assertEqual(entry["vm_failures"], 0)


# ---------------------------------------------------------------------------------------------


def main():
    global WASMGATE, PLUGINS, WAT2WASM, RSS_GROWTH_LIMIT_MB
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wasmgate", default=os.environ.get("WASMGATE"), help="the wasmgate binary")
    parser.add_argument("--plugins", default=os.environ.get("WASMGATE_PLUGINS"),
                        help="folder of the example plugins (<name>.wasm)")
    parser.add_argument("--wat2wasm", default=os.environ.get("WAT2WASM") or shutil.which("wat2wasm"))
    parser.add_argument("--rss-limit-mb", type=int, default=RSS_GROWTH_LIMIT_MB,
                        help="how much wasmgate's VmRSS may grow in a test class (MiB)")
    args, rest = parser.parse_known_args()
    if not args.wasmgate or not args.plugins:
        parser.error("--wasmgate and --plugins are required")
    WASMGATE = os.path.abspath(args.wasmgate)
    PLUGINS = os.path.abspath(args.plugins)
    WAT2WASM = args.wat2wasm
    RSS_GROWTH_LIMIT_MB = args.rss_limit_mb
    for path in (WASMGATE, PLUGINS):
        if not os.path.exists(path):
            sys.exit("test_ops.py: %s does not exist (build first)" % path)
    unittest.main(argv=[sys.argv[0]] + rest)


if __name__ == "__main__":
    main()

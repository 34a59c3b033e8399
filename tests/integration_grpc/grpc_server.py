"""A real gRPC server on loopback for the gRPC callout tests and the bench (Python grpcio).

Generic handlers with bytes in and out: no .proto files, no protoc. Every call is recorded
(method, metadata, request messages, what was sent, whether the client went away) so tests can
check what reached the server.

Service wasmgate.test.v1.Probe (messages are raw bytes):
  Echo        unary   -> b"echo:" + request. Initial metadata: echo-<key> for every x-* key
                         received, plus server-name: probe. Trailing metadata: trailer-<key> for
                         every x-* key, plus trailer-count: 1.
  Fail        unary   request b"<code>:<message>" -> aborts with that status code and message,
                         trailing metadata fail-detail: yes.
  Sleep       unary   request b"<ms>" -> sleeps (at most 10 s, stops when the client goes away),
                         then b"slept".
  Big         unary   request b"<n>" -> n bytes of b"0123456789" repeated (at most 16 MiB).
  Size        unary   -> the size of the request, in decimal.
  Count       server streaming: request b"<n>[:<delay_ms>]" -> b"item-0" ... b"item-<n-1>",
                         trailing metadata items: <n>.
  StreamFail  server streaming: request b"<n>" -> n messages, then UNAVAILABLE "backend went away".
  Chat        bidi: b"re:" + each request, as it arrives; initial metadata echo-<key> as Echo;
                         trailing metadata received: <count>.
  Collect     client streaming: b"|".join(requests), trailing metadata received: <count>.

Service wasmgate.authz.v1.Authorizer (hand-encoded protobuf, as examples/plugins/grpc_auth):
  Check  CheckRequest{1: method, 2: path, 3: authorization} -> CheckResponse{1: allowed, 2: reason}
         authorization "Bearer allow"     -> allowed
         authorization "Bearer forbidden" -> PERMISSION_DENIED "no access for you"
         authorization "Bearer sleep"     -> sleeps 2 s (stops when the client goes away), allowed
         anything else                    -> not allowed, reason "token rejected" (or
                                             "no credentials" without authorization)

Run standalone (the bench does): python3 grpc_server.py [--port N] [--port-file F] [--max-seconds S]
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

PROBE_SERVICE = "wasmgate.test.v1.Probe"
AUTHZ_SERVICE = "wasmgate.authz.v1.Authorizer"
MAX_SLEEP_S = 10.0
MAX_ITEMS = 1000


# ---------------------------------------------------------------------------------------------
# protobuf by hand (strings and a bool)


def _varint(value):
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data, pos):
    value, shift = 0, 0
    for _ in range(10):
        if pos >= len(data):
            raise ValueError("truncated varint")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
    raise ValueError("varint too long")


def decode_fields(data):
    """{field_number: value} for varint (int) and length-delimited (bytes) fields."""
    fields, pos = {}, 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        wire = key & 7
        if wire == 0:
            fields[key >> 3], pos = _read_varint(data, pos)
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            if pos + size > len(data):
                raise ValueError("truncated field")
            fields[key >> 3] = data[pos:pos + size]
            pos += size
        else:
            raise ValueError("unexpected wire type %d" % wire)
    return fields


def encode_check_response(allowed, reason=""):
    out = b""
    if allowed:
        out += b"\x08\x01"
    if reason:
        raw = reason.encode()
        out += b"\x12" + _varint(len(raw)) + raw
    return out


def encode_check_request(method="", path="", authorization=""):
    out = b""
    for number, text in ((1, method), (2, path), (3, authorization)):
        if text:
            raw = text.encode()
            out += _varint(number << 3 | 2) + _varint(len(raw)) + raw
    return out


# ---------------------------------------------------------------------------------------------
# the server


class CallRecord:
    """What one RPC looked like from the server's side."""

    def __init__(self, method, context):
        self.method = method
        self.metadata = [(k, v) for k, v in context.invocation_metadata()]
        self.time_remaining = context.time_remaining()
        self.requests = []
        self.sent = 0
        self.cancelled = False      # the handler saw the client go away
        self.terminated = threading.Event()
        self.started = time.monotonic()
        context.add_callback(self.terminated.set)

    def md(self, key):
        return [v for k, v in self.metadata if k == key]

    def __repr__(self):
        return "CallRecord(%s, md=%r, requests=%r, sent=%d, cancelled=%r)" % (
            self.method, self.metadata, self.requests, self.sent, self.cancelled)


def _echo_metadata(record, prefix):
    """x-* metadata under a new name; values a server may not send (control bytes) are left out."""
    return tuple((prefix + k, v) for k, v in record.metadata
                 if k.startswith("x-") and not k.endswith("-bin") and all(" " <= c <= "~" for c in v))


def _sleep_while_active(context, seconds):
    """Sleeps up to `seconds`; False when the client went away first."""
    deadline = time.monotonic() + min(seconds, MAX_SLEEP_S)
    while time.monotonic() < deadline:
        if not context.is_active():
            return False
        time.sleep(0.01)
    return context.is_active()


class GrpcTestServer:
    def __init__(self, port=0, workers=32):
        self.lock = threading.Lock()
        self.calls = []
        self.lookups = []  # every method path the server was asked for
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers),
                                  options=[("grpc.so_reuseport", 0),
                                           ("grpc.max_receive_message_length", 32 * 1024 * 1024),
                                           ("grpc.max_send_message_length", 32 * 1024 * 1024)])
        self.server.add_generic_rpc_handlers((_Router(self),))
        self.port = self.server.add_insecure_port("127.0.0.1:%d" % port)
        if not self.port:
            raise RuntimeError("cannot bind the gRPC server on 127.0.0.1:%d" % port)

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop(grace=0.5).wait(5)

    def record(self, method, context):
        rec = CallRecord(method, context)
        with self.lock:
            self.calls.append(rec)
        return rec

    def calls_to(self, method):
        with self.lock:
            return [c for c in self.calls if c.method == method]

    def clear(self):
        with self.lock:
            self.calls.clear()
            self.lookups.clear()

    # ---- Probe ----

    def echo(self, request, context):
        rec = self.record("Echo", context)
        rec.requests.append(request)
        context.send_initial_metadata(_echo_metadata(rec, "echo-") + (("server-name", "probe"),))
        context.set_trailing_metadata(_echo_metadata(rec, "trailer-") + (("trailer-count", "1"),))
        rec.sent = 1
        return b"echo:" + request

    def fail(self, request, context):
        rec = self.record("Fail", context)
        rec.requests.append(request)
        code_text, _, message = request.decode("utf-8", "replace").partition(":")
        code = next(c for c in grpc.StatusCode if c.value[0] == int(code_text))
        context.set_trailing_metadata((("fail-detail", "yes"),))
        context.abort(code, message)

    def sleep(self, request, context):
        rec = self.record("Sleep", context)
        rec.requests.append(request)
        if not _sleep_while_active(context, int(request or b"0") / 1000.0):
            rec.cancelled = True
            return b""
        rec.sent = 1
        return b"slept"

    def big(self, request, context):
        rec = self.record("Big", context)
        rec.requests.append(request)
        n = min(int(request or b"0"), 16 * 1024 * 1024)
        rec.sent = 1
        return (b"0123456789" * (n // 10 + 1))[:n]

    def size(self, request, context):
        rec = self.record("Size", context)
        rec.requests.append(request[:64])
        rec.size = len(request)
        rec.sent = 1
        return str(len(request)).encode()

    def count(self, request, context):
        rec = self.record("Count", context)
        rec.requests.append(request)
        n_text, _, delay_text = request.decode().partition(":")
        n = min(int(n_text or "0"), MAX_ITEMS)
        delay = int(delay_text or "0") / 1000.0
        context.set_trailing_metadata((("items", str(n)),))
        for i in range(n):
            if delay and not _sleep_while_active(context, delay):
                rec.cancelled = True
                return
            if not context.is_active():
                rec.cancelled = True
                return
            rec.sent += 1
            yield b"item-%d" % i

    def stream_fail(self, request, context):
        rec = self.record("StreamFail", context)
        rec.requests.append(request)
        for i in range(min(int(request or b"0"), MAX_ITEMS)):
            rec.sent += 1
            yield b"part-%d" % i
        context.abort(grpc.StatusCode.UNAVAILABLE, "backend went away")

    def chat(self, request_iterator, context):
        rec = self.record("Chat", context)
        context.send_initial_metadata(_echo_metadata(rec, "echo-") + (("server-name", "probe"),))
        for message in request_iterator:
            rec.requests.append(message)
            rec.sent += 1
            yield b"re:" + message
        context.set_trailing_metadata((("received", str(len(rec.requests))),))

    def collect(self, request_iterator, context):
        rec = self.record("Collect", context)
        for message in request_iterator:
            rec.requests.append(message)
        context.set_trailing_metadata((("received", str(len(rec.requests))),))
        rec.sent = 1
        return b"|".join(rec.requests)

    # ---- Authorizer ----

    def check(self, request, context):
        rec = self.record("Check", context)
        rec.requests.append(request)
        fields = decode_fields(request)
        rec.check = {"method": fields.get(1, b"").decode(), "path": fields.get(2, b"").decode(),
                     "authorization": fields.get(3, b"").decode()}
        auth = rec.check["authorization"]
        if auth == "Bearer forbidden":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "no access for you")
        if auth == "Bearer sleep":
            if not _sleep_while_active(context, 2.0):
                rec.cancelled = True
                return b""
            return encode_check_response(True)
        if auth == "Bearer allow":
            return encode_check_response(True)
        return encode_check_response(False, "token rejected" if auth else "no credentials")


class _Router(grpc.GenericRpcHandler):
    def __init__(self, server):
        self.owner = server
        s = server
        unary = grpc.unary_unary_rpc_method_handler
        server_stream = grpc.unary_stream_rpc_method_handler
        self.methods = {
            "/%s/Echo" % PROBE_SERVICE: unary(s.echo),
            "/%s/Fail" % PROBE_SERVICE: unary(s.fail),
            "/%s/Sleep" % PROBE_SERVICE: unary(s.sleep),
            "/%s/Big" % PROBE_SERVICE: unary(s.big),
            "/%s/Size" % PROBE_SERVICE: unary(s.size),
            "/%s/Count" % PROBE_SERVICE: server_stream(s.count),
            "/%s/StreamFail" % PROBE_SERVICE: server_stream(s.stream_fail),
            "/%s/Chat" % PROBE_SERVICE: grpc.stream_stream_rpc_method_handler(s.chat),
            "/%s/Collect" % PROBE_SERVICE: grpc.stream_unary_rpc_method_handler(s.collect),
            "/%s/Check" % AUTHZ_SERVICE: unary(s.check),
        }

    def service(self, handler_call_details):
        with self.owner.lock:
            self.owner.lookups.append(handler_call_details.method)
        return self.methods.get(handler_call_details.method)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once serving")
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--max-seconds", type=float, default=900, help="exit after this long at most")
    args = parser.parse_args()
    server = GrpcTestServer(args.port, args.workers).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % server.port)
        os.replace(tmp, args.port_file)
    else:
        print(server.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    deadline = time.monotonic() + args.max_seconds
    while not stop.wait(0.5) and time.monotonic() < deadline:
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

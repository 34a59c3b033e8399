#!/usr/bin/env python3
"""Throughput client and sink for bench/tcp/run.sh. Standard library only.

  tput.py sink PORT            accepts connections on 127.0.0.1:PORT, reads each to its end, then
                               answers the byte count (8 bytes, big endian) and closes
  tput.py send PORT BYTES      sends BYTES to 127.0.0.1:PORT from a 4 MiB buffer, half-closes,
                               waits for the count; prints "<bytes> <seconds> <MB/s>"

Large buffers on both ends keep Python's per-call overhead out of the way: the kernel copies.
"""
import socket
import struct
import sys
import threading
import time

CHUNK = 4 << 20


def sink(port):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)

    def drain(conn):
        buf = bytearray(CHUNK)
        total = 0
        with conn:
            while True:
                n = conn.recv_into(buf)
                if n == 0:
                    break
                total += n
            conn.sendall(struct.pack(">Q", total))

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def send(port, size):
    buf = memoryview(bytes(range(256)) * (CHUNK // 256))
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    left = size
    while left > 0:
        n = min(left, CHUNK)
        sock.sendall(buf[:n])
        left -= n
    sock.shutdown(socket.SHUT_WR)
    answer = b""
    while len(answer) < 8:
        part = sock.recv(8 - len(answer))
        if not part:
            sys.exit("tput.py: connection closed before the sink's count")
        answer += part
    seconds = time.perf_counter() - start
    sock.close()
    got = struct.unpack(">Q", answer)[0]
    if got != size:
        sys.exit("tput.py: the sink received %d of %d bytes" % (got, size))
    print("%d %.3f %.1f" % (size, seconds, size / seconds / 1e6))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "sink":
        sink(int(sys.argv[2]))
    elif len(sys.argv) == 4 and sys.argv[1] == "send":
        send(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(__doc__)

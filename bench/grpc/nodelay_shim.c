// Diagnostic LD_PRELOAD shim for bench/grpc/run.sh (NODELAY_SHIM=1): sets TCP_NODELAY on every
// TCP socket before the process connects it, which wasmgate's gRPC client does not do. Only for
// measuring what a callout costs without Nagle's algorithm; not part of wasmgate.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

int connect(int fd, const struct sockaddr* addr, socklen_t len) {
  static int (*real_connect)(int, const struct sockaddr*, socklen_t);
  if (!real_connect) real_connect = (int (*)(int, const struct sockaddr*, socklen_t))dlsym(RTLD_NEXT, "connect");
  if (addr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6)) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));  // fails harmlessly on non-TCP
  }
  return real_connect(fd, addr, len);
}

// Writing to a bufferevent without registering for writability on every response: bytes go to
// the socket at once, and only what the kernel does not take waits for EV_WRITE. This saves two
// epoll_ctl calls per write on a connection that keeps up.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>

namespace wasmgate::proxy {

// For a bufferevent kept with EV_WRITE disabled while its output is empty.
inline void flushOrWait(bufferevent* bev) {
  evbuffer* out = bufferevent_get_output(bev);
  if (evbuffer_get_length(out) == 0) return;
  evbuffer_write(out, bufferevent_getfd(bev));
  if (evbuffer_get_length(out) > 0) bufferevent_enable(bev, EV_WRITE);
}

// From the write callback: nothing left, so stop watching for writability.
inline void stopWaitingWhenDrained(bufferevent* bev) {
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_disable(bev, EV_WRITE);
}

}  // namespace wasmgate::proxy

#include "common/status.h"

namespace wasmgate {

std::string_view statusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "ok";
    case StatusCode::kBadArgument:
      return "bad_argument";
    case StatusCode::kInvalidMemoryAccess:
      return "invalid_memory_access";
    case StatusCode::kNotFound:
      return "not_found";
    case StatusCode::kTrap:
      return "trap";
    case StatusCode::kDeadlineExceeded:
      return "deadline_exceeded";
    case StatusCode::kMemoryCapExceeded:
      return "memory_cap_exceeded";
    case StatusCode::kLinkError:
      return "link_error";
    case StatusCode::kProtocolError:
      return "protocol_error";
    case StatusCode::kUnavailable:
      return "unavailable";
    case StatusCode::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::toString() const {
  if (isOk()) return "ok";
  std::string out(statusCodeName(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace wasmgate

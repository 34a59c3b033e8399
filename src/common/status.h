// Status values used on every data path instead of exceptions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace wasmgate {

// A short, fixed set of codes; callers act on codes, messages are for people.
enum class StatusCode {
  kOk = 0,
  kBadArgument,          // the caller passed something malformed
  kInvalidMemoryAccess,  // a guest pointer or length outside linear memory
  kNotFound,             // a named thing does not exist
  kTrap,                 // the guest trapped (unreachable, out of bounds, stack overflow, ...)
  kDeadlineExceeded,     // a guest call ran past its CPU deadline
  kMemoryCapExceeded,    // the guest needed more linear memory than its cap allows
  kLinkError,            // a module import the host does not provide, or with the wrong type
  kProtocolError,        // peer or plugin broke a protocol rule
  kUnavailable,          // the component is failed or shut down
  kInternal,             // a host-side failure that is not the caller's fault
};

std::string_view statusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok() { return {}; }
  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "trap: unreachable executed", for logs and one-line CLI errors.
  std::string toString() const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status errorStatus(StatusCode code, std::string message) {
  return Status(code, std::move(message));
}

// A value or the status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : storage_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : storage_(std::move(status)) {}  // NOLINT: implicit by design

  bool isOk() const { return std::holds_alternative<T>(storage_); }
  const Status& status() const {
    static const Status kOkStatus;
    return isOk() ? kOkStatus : std::get<Status>(storage_);
  }
  T& value() & { return std::get<T>(storage_); }
  const T& value() const& { return std::get<T>(storage_); }
  T&& value() && { return std::get<T>(std::move(storage_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> storage_;
};

}  // namespace wasmgate

#define WASMGATE_RETURN_IF_ERROR(expr)               \
  do {                                               \
    ::wasmgate::Status status_macro_ = (expr);       \
    if (!status_macro_.isOk()) return status_macro_; \
  } while (0)

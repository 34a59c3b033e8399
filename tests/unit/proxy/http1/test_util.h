// Helpers shared by the HTTP/1 unit tests.
#pragma once

#include <cstring>
#include <memory>
#include <string_view>

namespace wasmgate::proxy::http1::testing {

// A heap copy of exactly `bytes.size()` bytes, so AddressSanitizer reports any read past the end
// (a std::string would hide a one-byte overrun behind its terminator).
class ExactBuffer {
 public:
  explicit ExactBuffer(std::string_view bytes)
      : size_(bytes.size()), data_(new char[bytes.size() ? bytes.size() : 1]) {
    if (size_) std::memcpy(data_.get(), bytes.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }
  bool contains(std::string_view inner) const {
    return inner.empty() ||
           (inner.data() >= data_.get() && inner.data() + inner.size() <= data_.get() + size_);
  }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

}  // namespace wasmgate::proxy::http1::testing

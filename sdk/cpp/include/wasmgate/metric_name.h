// Metric names with tags, encoded Istio-style. Plain header, no Wasm imports.
//
// The ABI has no tags: a metric is just a name. Like Istio's stats plugin, the SDK puts
// each tag in front of the metric name as `key=.=value;.;`, in the order given:
//
//   metricName("requests_total", {{"method", "GET"}, {"status", "200"}})
//     == "method=.=GET;.;status=.=200;.;requests_total"
//
// so a host or exporter recovers the tags with the regular expression `([^;=]*)=\.=(.*?);\.;`
// and the plain name after the last `;.;`. A metric without tags is just its name. The
// separators cannot appear inside keys or values: every '=' and ';' in a key or value is
// replaced by '_' (dots, slashes and spaces are kept).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace wasmgate {

using MetricTag = std::pair<std::string_view, std::string_view>;

namespace detail {

inline void appendTagText(std::string& out, std::string_view text) {
  for (char c : text) out += (c == '=' || c == ';') ? '_' : c;
}

}  // namespace detail

// Tags as a range of pairs of string-like values; see the file comment for the format.
template <class Range>
std::string metricName(std::string_view name, const Range& tags) {
  std::string out;
  for (const auto& [key, value] : tags) {
    detail::appendTagText(out, std::string_view(key));
    out += "=.=";
    detail::appendTagText(out, std::string_view(value));
    out += ";.;";
  }
  out += name;
  return out;
}

inline std::string metricName(std::string_view name, std::initializer_list<MetricTag> tags = {}) {
  return metricName<std::initializer_list<MetricTag>>(name, tags);
}

}  // namespace wasmgate

#include "wasmgate/metric_name.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace wasmgate {
namespace {

TEST(MetricNameTest, NoTagsIsThePlainName) {
  EXPECT_EQ(metricName("requests_total"), "requests_total");
  EXPECT_EQ(metricName("requests_total", {}), "requests_total");
}

TEST(MetricNameTest, TagsPrecedeTheNameIstioStyle) {
  EXPECT_EQ(metricName("requests_total", {{"method", "GET"}, {"status", "200"}}),
            "method=.=GET;.;status=.=200;.;requests_total");
}

TEST(MetricNameTest, AcceptsOwningRanges) {
  std::vector<std::pair<std::string, std::string>> tags = {{"svc", "a.b.svc.cluster.local"}};
  EXPECT_EQ(metricName("x", tags), "svc=.=a.b.svc.cluster.local;.;x");
}

TEST(MetricNameTest, SeparatorCharactersAreReplaced) {
  EXPECT_EQ(metricName("m", {{"k=;", "v;="}}), "k__=.=v__;.;m");
  EXPECT_EQ(metricName("m", {{"path", "/a b"}}), "path=.=/a b;.;m");
}

}  // namespace
}  // namespace wasmgate

// Fuzz target: a server config file's text (firebreak.yaml) through
// ParseServerConfig, and the input as an `--upstream` flag. Beyond not
// crashing (nor throwing: yaml-cpp's exceptions must stay inside the
// loader): a refusal says where; an accepted config's values are within
// the ranges the server relies on (durations within a year).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "check.h"
#include "firebreak/config/server_config.h"

namespace config = firebreak::config;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The variables the README's examples name, so that configs naming them
  // are accepted; any other *_env is unset.
  for (const char* name :
       {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANALYST7_KEY", "PAGERDUTY_ROUTING_KEY"}) {
    ::setenv(name, "fuzz-secret", 0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)config::ParseUpstreamFlag(text);

  auto parsed = config::ParseServerConfig(text, "/fuzz/firebreak.yaml");
  if (!parsed.ok()) {
    FB_FUZZ_CHECK(parsed.status().message().starts_with("/fuzz/firebreak.yaml:"),
                  "a refusal names the file and position");
    return 0;
  }
  const config::ServerConfig& c = *parsed;
  FB_FUZZ_CHECK(
      c.server.max_body_bytes > 0 && c.server.max_json_depth > 0 && c.server.max_connections > 0,
      "limits are positive");
  // Durations are capped at a year, so that their nanoseconds fit in 64 bits.
  constexpr std::chrono::hours kYear(24 * 365);
  for (auto timeout : {c.server.read_timeout, c.server.idle_timeout, c.server.drain_timeout}) {
    FB_FUZZ_CHECK(timeout.count() >= 0 && timeout <= kYear, "server timeouts are within a year");
  }
  for (const config::UpstreamConfig& u : c.upstreams) {
    FB_FUZZ_CHECK(static_cast<int>(u.type) < firebreak::api::kDialectCount,
                  "an upstream's type is known");
    for (auto timeout : {u.connect_timeout, u.first_byte_timeout, u.idle_timeout}) {
      FB_FUZZ_CHECK(timeout.count() >= 0 && timeout <= kYear,
                    "upstream timeouts are within a year");
    }
    // The same upstream as a flag is accepted too.
    FB_FUZZ_CHECK(
        config::ParseUpstreamFlag(std::string(firebreak::api::DialectName(u.type)) + "=" + u.base_url)
            .ok(),
                  "an upstream of the config is a valid --upstream");
  }
  if (c.judge) {
    FB_FUZZ_CHECK(c.judge->timeout.count() > 0 && c.judge->breaker_cool_down <= kYear &&
                      c.judge->max_in_flight > 0,
                  "the judge's limits are positive and its cool-down within a year");
  }
  FB_FUZZ_CHECK(c.audit.checkpoint_every > 0 && c.audit.checkpoint_interval.count() > 0 &&
                    c.audit.checkpoint_interval <= kYear,
                "checkpoints are due within a year");
  std::vector<std::string> named;
  for (const auto& [name, target] : c.alert_targets) {
    named.push_back(name);
  }
  FB_FUZZ_CHECK(config::CheckAlertTargets(c, named, "p").ok(), "defined targets are defined");
  named.push_back("firebreak-fuzz-undefined");
  if (!c.alert_targets.contains("firebreak-fuzz-undefined")) {
    FB_FUZZ_CHECK(!config::CheckAlertTargets(c, named, "p").ok(), "an undefined target is refused");
  }
  return 0;
}

// Every way an exchange can fail, and what follows from it, in one table:
// the status the client is answered (in its API's error shape, with this
// code), the audit record that keeps it (or why none does) and the metric
// that counts it. Every failure fails closed: nothing is forwarded, nothing
// is allowed. README.md's "Failures" table is this table; a test keeps the
// two equal.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace firebreak::exchange {

enum class Failure : std::uint8_t {
  kMalformedHttp,     // the server's own refusals: framing, sizes, timeouts
  kOverloaded,        // the server's body budget
  kUnknownEndpoint,   // no such route, wrong method, or a route this server does not serve
  kUnauthenticated,   // no API key, a malformed one, an unknown one
  kForbidden,         // a principal without the admin right an endpoint needs
  kUnsupportedMedia,  // a body that is not application/json
  kInvalidJson,       // not JSON, duplicate keys, too deep, not UTF-8
  kInvalidRequest,    // JSON that is not a request of the route's API
  kUnclassifiable,    // a conversation the classifier cannot read
  kPolicyUnavailable,
  kAuditUnavailable,  // the decision could not be recorded
  kNoUpstream,        // allowed, but no upstream serves the model
  kUntranslatable,    // allowed, but the request cannot be said in the upstream's API
  kUpstreamUnavailable,
  kUpstreamTimeout,
  kUpstreamStatus,  // the upstream answered an error status (passed on)
  kStreamBroken,    // the upstream's stream ended before its end
  kPolicyRefused,   // a reload candidate that does not load or verify
};
inline constexpr int kFailureCount = 18;

struct FailureSpec {
  Failure failure;
  std::string_view name;    // the metric label and the README's row
  int status;               // answered to the client; 0: as the upstream said
  std::string_view answer;  // the error code, or what the client sees
  std::string_view record;  // the audit record, or why there is none
  std::string_view metric;  // what counts it
};

const std::array<FailureSpec, kFailureCount>& Failures();
inline const FailureSpec& SpecOf(Failure f) { return Failures()[static_cast<int>(f)]; }

}  // namespace firebreak::exchange

// Shared by the proxy's files (proxy.cc, relay.cc, upstream.cc), not part
// of the module's interface: the state of one exchange from its decision to
// its completion, and the helpers every file answers with.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "firebreak/api/provider.h"
#include "firebreak/proxy/proxy.h"

namespace firebreak::proxy {

using Clock = std::chrono::steady_clock;

inline double Since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

http::Reply JsonReply(int status, std::string body);
// An error in the shape of `api`'s API.
http::Reply ErrorFor(const api::Provider& api, int status, std::string_view message,
                     std::string_view code);

// What Decide read and decided, kept while a judge is asked (Conclude).
struct Proxy::Decided {
  http::ServerRequest request;
  boost::json::value document;
  base::Conversation conversation;
  exchange::Outcome outcome;
  const Principal* principal = nullptr;
  Clock::time_point start;
};

// One exchange, from its decision to its completion.
struct Proxy::Pending {
  std::shared_ptr<http::Exchange> exchange;
  std::shared_ptr<const exchange::ActivePolicy> policy;  // the one the decision was made under
  Route route = Route::kNotFound;
  const api::Provider* api = &api::OpenAIProvider();  // the client's
  api::Call call;                                     // what a model call's path said
  std::string route_problem;                          // a call of the API we cannot serve
  std::string request_id;
  Clock::time_point start = Clock::now();
  Clock::time_point audit_start;
  Result result = Result::kRefused;
  std::string decision = "REFUSED";
  std::string rules = "-";
  std::string constraints;  // "; "-joined, for ALLOW_CONSTRAINED
  std::string refused;      // why an allowed request was not forwarded after all
  std::uint64_t seq = 0;
  base::Sha256 record_hash{};
  // The answer, once the record is committed: a reply, or a forward.
  http::Reply reply;
  std::string evaluate_prefix;  // POST /v1/firebreak/evaluate: the body before "audit_seq"
  std::optional<http::UpstreamRequest> forward;
  const config::UpstreamConfig* upstream = nullptr;
  exchange::Admission admission;  // the record that must be committed first
  std::unique_ptr<Decided> decided;  // from the decision until it is concluded
};

}  // namespace firebreak::proxy

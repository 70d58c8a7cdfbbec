#include "firebreak/exchange/failure.h"

namespace firebreak::exchange {

const std::array<FailureSpec, kFailureCount>& Failures() {
  using F = Failure;
  constexpr std::string_view kRefusals = "firebreak_refusals_total{kind}";
  constexpr std::string_view kUpstream = "firebreak_upstream_errors_total{upstream,kind}";
  static constexpr std::array<FailureSpec, kFailureCount> kTable{{
      {F::kMalformedHttp, "malformed_http", 400, "400, 408, 413 or 431, invalid_request",
       "none: no exchange began (the bytes may not even be a request); a flood must not fill the "
       "trail",
       kRefusals},
      {F::kOverloaded, "overloaded", 503, "503, invalid_request",
       "none: refused before its body was read, under load", kRefusals},
      {F::kUnknownEndpoint, "unknown_endpoint", 404, "404, 405 or 501 naming what is served",
       "none: nothing was asked of a model", kRefusals},
      {F::kUnauthenticated, "unauthenticated", 401, "invalid_api_key",
       "none: an unauthenticated flood must not fill the trail", kRefusals},
      {F::kForbidden, "forbidden", 403, "forbidden", "none: an operator endpoint, no exchange",
       kRefusals},
      {F::kUnsupportedMedia, "unsupported_media_type", 415, "unsupported_media_type", "refusal",
       kRefusals},
      {F::kInvalidJson, "invalid_json", 400, "invalid_json", "refusal", kRefusals},
      {F::kInvalidRequest, "invalid_request", 400, "invalid_request", "refusal", kRefusals},
      {F::kUnclassifiable, "unclassifiable", 400, "unclassifiable", "refusal", kRefusals},
      {F::kPolicyUnavailable, "policy_unavailable", 503, "policy_unavailable", "refusal",
       kRefusals},
      {F::kAuditUnavailable, "audit_unavailable", 503, "audit_unavailable",
       "none: the store cannot write; alerts.system are told at once (at most once a minute)",
       "firebreak_refusals_total{kind}, firebreak_audit_failures_total"},
      {F::kNoUpstream, "no_upstream", 503, "no_upstream", "decision (what the policy decided)",
       kRefusals},
      {F::kUntranslatable, "untranslatable", 400, "untranslatable",
       "decision, with `refused` saying why", kRefusals},
      {F::kUpstreamUnavailable, "upstream_unavailable", 502, "upstream_unavailable",
       "completion, with `error`", kUpstream},
      {F::kUpstreamTimeout, "upstream_timeout", 504, "upstream_timeout", "completion, with `error`",
       kUpstream},
      {F::kUpstreamStatus, "upstream_status", 0, "the upstream's status and error body",
       "completion, with `status`", kUpstream},
      {F::kStreamBroken, "stream_broken", 0, "the stream ends early",
       "completion, `complete: false`", kUpstream},
      {F::kPolicyRefused, "policy_refused", 422,
       "the reload endpoint's `refused` (the last good "
       "policy stays)",
       "policy.refused, alerting alerts.system", "firebreak_policy_reloads_total{result}"},
  }};
  return kTable;
}

}  // namespace firebreak::exchange

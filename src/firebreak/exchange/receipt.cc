#include "firebreak/exchange/receipt.h"

#include <boost/json.hpp>

#include "firebreak/base/digest.h"

namespace firebreak::exchange {
namespace {

namespace json = boost::json;

constexpr std::string_view kPrefix = "fbr1.";
constexpr std::string_view kDomain = "firebreak-receipt/1\n";

std::string Payload(const Receipt& r) {
  json::array rules;
  for (const std::string& id : r.rules) {
    rules.emplace_back(id);
  }
  // Keys in sorted order: the payload is canonical.
  return json::serialize(json::object{{"decision", r.decision},
                                      {"instance", r.instance},
                                      {"policy", r.policy},
                                      {"record_hash", r.record_hash},
                                      {"request_id", r.request_id},
                                      {"rules", std::move(rules)},
                                      {"seq", r.seq}});
}

}  // namespace

std::string SignReceipt(const Receipt& receipt, const base::SigningKey& key) {
  const std::string payload = Payload(receipt);
  std::string message(kDomain);
  message += payload;
  return std::string(kPrefix) + base::Base64UrlEncode(payload) + "." +
         base::Base64UrlEncode(key.Sign(message));
}

base::StatusOr<Receipt> VerifyReceipt(std::string_view token, std::string_view public_pem) {
  if (!token.starts_with(kPrefix)) {
    return base::InvalidArgument("not a Firebreak receipt: it does not start with 'fbr1.'");
  }
  token.remove_prefix(kPrefix.size());
  const std::size_t dot = token.find('.');
  std::string payload;
  std::string signature;
  if (dot == std::string_view::npos || !base::Base64UrlDecode(token.substr(0, dot), payload) ||
      !base::Base64UrlDecode(token.substr(dot + 1), signature)) {
    return base::InvalidArgument(
        "malformed receipt: expected fbr1.<base64url payload>.<base64url signature>");
  }
  std::string message(kDomain);
  message += payload;
  base::StatusOr<bool> valid = base::VerifySignature(public_pem, message, signature);
  if (!valid.ok()) {
    return valid.status();
  }
  if (!*valid) {
    return base::InvalidArgument(
        "the signature does not verify: the receipt was changed, or another instance's key "
        "signed it");
  }
  boost::system::error_code ec;
  const json::value parsed = json::parse(payload, ec);
  const json::object* o = ec ? nullptr : parsed.if_object();
  Receipt r;
  auto text = [&](std::string_view key, std::string& out) {
    const json::value* v = o->if_contains(key);
    if (v == nullptr || !v->is_string()) {
      return false;
    }
    out = v->get_string();
    return true;
  };
  const json::value* seq = o != nullptr ? o->if_contains("seq") : nullptr;
  const json::value* rules = o != nullptr ? o->if_contains("rules") : nullptr;
  // A sequence number is a whole number from 0 (Boost.JSON reads one that
  // fits as int64, a larger one as uint64).
  const bool seq_ok =
      seq != nullptr && (seq->is_uint64() || (seq->is_int64() && seq->get_int64() >= 0));
  if (o == nullptr || !text("instance", r.instance) || !text("request_id", r.request_id) ||
      !text("decision", r.decision) || !text("policy", r.policy) ||
      !text("record_hash", r.record_hash) || !seq_ok || rules == nullptr || !rules->is_array()) {
    return base::InvalidArgument("the receipt's signed payload is not a Firebreak receipt");
  }
  r.seq = seq->is_uint64() ? seq->get_uint64() : static_cast<std::uint64_t>(seq->get_int64());
  for (const json::value& id : rules->get_array()) {
    if (const json::string* s = id.if_string()) {
      r.rules.emplace_back(*s);
    }
  }
  return r;
}

}  // namespace firebreak::exchange

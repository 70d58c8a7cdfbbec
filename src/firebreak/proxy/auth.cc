// Who is calling: the API key a client presented, and the principal it names.
#include <algorithm>

#include "firebreak/base/digest.h"
#include "firebreak/proxy/pending.h"

namespace firebreak::proxy {
namespace {

// The API key a client presented: `Authorization: Bearer KEY` (the scheme
// in any case, RFC 9110 §11.1, any spaces before the key), else the header
// an API's clients send it in (`x-api-key`, `x-goog-api-key`). An
// Authorization header that holds no Bearer key is `malformed` unless such
// a header gives one.
struct PresentedKey {
  std::string_view key;
  bool malformed = false;
};

PresentedKey KeyOf(const http::Headers& headers) {
  std::string_view api_key;
  for (const api::Provider* provider : api::Providers()) {
    if (!provider->key_header().empty() && api_key.empty()) {
      api_key = http::FindHeader(headers, provider->key_header());
    }
  }
  std::string_view auth = http::FindHeader(headers, "authorization");
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!auth.empty() && blank(auth.back())) {
    auth.remove_suffix(1);
  }
  if (auth.empty()) {
    return {api_key};
  }
  constexpr std::string_view kScheme = "bearer";
  const bool bearer = auth.size() > kScheme.size() && blank(auth[kScheme.size()]) &&
                      std::equal(kScheme.begin(), kScheme.end(), auth.begin(),
                                 [](char a, char b) { return a == (b | 0x20); });
  if (bearer) {
    std::string_view key = auth.substr(kScheme.size());
    while (!key.empty() && blank(key.front())) {
      key.remove_prefix(1);
    }
    if (!key.empty() && std::none_of(key.begin(), key.end(), blank)) {
      return {key};
    }
  }
  return api_key.empty() ? PresentedKey{{}, true} : PresentedKey{api_key};
}

}  // namespace

const Proxy::Principal* Proxy::Authenticate(const http::Headers& headers,
                                            std::string& refusal) const {
  const PresentedKey presented = KeyOf(headers);
  if (presented.malformed) {
    refusal = "malformed Authorization header: send Authorization: Bearer KEY or x-api-key: KEY";
    return nullptr;
  }
  if (presented.key.empty()) {
    refusal = "missing API key: send Authorization: Bearer KEY or x-api-key: KEY";
    return nullptr;
  }
  auto it = principals_.find(base::ToHex(base::Sha256Of(presented.key)));
  if (it == principals_.end()) {
    refusal = "unknown API key";
    return nullptr;
  }
  return &it->second;
}

}  // namespace firebreak::proxy

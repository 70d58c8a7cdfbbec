#include "firebreak/api/provider.h"

#include <array>
#include <boost/json.hpp>

namespace firebreak::api {
namespace {

namespace json = boost::json;

// Two stream translators in a row: the first one's events, framed again,
// are the second one's input.
class ChainedStream : public StreamTranslator {
 public:
  ChainedStream(std::unique_ptr<StreamTranslator> first, std::unique_ptr<StreamTranslator> second)
      : first_(std::move(first)), second_(std::move(second)) {}

  std::string Feed(const SseEvent& event) override { return Pass(first_->Feed(event)); }

  std::string Finish() override {
    std::string out = Pass(first_->Finish());
    return out + second_->Finish();
  }

 private:
  std::string Pass(std::string_view bytes) {
    std::string out;
    for (const SseEvent& event : parser_.Feed(bytes)) {
      out += second_->Feed(event);
    }
    return out;
  }

  std::unique_ptr<StreamTranslator> first_;
  std::unique_ptr<StreamTranslator> second_;
  SseParser parser_;
};

}  // namespace

std::span<const Provider* const> Providers() {
  static const std::array<const Provider*, kDialectCount> kProviders = {
      &OpenAIProvider(), &AnthropicProvider(), &GeminiProvider()};
  return kProviders;
}

const Provider& ProviderFor(Dialect dialect) { return *Providers()[static_cast<int>(dialect)]; }

const Provider* ProviderNamed(std::string_view name) {
  for (const Provider* p : Providers()) {
    if (p->name() == name) {
      return p;
    }
  }
  return nullptr;
}

std::string ProviderNames() {
  std::string out;
  const auto providers = Providers();
  for (std::size_t i = 0; i < providers.size(); ++i) {
    out += i == 0 ? "" : i + 1 == providers.size() ? " or " : ", ";
    out += providers[i]->name();
  }
  return out;
}

base::StatusOr<base::Conversation> ConversationOf(const json::value& document, Dialect dialect) {
  return ProviderFor(dialect).ConversationOf(document, {});
}

base::StatusOr<json::object> TranslateRequest(const Provider& from, const Provider& to,
                                              const json::object& request, const Call& call) {
  if (&from == &to) {
    return request;
  }
  base::StatusOr<json::object> neutral = from.RequestToNeutral(request, call);
  if (!neutral.ok()) {
    return neutral.status();
  }
  return to.RequestFromNeutral(*neutral);
}

std::string TranslateResponse(const Provider& from, const Provider& to, std::string_view body) {
  if (&from == &to) {
    return std::string(body);
  }
  return to.ResponseFromNeutral(from.ResponseToNeutral(body));
}

std::unique_ptr<StreamTranslator> TranslateStream(const Provider& from, const Provider& to) {
  if (&from == &to) {
    return nullptr;
  }
  std::unique_ptr<StreamTranslator> in = from.StreamToNeutral();
  std::unique_ptr<StreamTranslator> out = to.StreamFromNeutral();
  if (in == nullptr || out == nullptr) {
    return in != nullptr ? std::move(in) : std::move(out);
  }
  return std::make_unique<ChainedStream>(std::move(in), std::move(out));
}

void ReadUsageField(const json::value& body, TokenUsage& usage) {
  const json::object* o = body.if_object();
  if (o == nullptr) {
    return;
  }
  if (const json::value* u = o->if_contains("usage"); u && u->is_object()) {
    for (auto [key, slot] : {std::pair{"prompt_tokens", &usage.input},
                             {"input_tokens", &usage.input},
                             {"completion_tokens", &usage.output},
                             {"output_tokens", &usage.output}}) {
      if (const json::value* n = u->get_object().if_contains(key);
          n && n->is_int64() && n->get_int64() > 0) {
        *slot = n->get_int64();
      }
    }
  }
  if (const json::value* m = o->if_contains("message")) {  // Anthropic message_start
    ReadUsageField(*m, usage);
  }
}

std::string VersionedBase(std::string_view base_url, std::string_view version) {
  std::string base(base_url);
  while (base.ends_with('/')) {
    base.pop_back();
  }
  if (!base.ends_with(version)) {
    base += version;
  }
  return base;
}

}  // namespace firebreak::api

// Anthropic Messages: POST /v1/messages. Its spokes are the translators of
// translate.cc and translate_request.cc.
#include <boost/json.hpp>

#include "firebreak/api/fields.h"
#include "firebreak/api/provider.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;

class Anthropic final : public Provider {
 public:
  Dialect dialect() const override { return Dialect::kAnthropic; }
  std::string_view endpoint() const override { return "/v1/messages"; }
  base::StatusOr<bool> Serves(std::string_view path, std::string_view, Call&) const override {
    return path == "/v1/messages";
  }
  std::string_view key_header() const override { return "x-api-key"; }
  std::string_view key_env() const override { return "ANTHROPIC_API_KEY"; }
  bool key_env_by_default() const override { return false; }
  std::string_view public_url() const override { return "https://api.anthropic.com"; }
  std::string_view default_model() const override { return "claude-3-5-haiku-latest"; }

  base::StatusOr<base::Conversation> ConversationOf(const json::value& document,
                                                    const Call&) const override {
    return WalkConversation(document, Dialect::kAnthropic);
  }
  // Appended to `system`: a block of its own, or after its text.
  void InjectSystemInstruction(json::object& document,
                               std::string_view instruction) const override {
    json::value& system = document["system"];
    if (system.is_array()) {
      system.get_array().push_back(json::object{{"type", "text"}, {"text", instruction}});
    } else if (system.is_string() && !system.get_string().empty()) {
      system = std::string(system.get_string()) + "\n\n" + std::string(instruction);
    } else {
      system = instruction;
    }
  }
  std::string ErrorBody(int status, std::string_view message, std::string_view) const override {
    return AnthropicErrorBody(AnthropicErrorType(status), message);
  }
  std::string BlockBody(std::string_view message) const override {
    return AnthropicErrorBody("invalid_request_error", message);
  }

  std::string UpstreamUrl(std::string_view base_url, const Call&) const override {
    return VersionedBase(base_url, "/v1") + "/messages";
  }
  // The client's anthropic-version, else 2023-06-01; its anthropic-beta
  // only when it speaks this API (a beta of a translated request would
  // name features it never asked for).
  void UpstreamHeaders(std::string_view api_key, const ClientHeader& client, bool same_api,
                       HeaderList& out) const override {
    const std::string_view version = client("anthropic-version");
    out.emplace_back("anthropic-version", version.empty() ? "2023-06-01" : std::string(version));
    if (const std::string_view beta = client("anthropic-beta"); same_api && !beta.empty()) {
      out.emplace_back("anthropic-beta", std::string(beta));
    }
    if (!api_key.empty()) {
      out.emplace_back("x-api-key", std::string(api_key));
    }
  }
  void ReadUsage(const json::value& body, TokenUsage& usage) const override {
    ReadUsageField(body, usage);
  }

  base::StatusOr<json::object> RequestToNeutral(const json::object& request,
                                                const Call&) const override {
    return OpenAIRequestFromAnthropic(request);
  }
  base::StatusOr<json::object> RequestFromNeutral(const json::object& neutral) const override {
    return AnthropicRequestFromOpenAI(neutral);
  }
  std::string ResponseToNeutral(std::string_view body) const override {
    return OpenAIResponseFromAnthropic(body);
  }
  std::string ResponseFromNeutral(std::string_view neutral) const override {
    return AnthropicResponseFromOpenAI(neutral);
  }
  std::unique_ptr<StreamTranslator> StreamToNeutral() const override {
    return MakeStreamTranslator(Dialect::kOpenAI);
  }
  std::unique_ptr<StreamTranslator> StreamFromNeutral() const override {
    return MakeStreamTranslator(Dialect::kAnthropic);
  }
};

}  // namespace

const Provider& AnthropicProvider() {
  static const Anthropic provider;
  return provider;
}

}  // namespace firebreak::api

// OpenAI Chat Completions: POST /v1/chat/completions. Its request document
// is the hub's neutral form, so its spokes pass everything unchanged.
#include <boost/json.hpp>

#include "firebreak/api/fields.h"
#include "firebreak/api/provider.h"

namespace firebreak::api {
namespace {

namespace json = boost::json;

class OpenAI final : public Provider {
 public:
  Dialect dialect() const override { return Dialect::kOpenAI; }
  std::string_view endpoint() const override { return "/v1/chat/completions"; }
  base::StatusOr<bool> Serves(std::string_view path, std::string_view, Call&) const override {
    return path == "/v1/chat/completions" || path == "/chat/completions";
  }
  std::string_view key_header() const override { return ""; }
  std::string_view key_env() const override { return "OPENAI_API_KEY"; }
  bool key_env_by_default() const override { return false; }
  std::string_view public_url() const override { return "https://api.openai.com"; }
  std::string_view default_model() const override { return "gpt-4o-mini"; }

  base::StatusOr<base::Conversation> ConversationOf(const json::value& document,
                                                    const Call&) const override {
    return WalkConversation(document, Dialect::kOpenAI);
  }
  // A system message after the leading system and developer ones.
  void InjectSystemInstruction(json::object& document,
                               std::string_view instruction) const override {
    json::value* messages = document.if_contains("messages");
    if (messages == nullptr || !messages->is_array()) {
      return;
    }
    json::array& list = messages->get_array();
    auto at = list.begin();
    while (at != list.end() && at->is_object()) {
      const json::value* role = at->get_object().if_contains("role");
      if (role == nullptr || (*role != "system" && *role != "developer")) {
        break;
      }
      ++at;
    }
    list.insert(at, json::object{{"role", "system"}, {"content", instruction}});
  }
  std::string ErrorBody(int status, std::string_view message,
                        std::string_view code) const override {
    const std::string_view type = status == 401   ? "authentication_error"
                                  : status >= 500 ? "server_error"
                                                  : "invalid_request_error";
    return OpenAIErrorBody(message, type, code);
  }
  std::string BlockBody(std::string_view message) const override {
    return OpenAIErrorBody(message, "policy_violation", "content_policy_violation");
  }

  std::string UpstreamUrl(std::string_view base_url, const Call&) const override {
    return VersionedBase(base_url, "/v1") + "/chat/completions";
  }
  void UpstreamHeaders(std::string_view api_key, const ClientHeader&, bool,
                       HeaderList& out) const override {
    if (!api_key.empty()) {
      out.emplace_back("authorization", "Bearer " + std::string(api_key));
    }
  }
  void ReadUsage(const json::value& body, TokenUsage& usage) const override {
    ReadUsageField(body, usage);
  }

  base::StatusOr<json::object> RequestToNeutral(const json::object& request,
                                                const Call&) const override {
    return request;
  }
  base::StatusOr<json::object> RequestFromNeutral(const json::object& neutral) const override {
    return neutral;
  }
  std::string ResponseToNeutral(std::string_view body) const override { return std::string(body); }
  std::string ResponseFromNeutral(std::string_view neutral) const override {
    return std::string(neutral);
  }
  std::unique_ptr<StreamTranslator> StreamToNeutral() const override { return nullptr; }
  std::unique_ptr<StreamTranslator> StreamFromNeutral() const override { return nullptr; }
};

}  // namespace

const Provider& OpenAIProvider() {
  static const OpenAI provider;
  return provider;
}

}  // namespace firebreak::api

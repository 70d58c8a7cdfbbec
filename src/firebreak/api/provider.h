// The LLM APIs Firebreak fronts and forwards to, one Provider each
// (openai.cc, anthropic.cc, gemini.cc). The proxy, the demo and the
// configuration reach an API only through this interface: its endpoint,
// how its requests read as a conversation, its error bodies, where and how
// an upstream of its kind is called, its usage figures.
//
// Translation is hub and spoke. Every provider translates its requests,
// responses and streams to and from one neutral form, the Chat Completions
// document (the API the others' SDKs and gateways most often speak), and a
// translation between two providers goes through it. Each direction
// carries only what the source's reading classified: content without a
// counterpart refuses a request's translation, and is dropped from a
// response's. Adding a provider is one file and its tests.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "firebreak/api/request.h"
#include "firebreak/api/translate.h"
#include "firebreak/base/conversation.h"
#include "firebreak/base/status.h"

namespace firebreak::api {

// What a request's path says beside its body: Gemini names the model and
// whether to stream there; the others leave both to the body.
struct Call {
  std::string model;
  bool stream = false;
};

// Token counts a response reports; -1 where it reports none.
struct TokenUsage {
  std::int64_t input = -1;
  std::int64_t output = -1;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;
// The value of a header of the client's request ("" when absent).
using ClientHeader = std::function<std::string_view(std::string_view name)>;

class Provider {
 public:
  virtual ~Provider() = default;

  virtual Dialect dialect() const = 0;
  // The upstream type in the configuration ("openai").
  std::string_view name() const { return DialectName(dialect()); }
  // The endpoint as metrics and records name it ("/v1/chat/completions").
  virtual std::string_view endpoint() const = 0;
  // Whether `path` (without its query) is this API's model call, and what
  // it says; `query` is the rest of the target after '?'. A call of this
  // API that Firebreak cannot serve is InvalidArgument (a 400 in the API's
  // shape); a path of another API, false.
  virtual base::StatusOr<bool> Serves(std::string_view path, std::string_view query,
                                      Call& call) const = 0;
  // The header a client of this API sends its key in, besides
  // Authorization: Bearer ("" for none).
  virtual std::string_view key_header() const = 0;
  // The environment variable the API's own SDKs read their key from
  // ("OPENAI_API_KEY"), and whether an upstream of this kind reads it when
  // its configuration names none (Gemini's does; the others send no key
  // unless told which).
  virtual std::string_view key_env() const = 0;
  virtual bool key_env_by_default() const = 0;
  // The provider's own service, and a small model of it: where `demo`
  // forwards when only the key is in the environment.
  virtual std::string_view public_url() const = 0;
  virtual std::string_view default_model() const = 0;

  // The conversation a request document carries, for the classifier.
  virtual base::StatusOr<base::Conversation> ConversationOf(const boost::json::value& document,
                                                            const Call& call) const = 0;
  // Inserts the policy's constraints as a system instruction.
  virtual void InjectSystemInstruction(boost::json::object& document,
                                       std::string_view instruction) const = 0;
  // An error body in the API's own shape; `code` is Firebreak's machine-
  // readable reason ("content_policy_violation", "upstream_timeout").
  virtual std::string ErrorBody(int status, std::string_view message,
                                std::string_view code) const = 0;
  // The answer to a blocked request (status 400), naming the policy.
  virtual std::string BlockBody(std::string_view message) const = 0;

  // An upstream of this kind: the URL of a call, from the configured base
  // URL; the headers the upstream needs (its key, its version), given the
  // client's request and whether the client speaks this API too.
  virtual std::string UpstreamUrl(std::string_view base_url, const Call& call) const = 0;
  virtual void UpstreamHeaders(std::string_view api_key, const ClientHeader& client, bool same_api,
                               HeaderList& out) const = 0;

  // Reads token usage from a response or one stream event of this API.
  virtual void ReadUsage(const boost::json::value& body, TokenUsage& usage) const = 0;

  // The spokes. A request ConversationOf accepted, to the neutral form and
  // back (`call` says what the path said, and where the neutral request's
  // model and stream go); whole responses; streams event by event (null:
  // the events pass unchanged).
  virtual base::StatusOr<boost::json::object> RequestToNeutral(const boost::json::object& request,
                                                               const Call& call) const = 0;
  virtual base::StatusOr<boost::json::object> RequestFromNeutral(
      const boost::json::object& neutral) const = 0;
  virtual std::string ResponseToNeutral(std::string_view body) const = 0;
  virtual std::string ResponseFromNeutral(std::string_view neutral) const = 0;
  virtual std::unique_ptr<StreamTranslator> StreamToNeutral() const = 0;
  virtual std::unique_ptr<StreamTranslator> StreamFromNeutral() const = 0;
};

const Provider& OpenAIProvider();     // openai.cc
const Provider& AnthropicProvider();  // anthropic.cc
const Provider& GeminiProvider();     // gemini.cc

const Provider& ProviderFor(Dialect dialect);
// Every provider, in Dialect order.
std::span<const Provider* const> Providers();
// The provider an upstream type names; null for none. "openai, anthropic
// or gemini" in `known` for the error that follows.
const Provider* ProviderNamed(std::string_view name);
std::string ProviderNames();

// Through the hub: `from`'s request, response or stream in `to`'s API.
base::StatusOr<boost::json::object> TranslateRequest(const Provider& from, const Provider& to,
                                                     const boost::json::object& request,
                                                     const Call& call);
std::string TranslateResponse(const Provider& from, const Provider& to, std::string_view body);
std::unique_ptr<StreamTranslator> TranslateStream(const Provider& from, const Provider& to);

// Usage as OpenAI and Anthropic report it ("usage" with prompt/input and
// completion/output tokens, or inside an Anthropic message_start).
void ReadUsageField(const boost::json::value& body, TokenUsage& usage);

// The base URL without trailing slashes, ending in `version` ("/v1").
std::string VersionedBase(std::string_view base_url, std::string_view version);

}  // namespace firebreak::api

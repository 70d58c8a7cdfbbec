// Where an allowed request goes: the upstream serving its model, the
// request it is sent (translated and constrained as needed), and the
// models /v1/models lists.
#include <boost/json.hpp>

#include "firebreak/proxy/pending.h"

namespace firebreak::proxy {
namespace {

namespace json = boost::json;

bool ModelMatches(std::string_view pattern, std::string_view model) {
  if (pattern.ends_with('*')) {
    return model.starts_with(pattern.substr(0, pattern.size() - 1));
  }
  return pattern == model;
}

}  // namespace

const config::UpstreamConfig* Proxy::UpstreamFor(std::string_view model) const {
  const auto& upstreams = options_.config.upstreams;
  for (const config::UpstreamConfig& u : upstreams) {
    for (const std::string& pattern : u.models) {
      if (ModelMatches(pattern, model)) {
        return &u;
      }
    }
  }
  for (const config::UpstreamConfig& u : upstreams) {
    if (u.is_default) {
      return &u;
    }
  }
  return upstreams.empty() ? nullptr : &upstreams.front();
}

// The request for the upstream: the client's bytes when nothing changes
// (the strict parse proved they say what was classified), else the parsed
// request re-serialised, with the constraints injected and translated when
// the upstream speaks another API. InvalidArgument when it cannot be
// translated.
base::StatusOr<http::UpstreamRequest> Proxy::ForwardOf(const Pending& p,
                                                       http::ServerRequest& request,
                                                       json::value& document,
                                                       const policy::Decision& decision,
                                                       const api::Call& call) const {
  const api::Provider& to = api::ProviderFor(p.upstream->type);
  const bool same_api = &to == p.api;
  const bool inject = decision.verdict == policy::Verdict::kAllowConstrained &&
                      !decision.constraints.empty() &&
                      options_.config.server.constraints == "system";
  http::UpstreamRequest up;
  if (!inject && same_api) {
    up.body = std::move(request.body);  // bytes in, bytes out
  } else {
    json::object& body = document.as_object();
    if (inject) {
      std::string instruction =
          "Firebreak policy constraints for this request (rule " + p.rules + "):";
      for (const std::string* c : decision.constraints) {
        instruction += "\n- " + *c;
      }
      p.api->InjectSystemInstruction(body, instruction);
    }
    if (same_api) {
      up.body = json::serialize(body);
    } else {
      base::StatusOr<json::object> translated = api::TranslateRequest(*p.api, to, body, call);
      if (!translated.ok()) {
        return translated.status();
      }
      up.body = json::serialize(*translated);
    }
  }
  up.url = to.UpstreamUrl(p.upstream->base_url, call);
  up.connect_timeout = p.upstream->connect_timeout;
  up.first_byte_timeout = p.upstream->first_byte_timeout;
  up.idle_timeout = p.upstream->idle_timeout;
  up.headers.push_back({"content-type", "application/json"});
  up.headers.push_back({"user-agent", "firebreak/0.1"});
  up.headers.push_back({"accept", call.stream ? "text/event-stream" : "application/json"});
  api::HeaderList headers;
  to.UpstreamHeaders(
      p.upstream->api_key,
      [&request](std::string_view name) { return http::FindHeader(request.headers, name); },
      same_api, headers);
  for (auto& [name, value] : headers) {
    up.headers.push_back({std::move(name), std::move(value)});
  }
  return up;
}

http::Reply Proxy::Models(bool anthropic) const {
  json::array data;
  for (const config::UpstreamConfig& u : options_.config.upstreams) {
    for (const std::string& m : u.models) {
      if (m.ends_with('*')) {
        continue;
      }
      if (anthropic) {
        data.push_back(json::object{{"type", "model"},
                                    {"id", m},
                                    {"display_name", m},
                                    {"created_at", "1970-01-01T00:00:00Z"}});
      } else {
        data.push_back(
            json::object{{"id", m}, {"object", "model"}, {"created", 0}, {"owned_by", u.name}});
      }
    }
  }
  if (anthropic) {
    json::value first = data.empty() ? json::value(nullptr) : data.front().at("id");
    json::value last = data.empty() ? json::value(nullptr) : data.back().at("id");
    return JsonReply(200, json::serialize(json::object{{"data", std::move(data)},
                                                       {"has_more", false},
                                                       {"first_id", first},
                                                       {"last_id", last}}));
  }
  return JsonReply(200,
                   json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}));
}

}  // namespace firebreak::proxy

#include <boost/json.hpp>

#include "firebreak/base/digest.h"
#include "firebreak/proxy/pending.h"

namespace firebreak::proxy {

namespace json = boost::json;

// Relays the upstream's answer to the client: translated when the APIs
// differ, inspected event by event, digested, and recorded when it ends.
class Proxy::Relay : public http::Relay {
 public:
  Relay(Proxy& proxy, std::shared_ptr<Pending> pending)
      : proxy_(proxy),
        p_(std::move(pending)),
        upstream_api_(api::ProviderFor(p_->upstream->type)),
        upstream_start_(Clock::now()) {}

  http::Reply OnResponse(int status, const http::Headers&, std::string body) override {
    if (status / 100 == 2) {
      boost::system::error_code ec;
      json::value parsed = json::parse(body, ec);
      if (!ec) {
        upstream_api_.ReadUsage(parsed, usage_);
      }
    } else {
      proxy_.metrics_.CountUpstreamError(p_->upstream->name, "status_" + std::to_string(status));
    }
    if (&upstream_api_ != p_->api) {
      body = api::TranslateResponse(upstream_api_, *p_->api, body);
    }
    digest_.Update(body);
    http::Reply reply = JsonReply(status, std::move(body));
    proxy_.AddHeaders(*p_, reply.headers);
    return reply;
  }

  http::Reply OnStreamStart(int status, const http::Headers&) override {
    translator_ = api::TranslateStream(upstream_api_, *p_->api);
    http::Reply reply{
        status, {{"content-type", "text/event-stream"}, {"cache-control", "no-cache"}}, {}};
    proxy_.AddHeaders(*p_, reply.headers);
    return reply;
  }

  std::string OnStreamData(std::string_view bytes) override {
    std::string out;
    for (const api::SseEvent& event : parser_.Feed(bytes)) {
      Inspect(event);
      if (translator_) {
        out += translator_->Feed(event);
      }
    }
    if (!translator_) {
      out.assign(bytes);
    }
    digest_.Update(out);
    return out;
  }

  std::string OnStreamEnd(bool clean) override {
    if (!clean) {
      proxy_.metrics_.CountUpstreamError(p_->upstream->name, "stream_broken");
    }
    std::string out = translator_ ? translator_->Finish() : std::string();
    digest_.Update(out);
    return out;
  }

  http::Reply OnFailure(int status, std::string_view what) override {
    error_ = what;
    const bool timeout = status == 504;
    proxy_.metrics_.CountUpstreamError(p_->upstream->name, timeout ? "timeout" : "unavailable");
    http::Reply reply =
        ErrorFor(*p_->api, status,
                 "the upstream '" + p_->upstream->name +
                     (timeout ? "' did not answer in time" : "' is unavailable") +
                     "; the request was not completed (Firebreak request " + p_->request_id + ")",
                 timeout ? "upstream_timeout" : "upstream_unavailable");
    proxy_.AddHeaders(*p_, reply.headers);
    digest_.Update(reply.body);
    return reply;
  }

  void OnDone(const http::RelayEnd& end) override {
    proxy_.metrics_.Observe(Stage::kUpstream, Since(upstream_start_));
    proxy_.metrics_.Observe(Stage::kTotal, Since(p_->start));
    Proxy* proxy = &proxy_;
    proxy_.options_.gate->Complete(
        {.request_id = p_->request_id,
         .decision_seq = p_->seq,
         .upstream = p_->upstream->name,
         .status = end.status,
         .complete = end.complete,
         .bytes = static_cast<std::int64_t>(end.bytes),
         .latency_micros = static_cast<std::int64_t>(Since(p_->start) * 1e6),
         .response_sha256 = base::ToHex(digest_.Finish()),
         .error = error_.empty() ? std::string_view(end.error) : std::string_view(error_),
         .input_tokens = usage_.input,
         .output_tokens = usage_.output},
        [proxy](base::StatusOr<audit::Appended> appended) {
          if (!appended.ok()) {
            proxy->metrics_.CountAuditFailure();
          }
        });
  }

 private:
  // The per-event hook of response inspection; today it reads usage.
  void Inspect(const api::SseEvent& event) {
    if (event.data.find("\"usage") == std::string::npos) {  // usage, usageMetadata
      return;
    }
    boost::system::error_code ec;
    json::value parsed = json::parse(event.data, ec);
    if (!ec) {
      upstream_api_.ReadUsage(parsed, usage_);
    }
  }

  Proxy& proxy_;
  std::shared_ptr<Pending> p_;
  const api::Provider& upstream_api_;
  Clock::time_point upstream_start_;
  api::SseParser parser_;
  std::unique_ptr<api::StreamTranslator> translator_;
  base::Sha256Stream digest_;
  api::TokenUsage usage_;
  std::string error_;
};

std::unique_ptr<http::Relay> Proxy::MakeRelay(std::shared_ptr<Pending> pending) {
  return std::make_unique<Relay>(*this, std::move(pending));
}

}  // namespace firebreak::proxy

#include "firebreak/base/event.h"

#include <boost/json.hpp>

namespace firebreak::base {
namespace {

namespace json = boost::json;

json::array Strings(const std::vector<std::string>& in) {
  json::array out;
  for (const std::string& s : in) {
    out.emplace_back(s);
  }
  return out;
}

json::object ToJson(const PolicyEvent& e) {
  json::array signatories;
  for (const Signatory& s : e.signatories) {
    signatories.push_back(json::object{
        {"role", s.role}, {"party", s.party}, {"verified", s.verified}, {"state", s.state}});
  }
  return {{"kind", "policy"},         {"time", e.time_micros},
          {"name", e.name},           {"version", e.version},
          {"effective", e.effective}, {"digest", e.digest},
          {"verified", e.verified},   {"signatories", std::move(signatories)},
          {"rules", e.rules},         {"source", e.source}};
}

json::object ToJson(const DecisionEvent& e) {
  json::array categories;
  for (const CategoryScore& c : e.categories) {
    categories.push_back(json::object{{"id", c.id}, {"score", c.score}});
  }
  return {{"kind", "decision"},
          {"time", e.time_micros},
          {"request_id", e.request_id},
          {"principal", e.principal},
          {"endpoint", e.endpoint},
          {"prompt", e.prompt},
          {"categories", std::move(categories)},
          {"decision", EventVerdictName(e.decision)},
          {"rules", Strings(e.rules)},
          {"intent", e.intent},
          {"audit_level", e.audit_level},
          {"seq", e.seq},
          {"constraints", Strings(e.constraints)},
          {"note", e.note},
          {"outcome", e.outcome},
          {"judge", e.judge}};
}

json::object ToJson(const AlertEvent& e) {
  return {{"kind", "alert"}, {"time", e.time_micros}, {"seq", e.seq},     {"severity", e.severity},
          {"rule", e.rule},  {"target", e.target},    {"state", AlertDeliveryName(e.state)}, {"detail", e.detail}};
}

json::object ToJson(const StatusEvent& e) {
  return {{"kind", "status"}, {"time", e.time_micros}, {"text", e.text}};
}

// Reads fields leniently: a missing or mistyped field keeps its default, so
// that a newer server's events still show on an older console.
struct Reader {
  const json::object& o;
  std::string Text(std::string_view key) const {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
  }
  std::int64_t Int(std::string_view key) const {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_int64()    ? v->get_int64()
           : v != nullptr && v->is_uint64() ? static_cast<std::int64_t>(v->get_uint64())
                                            : 0;
  }
  double Number(std::string_view key) const {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_number() ? v->to_number<double>() : 0.0;
  }
  bool Bool(std::string_view key) const {
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_bool() && v->get_bool();
  }
  const json::array& Array(std::string_view key) const {
    static const json::array kEmpty;
    const json::value* v = o.if_contains(key);
    return v != nullptr && v->is_array() ? v->get_array() : kEmpty;
  }
  std::vector<std::string> Strings(std::string_view key) const {
    std::vector<std::string> out;
    for (const json::value& v : Array(key)) {
      if (v.is_string()) {
        out.emplace_back(v.get_string());
      }
    }
    return out;
  }
};

template <typename Enum, std::size_t N>
std::optional<Enum> EnumNamed(std::string_view name, const std::string_view (&names)[N]) {
  for (std::size_t i = 0; i < N; ++i) {
    if (names[i] == name) {
      return static_cast<Enum>(i);
    }
  }
  return std::nullopt;
}

constexpr std::string_view kVerdictNames[] = {"ALLOW", "ALLOW_CONSTRAINED", "BLOCK"};
constexpr std::string_view kDeliveryNames[] = {"queued", "delivered", "retrying"};

}  // namespace

std::string_view EventVerdictName(EventVerdict verdict) {
  return kVerdictNames[static_cast<int>(verdict)];
}

std::string_view AlertDeliveryName(AlertDelivery delivery) {
  return kDeliveryNames[static_cast<int>(delivery)];
}

std::string_view EventKind(const Event& event) {
  static constexpr std::string_view kKinds[] = {"policy", "decision", "alert", "status"};
  return kKinds[event.index()];
}

std::string EventJson(const Event& event) {
  json::object out{{"v", kEventVersion}};
  for (auto& [key, value] : std::visit([](const auto& e) { return ToJson(e); }, event)) {
    out.emplace(key, std::move(value));
  }
  return json::serialize(out);
}

StatusOr<Event> ParseEvent(std::string_view text) {
  boost::system::error_code ec;
  const json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) {
    return InvalidArgument("an event is a JSON object");
  }
  const Reader r{parsed.get_object()};
  if (const std::int64_t version = parsed.get_object().contains("v") ? r.Int("v") : 1;
      version != kEventVersion) {
    return InvalidArgument("event version " + std::to_string(version) + ": this reader knows " +
                           std::to_string(kEventVersion) + "; upgrade the dashboard");
  }
  const std::string kind = r.Text("kind");
  if (kind == "policy") {
    PolicyEvent e{r.Int("time"),
                  r.Text("name"),
                  r.Text("version"),
                  r.Text("effective"),
                  r.Text("digest"),
                  r.Bool("verified"),
                  {},
                  static_cast<std::size_t>(r.Int("rules")),
                  r.Text("source")};
    for (const json::value& v : r.Array("signatories")) {
      if (v.is_object()) {
        const Reader s{v.get_object()};
        e.signatories.push_back(
            {s.Text("role"), s.Text("party"), s.Bool("verified"), s.Text("state")});
      }
    }
    return Event(std::move(e));
  }
  if (kind == "decision") {
    DecisionEvent e;
    e.time_micros = r.Int("time");
    e.request_id = r.Text("request_id");
    e.principal = r.Text("principal");
    e.endpoint = r.Text("endpoint");
    e.prompt = r.Text("prompt");
    for (const json::value& v : r.Array("categories")) {
      if (v.is_object()) {
        const Reader c{v.get_object()};
        e.categories.push_back({c.Text("id"), c.Number("score")});
      }
    }
    const std::optional<EventVerdict> verdict =
        EnumNamed<EventVerdict>(r.Text("decision"), kVerdictNames);
    if (!verdict) {
      return InvalidArgument("unknown decision '" + r.Text("decision") + "' in a decision event");
    }
    e.decision = *verdict;
    e.rules = r.Strings("rules");
    e.intent = r.Text("intent");
    e.audit_level = r.Text("audit_level");
    e.seq = static_cast<std::uint64_t>(r.Int("seq"));
    e.constraints = r.Strings("constraints");
    e.note = r.Text("note");
    e.outcome = r.Text("outcome");
    e.judge = r.Text("judge");
    return Event(std::move(e));
  }
  if (kind == "alert") {
    const std::optional<AlertDelivery> state =
        EnumNamed<AlertDelivery>(r.Text("state"), kDeliveryNames);
    if (!state) {
      return InvalidArgument("unknown delivery state '" + r.Text("state") + "' in an alert event");
    }
    return Event(AlertEvent{r.Int("time"), static_cast<std::uint64_t>(r.Int("seq")),
                            r.Text("severity"), r.Text("rule"), r.Text("target"), *state,
                            r.Text("detail")});
  }
  if (kind == "status") {
    return Event(StatusEvent{r.Int("time"), r.Text("text")});
  }
  return InvalidArgument("unknown event kind '" + kind + "'");
}

std::vector<Event> EventHub::Subscription::Take() {
  std::lock_guard lock(mu_);
  std::vector<Event> out(std::make_move_iterator(queue_.begin()),
                         std::make_move_iterator(queue_.end()));
  queue_.clear();
  return out;
}

std::uint64_t EventHub::Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

std::shared_ptr<EventHub::Subscription> EventHub::Subscribe(std::size_t capacity,
                                                            std::function<void()> notify) {
  auto s = std::make_shared<Subscription>();
  s->capacity_ = std::max<std::size_t>(capacity, 1);
  s->notify_ = std::move(notify);
  std::lock_guard lock(mu_);
  for (const std::optional<Event>* kept : {&policy_, &status_}) {
    if (*kept) {
      s->queue_.push_back(**kept);
    }
  }
  subscribers_.push_back(s);
  subscribers_count_.store(subscribers_.size(), std::memory_order_relaxed);
  return s;
}

void EventHub::Publish(Event event) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard lock(mu_);
    if (std::holds_alternative<PolicyEvent>(event)) {
      policy_ = event;
    } else if (std::holds_alternative<StatusEvent>(event)) {
      status_ = event;
    }
    std::erase_if(subscribers_, [](const std::weak_ptr<Subscription>& w) { return w.expired(); });
    subscribers_count_.store(subscribers_.size(), std::memory_order_relaxed);
    for (const std::weak_ptr<Subscription>& w : subscribers_) {
      if (std::shared_ptr<Subscription> s = w.lock()) {
        live.push_back(std::move(s));
      }
    }
  }
  for (const std::shared_ptr<Subscription>& s : live) {
    {
      std::lock_guard lock(s->mu_);
      if (s->queue_.size() >= s->capacity_) {
        s->queue_.pop_front();
        ++s->dropped_;
      }
      s->queue_.push_back(event);
    }
    if (s->notify_) {
      s->notify_();
    }
  }
}

}  // namespace firebreak::base

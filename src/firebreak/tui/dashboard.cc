#include "firebreak/tui/dashboard.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace firebreak::tui {
namespace {

constexpr std::size_t kHistory = 500;
constexpr std::size_t kAlerts = 200;

Style DecisionStyle(base::EventVerdict decision) {
  switch (decision) {
    case base::EventVerdict::kAllow:
      return Style::kAllow;
    case base::EventVerdict::kAllowConstrained:
      return Style::kConstrained;
    default:
      return Style::kBlock;
  }
}

std::string Name(base::EventVerdict decision) {
  return std::string(base::EventVerdictName(decision));
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& s : items) {
    out += (out.empty() ? "" : std::string(separator)) + s;
  }
  return out;
}

std::string Score(double score) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%.2f", score);
  return buffer;
}

std::string_view StateMark(base::AlertDelivery state) {
  switch (state) {
    case base::AlertDelivery::kDelivered:
      return "✓";
    case base::AlertDelivery::kRetrying:
      return "↻";
    default:
      return "…";
  }
}

// Writes `label` dim and `value` in `style` from (row, col) within `width`.
void Field(Canvas& c, int row, int col, int width, std::string_view label, std::string_view value,
           Style style = Style::kNormal) {
  const int used = c.Put(row, col, label, Style::kDim, width);
  c.Put(row, col + used, value, style, width - used);
}

std::string RulesOf(const base::DecisionEvent& d) {
  return d.rules.empty() ? "-" : Join(d.rules, ",");
}

void DrawPolicy(const DashboardState& s, Canvas& c, int top, int left, int height, int width) {
  c.Box(top, left, height, width, "Policy");
  const int w = width - 4;
  int row = top + 1;
  const int last = top + height - 2;
  if (!s.policy) {
    c.Put(row, left + 2, "waiting for the policy…", Style::kDim, w);
    return;
  }
  const base::PolicyEvent& p = *s.policy;
  c.Put(row++, left + 2, p.name + " v" + p.version, Style::kBold, w);
  Field(c, row++, left + 2, w, "effective ", p.effective);
  Field(c, row++, left + 2, w, "digest    ", p.digest.substr(0, 16));
  for (const base::Signatory& sig : p.signatories) {
    if (row > last) {
      break;
    }
    const int used = c.Put(row, left + 2, sig.verified ? "✓ " : "✗ ",
                           sig.verified ? Style::kAllow : Style::kBlock, w);
    c.Put(row++, left + 2 + used,
          sig.verified ? sig.role + " (" + sig.party + ")" : sig.role + ": " + sig.state,
          sig.verified ? Style::kNormal : Style::kBlock, w - used);
  }
  if (row <= last) {
    Field(c, row++, left + 2, w, "rules     ", std::to_string(p.rules));
  }
  if (!p.verified) {
    c.Put(std::min(row, last), left + 2, "UNSIGNED POLICY (dev only)", Style::kWarning, w);
  }
}

void DrawRequest(const DashboardState& s, Canvas& c, int top, int left, int height, int width) {
  c.Box(top, left, height, width, "Incoming request");
  const int w = width - 4;
  const int x = left + 2;
  if (!s.current) {
    c.Put(top + 1, x, "waiting for requests…", Style::kDim, w);
    return;
  }
  const base::DecisionEvent& d = *s.current;
  const int inner = height - 2;
  // Fixed lines below the prompt: intent, rule, the judge's (when one was
  // asked), decision, constraints/note, outcome.
  const int fixed = d.judge.empty() ? 5 : 6;
  int row = top + 1;
  bool first = true;
  for (const std::string& line : Wrap(d.prompt, w - 1, std::max(1, inner - fixed))) {
    c.Put(row++, x, (first ? "“" : " ") + line, Style::kBold, w);
    first = false;
  }
  std::string categories;
  for (const base::CategoryScore& cs : d.categories) {
    categories += (categories.empty() ? "" : ", ") + cs.id + " " + Score(cs.score);
  }
  Field(c, row++, x, w, "intent      ", categories.empty() ? "unknown (no category)" : categories);
  Field(c, row++, x, w, "rule        ", RulesOf(d) + "   seq " + std::to_string(d.seq));
  if (!d.judge.empty()) {
    Field(c, row++, x, w, "judge       ", d.judge);
  }
  const int used = c.Put(row, x, "decision    ", Style::kDim, w);
  const int shown =
      c.Put(row, x + used, " " + Name(d.decision) + " ", DecisionStyle(d.decision), w - used);
  c.Put(row++, x + used + shown, "  audit " + d.audit_level, Style::kDim, w - used - shown);
  if (!d.constraints.empty()) {
    Field(c, row++, x, w, "constraints ", Join(d.constraints, "; "), Style::kConstrained);
  } else {
    Field(c, row++, x, w, "note        ", d.note);
  }
  if (row < top + height - 1) {
    Field(c, row, x, w, "outcome     ", d.outcome, Style::kDim);
  }
}

void DrawHistory(const DashboardState& s, const DrawOptions& o, Canvas& c, int top, int height,
                 int width) {
  c.Box(top, 0, height, width, "History (" + std::to_string(s.decisions) + ")");
  const int rows = height - 3;
  const int x = 2;
  const int w = width - 4;
  // time, decision, intent, rule, audit, seq: the rule gets up to 25 cells
  // of what the fixed columns leave, the intent the rest.
  const int rule_width = std::min(25, std::max(w - 41 - 12, 12));
  const int cols[] = {0, 9, 27, w - 14 - rule_width, w - 14, w - 5};
  const char* heads[] = {"time", "decision", "intent", "rule", "audit", "seq"};
  for (int i = 0; i < 6; ++i) {
    c.Put(top + 1, x + cols[i], heads[i], Style::kDim, (i < 5 ? cols[i + 1] : w) - cols[i] - 1);
  }
  const std::size_t n = std::min<std::size_t>(s.history.size(), std::max(rows, 0));
  int row = top + 2;
  for (std::size_t i = s.history.size() - n; i < s.history.size(); ++i, ++row) {
    const base::DecisionEvent& d = s.history[i];
    const std::string values[] = {ClockTime(d.time_micros, o.utc_offset_seconds),
                                  Name(d.decision),
                                  d.intent,
                                  RulesOf(d),
                                  d.audit_level,
                                  std::to_string(d.seq)};
    for (int k = 0; k < 6; ++k) {
      c.Put(row, x + cols[k], values[k], k == 1 ? DecisionStyle(d.decision) : Style::kNormal,
            (k < 5 ? cols[k + 1] : w) - cols[k] - 1);
    }
  }
}

void DrawAlerts(const DashboardState& s, const DrawOptions& o, Canvas& c, int top, int height,
                int width) {
  c.Box(top, 0, height, width, "Alerts (" + std::to_string(s.alerts.size()) + ")");
  const int rows = height - 2;
  const int x = 2;
  const int w = width - 4;
  const std::size_t n = std::min<std::size_t>(s.alerts.size(), std::max(rows, 0));
  int row = top + 1;
  for (std::size_t i = s.alerts.size() - n; i < s.alerts.size(); ++i, ++row) {
    const AlertRow& a = s.alerts[i];
    int col = x;
    col +=
        c.Put(row, col, ClockTime(a.time_micros, o.utc_offset_seconds) + "  ", Style::kNormal, w);
    col += c.Put(row, col, a.severity + " ",
                 a.severity == "critical" ? Style::kBlock : Style::kConstrained, x + w - col);
    col += c.Put(row, col, a.rule + " → ", Style::kNormal, x + w - col);
    for (const auto& [target, state] : a.targets) {
      col += c.Put(row, col, target + " ", Style::kNormal, x + w - col);
      col += c.Put(row, col, std::string(StateMark(state)) + "  ",
                   state == base::AlertDelivery::kDelivered ? Style::kAllow : Style::kConstrained,
                   x + w - col);
    }
  }
}

void DrawFooter(const DashboardState& s, const DrawOptions& o, Canvas& c) {
  const int row = c.rows() - 1;
  if (o.typing) {
    const int used = c.Put(row, 0, "prompt> ", Style::kBold);
    // The end of what is typed stays visible.
    std::string shown = o.input;
    while (TextWidth(shown) > c.cols() - used - 1 && !shown.empty()) {
      shown.erase(0, 1);
      while (!shown.empty() && (static_cast<unsigned char>(shown[0]) >> 6) == 0x2) {
        shown.erase(0, 1);
      }
    }
    c.Put(row, used, shown + "▏", Style::kNormal);
    return;
  }
  std::string text = o.footer;
  if (s.dropped > 0) {
    text += "   (" + std::to_string(s.dropped) + " events dropped: console too slow)";
  }
  c.Put(row, 0, text, Style::kDim);
}

void DrawTitle(const DashboardState& s, const DrawOptions& o, Canvas& c) {
  for (int col = 0; col < c.cols(); ++col) {
    c.Put(0, col, " ", Style::kTitle);
  }
  int col = c.Put(0, 1, o.title, Style::kTitle);
  col += 1 + c.Put(0, col + 2, s.status, Style::kTitle, c.cols() - col - 3);
  if (s.policy && !s.policy->verified) {
    const std::string warning = " UNSIGNED POLICY ";
    c.Put(0, std::max(col + 2, c.cols() - TextWidth(warning) - 1), warning, Style::kWarning);
  }
}

// Below 80x24: one line per panel, then as much history as fits.
void DrawCompact(const DashboardState& s, const DrawOptions& o, Canvas& c) {
  const int w = c.cols();
  int row = 1;
  if (s.policy) {
    std::string marks;
    for (const base::Signatory& sig : s.policy->signatories) {
      marks += std::string(sig.verified ? "✓" : "✗") + sig.role + " ";
    }
    c.Put(row++, 0,
          s.policy->name + " v" + s.policy->version + " " + s.policy->digest.substr(0, 8) + " " +
              marks,
          s.policy->verified ? Style::kNormal : Style::kWarning, w);
  }
  if (s.current) {
    const int used =
        c.Put(row, 0, Name(s.current->decision) + " ", DecisionStyle(s.current->decision), w);
    c.Put(row++, used, RulesOf(*s.current) + " " + s.current->prompt, Style::kNormal, w - used);
  }
  const int alerts_row = c.rows() - 2;
  const std::size_t fit = static_cast<std::size_t>(std::max(alerts_row - row, 0));
  for (std::size_t i = s.history.size() - std::min(fit, s.history.size()); i < s.history.size();
       ++i) {
    const base::DecisionEvent& d = s.history[i];
    const int used =
        c.Put(row, 0, ClockTime(d.time_micros, o.utc_offset_seconds) + " ", Style::kDim, w);
    const int used2 =
        c.Put(row, used, Name(d.decision) + " ", DecisionStyle(d.decision), w - used);
    c.Put(row++, used + used2, RulesOf(d), Style::kNormal, w - used - used2);
  }
  if (!s.alerts.empty()) {
    const AlertRow& a = s.alerts.back();
    std::string targets;
    for (const auto& [target, state] : a.targets) {
      targets += target + std::string(StateMark(state)) + " ";
    }
    c.Put(alerts_row, 0,
          "alerts " + std::to_string(s.alerts.size()) + ", last: " + a.rule + " → " + targets,
          Style::kConstrained, w);
  }
}

}  // namespace

std::string ClockTime(std::int64_t micros, int utc_offset_seconds) {
  const std::time_t t = static_cast<std::time_t>(micros / 1'000'000) + utc_offset_seconds;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[16];
  std::strftime(buffer, sizeof(buffer), "%H:%M:%S", &tm);
  return buffer;
}

void DashboardState::Apply(const base::Event& event) {
  if (const auto* p = std::get_if<base::PolicyEvent>(&event)) {
    policy = *p;
  } else if (const auto* d = std::get_if<base::DecisionEvent>(&event)) {
    current = *d;
    history.push_back(*d);
    ++decisions;
    if (history.size() > kHistory) {
      history.pop_front();
    }
  } else if (const auto* a = std::get_if<base::AlertEvent>(&event)) {
    // One row per record that raised alerts; one mark per target.
    auto row = std::find_if(alerts.rbegin(), alerts.rend(),
                            [&](const AlertRow& r) { return r.seq == a->seq && a->seq != 0; });
    if (row == alerts.rend()) {
      alerts.push_back({a->time_micros, a->seq, a->severity, a->rule, {}});
      if (alerts.size() > kAlerts) {
        alerts.pop_front();
      }
      row = alerts.rbegin();
    }
    auto target = std::find_if(row->targets.begin(), row->targets.end(),
                               [&](const auto& t) { return t.first == a->target; });
    if (target == row->targets.end()) {
      row->targets.emplace_back(a->target, a->state);
    } else {
      target->second = a->state;
    }
  } else if (const auto* st = std::get_if<base::StatusEvent>(&event)) {
    status = st->text;
  }
}

void Draw(const DashboardState& s, const DrawOptions& o, Canvas& c) {
  if (c.rows() < 6 || c.cols() < 30) {
    c.Put(0, 0, "FIREBREAK: the terminal is too small", Style::kWarning);
    if (s.current) {
      c.Put(1, 0, Name(s.current->decision) + " " + RulesOf(*s.current),
            DecisionStyle(s.current->decision));
    }
    return;
  }
  DrawTitle(s, o, c);
  DrawFooter(s, o, c);
  if (c.rows() < 24 || c.cols() < 80) {
    DrawCompact(s, o, c);
    return;
  }
  const int top_height = c.rows() >= 32 ? 11 : 9;
  const int policy_width = std::min(40, c.cols() * 2 / 5);
  DrawPolicy(s, c, 1, 0, top_height, policy_width);
  DrawRequest(s, c, 1, policy_width, top_height, c.cols() - policy_width);
  const int rest = c.rows() - 2 - top_height;
  const int history_height = rest * 55 / 100;
  DrawHistory(s, o, c, 1 + top_height, history_height, c.cols());
  DrawAlerts(s, o, c, 1 + top_height + history_height, rest - history_height, c.cols());
}

}  // namespace firebreak::tui

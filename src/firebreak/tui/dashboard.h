// The dashboard: what the events say (DashboardState) and how it is drawn
// (Draw) in four panels — the policy in force with each signatory verified
// or not, the incoming request, the history of decisions, and the alerts
// with their delivery — on any canvas from 80x24 up, degrading below it.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "firebreak/base/event.h"
#include "firebreak/tui/canvas.h"

namespace firebreak::tui {

struct AlertRow {
  std::int64_t time_micros = 0;
  std::uint64_t seq = 0;
  std::string severity;
  std::string rule;
  std::vector<std::pair<std::string, base::AlertDelivery>> targets;
};

struct DashboardState {
  std::optional<base::PolicyEvent> policy;
  std::optional<base::DecisionEvent> current;
  std::deque<base::DecisionEvent> history;  // oldest first
  std::deque<AlertRow> alerts;              // oldest first
  std::string status;                       // e.g. "connected to ...", "offline"
  std::uint64_t decisions = 0;
  std::uint64_t dropped = 0;  // events a slow console lost

  void Apply(const base::Event& event);
};

struct DrawOptions {
  std::string title = "FIREBREAK";
  std::string footer;  // key hints
  std::string input;   // the line being typed (interactive), shown when `typing`
  bool typing = false;
  int utc_offset_seconds = 0;  // for the times shown
};

void Draw(const DashboardState& state, const DrawOptions& options, Canvas& canvas);

// "14:03:07" for a time in micros since the epoch.
std::string ClockTime(std::int64_t micros, int utc_offset_seconds);

}  // namespace firebreak::tui

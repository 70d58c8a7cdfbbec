// The terminal side of the dashboard (ncurses, wide characters): it shows a
// finished canvas, reads keys, and restores the terminal on every way out —
// a normal exit, Ctrl-C or SIGTERM (reported as kInterrupted), and a crash
// (SIGSEGV, SIGABRT, SIGBUS, SIGFPE: restored, then the signal re-raised).
#pragma once

#include <memory>

#include "firebreak/base/event.h"
#include "firebreak/tui/canvas.h"
#include "firebreak/tui/dashboard.h"

namespace firebreak::tui {

class Terminal {
 public:
  static constexpr int kNoKey = -1;
  static constexpr int kInterrupted = -2;  // SIGINT or SIGTERM arrived
  static constexpr int kResize = -3;
  static constexpr int kBackspace = 127;
  static constexpr int kEscape = 27;

  // nullptr when stdin or stdout is not a terminal. One at a time.
  static std::unique_ptr<Terminal> Open();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  int rows() const;
  int cols() const;
  void Show(const Canvas& canvas);
  // A key: a byte of what was typed ('\n' for Enter, kBackspace, kEscape),
  // another ncurses key code, kResize, kNoKey after `timeout_ms`, or
  // kInterrupted.
  int ReadKey(int timeout_ms);

 private:
  Terminal() = default;
};

// A dashboard on a terminal, fed by an event subscription: Step() applies
// what arrived, redraws when something changed, and returns the next key.
class Console {
 public:
  Console(Terminal& terminal, std::shared_ptr<base::EventHub::Subscription> events);
  int Step(int timeout_ms);
  DrawOptions& options() { return options_; }
  void Redraw() { dirty_ = true; }

 private:
  Terminal& terminal_;
  std::shared_ptr<base::EventHub::Subscription> events_;
  DashboardState state_;
  DrawOptions options_;
  bool dirty_ = true;
};

}  // namespace firebreak::tui

#include "firebreak/tui/terminal.h"

#include <curses.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <clocale>
#include <cstdlib>
#include <ctime>

namespace firebreak::tui {
namespace {

std::atomic<bool> g_open{false};
volatile sig_atomic_t g_interrupted = 0;

void Restore() {
  if (g_open.exchange(false)) {
    endwin();
  }
}

void OnInterrupt(int) { g_interrupted = 1; }

void OnCrash(int signal) {
  Restore();  // not async-signal-safe, but the process is going down anyway
  ::signal(signal, SIG_DFL);
  ::raise(signal);
}

enum Pair : short { kGreen = 1, kYellow, kRed, kTitlePair, kWarningPair };

attr_t AttrOf(Style style) {
  switch (style) {
    case Style::kNormal:
      return A_NORMAL;
    case Style::kDim:
      return A_DIM;
    case Style::kBold:
      return A_BOLD;
    case Style::kTitle:
      return COLOR_PAIR(kTitlePair) | A_BOLD;
    case Style::kAllow:
      return COLOR_PAIR(kGreen) | A_BOLD;
    case Style::kConstrained:
      return COLOR_PAIR(kYellow) | A_BOLD;
    case Style::kBlock:
      return COLOR_PAIR(kRed) | A_BOLD;
    case Style::kWarning:
      return COLOR_PAIR(kWarningPair) | A_BOLD;
  }
  return A_NORMAL;
}

}  // namespace

std::unique_ptr<Terminal> Terminal::Open() {
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO) || g_open) {
    return nullptr;
  }
  std::setlocale(LC_ALL, "");
  if (initscr() == nullptr) {
    return nullptr;
  }
  g_open = true;
  static const bool registered = [] { return std::atexit(Restore) == 0; }();
  static_cast<void>(registered);
  struct sigaction action {};
  action.sa_handler = OnInterrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  action.sa_handler = OnCrash;
  action.sa_flags = SA_RESETHAND;
  for (int s : {SIGSEGV, SIGABRT, SIGBUS, SIGFPE}) {
    sigaction(s, &action, nullptr);
  }
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  if (has_colors()) {
    start_color();
    use_default_colors();
    init_pair(kGreen, COLOR_GREEN, -1);
    init_pair(kYellow, COLOR_YELLOW, -1);
    init_pair(kRed, COLOR_RED, -1);
    init_pair(kTitlePair, COLOR_BLACK, COLOR_CYAN);
    init_pair(kWarningPair, COLOR_WHITE, COLOR_RED);
  }
  return std::unique_ptr<Terminal>(new Terminal());
}

Terminal::~Terminal() { Restore(); }

int Terminal::rows() const { return LINES; }
int Terminal::cols() const { return COLS; }

void Terminal::Show(const Canvas& canvas) {
  erase();
  for (int r = 0; r < canvas.rows() && r < LINES; ++r) {
    move(r, 0);
    for (int c = 0; c < canvas.cols() && c < COLS; ++c) {
      const Canvas::Cell& cell = canvas.at(r, c);
      if (cell.glyph.empty()) {
        continue;  // the right half of a wide glyph
      }
      attrset(AttrOf(cell.style));
      // The last cell of the screen: writing it would scroll.
      if (r == LINES - 1 && c == COLS - 1) {
        break;
      }
      addstr(cell.glyph.c_str());
    }
  }
  attrset(A_NORMAL);
  refresh();
}

int Terminal::ReadKey(int timeout_ms) {
  if (g_interrupted) {
    return kInterrupted;
  }
  timeout(timeout_ms);
  const int key = getch();
  if (g_interrupted) {
    return kInterrupted;
  }
  switch (key) {
    case ERR:
      return kNoKey;
    case KEY_ENTER:
    case '\r':
      return '\n';
    case KEY_BACKSPACE:
    case 8:
      return kBackspace;
    case KEY_RESIZE:
      return kResize;
    default:
      return key;
  }
}

Console::Console(Terminal& terminal, std::shared_ptr<base::EventHub::Subscription> events)
    : terminal_(terminal), events_(std::move(events)) {
  const std::time_t now = std::time(nullptr);
  std::tm local{};
  localtime_r(&now, &local);
  options_.utc_offset_seconds = static_cast<int>(local.tm_gmtoff);
}

int Console::Step(int timeout_ms) {
  for (const base::Event& e : events_->Take()) {
    state_.Apply(e);
    dirty_ = true;
  }
  if (state_.dropped != events_->dropped()) {
    state_.dropped = events_->dropped();
    dirty_ = true;
  }
  if (dirty_) {
    Canvas canvas(terminal_.rows(), terminal_.cols());
    Draw(state_, options_, canvas);
    terminal_.Show(canvas);
    dirty_ = false;
  }
  const int key = terminal_.ReadKey(timeout_ms);
  if (key == Terminal::kResize) {
    dirty_ = true;
  }
  return key;
}

}  // namespace firebreak::tui

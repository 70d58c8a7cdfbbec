// A grid of terminal cells (one glyph and a style each) that the dashboard
// draws into. Drawing is plain code, testable without a terminal; the
// terminal (terminal.h) only copies a finished canvas to the screen.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace firebreak::tui {

enum class Style : std::uint8_t {
  kNormal,
  kDim,
  kBold,
  kTitle,
  kAllow,        // green
  kConstrained,  // yellow
  kBlock,        // red
  kWarning,      // red, bold: unsigned policy, disconnected
};

// Cells a code point takes: 0 (combining), 1, or 2 (East Asian wide, emoji).
int GlyphWidth(char32_t c);
// Display width of UTF-8 text (invalid bytes count as one cell each).
int TextWidth(std::string_view utf8);
// Greedy word wrap to lines of at most `width` cells; at most `max_lines`,
// the last ending in "…" when text was left out.
std::vector<std::string> Wrap(std::string_view utf8, int width, int max_lines);

class Canvas {
 public:
  struct Cell {
    std::string glyph = " ";  // empty: the right half of a wide glyph
    Style style = Style::kNormal;
  };

  Canvas(int rows, int cols);
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const Cell& at(int row, int col) const { return cells_[row * cols_ + col]; }

  // Writes text from (row, col), clipped to `max_width` cells and to the
  // canvas; control characters show as spaces. Returns the cells used.
  int Put(int row, int col, std::string_view utf8, Style style = Style::kNormal,
          int max_width = INT_MAX);
  // A frame with a title in its top edge.
  void Box(int top, int left, int height, int width, std::string_view title,
           Style style = Style::kDim);
  // The text of a row, trailing spaces removed (for tests and plain output).
  std::string Line(int row) const;

 private:
  int rows_;
  int cols_;
  std::vector<Cell> cells_;
};

}  // namespace firebreak::tui

#include "firebreak/tui/canvas.h"

#include <algorithm>

namespace firebreak::tui {
namespace {

// The next code point of `s` from `i` (advanced); U+FFFD for an invalid byte.
char32_t Next(std::string_view s, std::size_t& i, std::string_view& bytes) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int n = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    bytes = s.substr(i, 1);
    ++i;
    return 0xFFFD;
  }
  char32_t c = n == 1 ? b : b & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    const auto cont = static_cast<unsigned char>(s[i + k]);
    if ((cont >> 6) != 0x2) {
      bytes = s.substr(i, 1);
      ++i;
      return 0xFFFD;
    }
    c = (c << 6) | (cont & 0x3F);
  }
  bytes = s.substr(i, n);
  i += n;
  return c;
}

}  // namespace

int GlyphWidth(char32_t c) {
  if ((c >= 0x300 && c <= 0x36F) || (c >= 0x610 && c <= 0x61A) || (c >= 0x64B && c <= 0x65F) ||
      c == 0x670 || (c >= 0x6D6 && c <= 0x6ED) || (c >= 0x200B && c <= 0x200F) ||
      (c >= 0xFE00 && c <= 0xFE0F)) {
    return 0;
  }
  if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
      (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
      (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
      (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1FAFF) ||
      (c >= 0x20000 && c <= 0x3FFFD)) {
    return 2;
  }
  return 1;
}

int TextWidth(std::string_view utf8) {
  int width = 0;
  std::string_view bytes;
  for (std::size_t i = 0; i < utf8.size();) {
    width += GlyphWidth(Next(utf8, i, bytes));
  }
  return width;
}

std::vector<std::string> Wrap(std::string_view utf8, int width, int max_lines) {
  struct Glyph {
    std::string_view bytes;
    int width;
  };
  std::vector<std::vector<Glyph>> lines(1);
  int used = 0;
  auto new_line = [&] {
    lines.emplace_back();
    used = 0;
  };
  std::string_view bytes;
  for (std::size_t i = 0; i < utf8.size();) {
    // The next word, as glyphs.
    while (i < utf8.size() && (utf8[i] == ' ' || utf8[i] == '\n' || utf8[i] == '\t')) {
      ++i;
    }
    std::vector<Glyph> word;
    int word_width = 0;
    while (i < utf8.size() && utf8[i] != ' ' && utf8[i] != '\n' && utf8[i] != '\t') {
      const int w = GlyphWidth(Next(utf8, i, bytes));
      word.push_back({bytes, w});
      word_width += w;
    }
    if (word.empty()) {
      break;
    }
    const int space = lines.back().empty() ? 0 : 1;
    if (used + space + word_width <= width) {
      if (space == 1) {
        lines.back().push_back({" ", 1});
        ++used;
      }
    } else if (!lines.back().empty()) {
      new_line();  // the word goes on the next line (cut there if it is longer than one)
    }
    for (const Glyph& g : word) {
      if (used + g.width > width) {
        new_line();
      }
      lines.back().push_back(g);
      used += g.width;
    }
  }
  const bool cut = static_cast<int>(lines.size()) > max_lines;
  if (cut) {
    lines.resize(max_lines);
    std::vector<Glyph>& last = lines.back();
    int last_width = 0;
    for (const Glyph& g : last) {
      last_width += g.width;
    }
    while (!last.empty() && last_width + 1 > width) {
      last_width -= last.back().width;
      last.pop_back();
    }
    last.push_back({"…", 1});
  }
  std::vector<std::string> out;
  for (const std::vector<Glyph>& line : lines) {
    std::string text;
    for (const Glyph& g : line) {
      text += g.bytes;
    }
    if (!text.empty() || out.empty()) {
      out.push_back(std::move(text));
    }
  }
  if (out.size() == 1 && out[0].empty()) {
    out.clear();
  }
  return out;
}

Canvas::Canvas(int rows, int cols)
    : rows_(std::max(rows, 0)), cols_(std::max(cols, 0)), cells_(rows_ * cols_) {}

int Canvas::Put(int row, int col, std::string_view utf8, Style style, int max_width) {
  if (row < 0 || row >= rows_ || col < 0) {
    return 0;
  }
  const int limit = std::min(cols_ - col, max_width);
  int used = 0;
  std::string_view bytes;
  for (std::size_t i = 0; i < utf8.size();) {
    const char32_t c = Next(utf8, i, bytes);
    int w = GlyphWidth(c);
    if (w == 0) {
      if (used > 0) {
        cells_[row * cols_ + col + used - 1].glyph += bytes;  // combines with the last
      }
      continue;
    }
    if (used + w > limit) {
      break;
    }
    Cell& cell = cells_[row * cols_ + col + used];
    cell.glyph = c < 0x20 || c == 0x7F ? std::string(" ") : std::string(bytes);
    cell.style = style;
    if (w == 2) {
      Cell& right = cells_[row * cols_ + col + used + 1];
      right.glyph.clear();
      right.style = style;
    }
    used += w;
  }
  return used;
}

void Canvas::Box(int top, int left, int height, int width, std::string_view title, Style style) {
  if (height < 2 || width < 2) {
    return;
  }
  const int bottom = top + height - 1;
  const int right = left + width - 1;
  for (int c = left + 1; c < right; ++c) {
    Put(top, c, "─", style);
    Put(bottom, c, "─", style);
  }
  for (int r = top + 1; r < bottom; ++r) {
    Put(r, left, "│", style);
    Put(r, right, "│", style);
  }
  Put(top, left, "┌", style);
  Put(top, right, "┐", style);
  Put(bottom, left, "└", style);
  Put(bottom, right, "┘", style);
  if (!title.empty()) {
    Put(top, left + 2, " " + std::string(title) + " ", Style::kBold, width - 4);
  }
}

std::string Canvas::Line(int row) const {
  std::string out;
  for (int c = 0; c < cols_; ++c) {
    out += at(row, c).glyph;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

}  // namespace firebreak::tui

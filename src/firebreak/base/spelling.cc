#include "firebreak/base/spelling.h"

#include <algorithm>
#include <cstddef>

namespace firebreak::base {
namespace {

constexpr std::size_t kMaxEdits = 2;

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::optional<std::string_view> NearestSpelling(std::string_view word,
                                                const std::vector<std::string_view>& candidates) {
  std::optional<std::string_view> nearest;
  std::size_t best = kMaxEdits + 1;
  for (std::string_view candidate : candidates) {
    if (const std::size_t d = EditDistance(word, candidate); d < best) {
      best = d;
      nearest = candidate;
    }
  }
  return nearest;
}

}  // namespace firebreak::base

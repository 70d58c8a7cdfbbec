// "Did you mean ...?" for names an operator types: config keys, commands.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace firebreak::base {

// The candidate nearest to `word` by edit distance (Levenshtein), when it
// is at most two edits away; the first of equals.
std::optional<std::string_view> NearestSpelling(std::string_view word,
                                                const std::vector<std::string_view>& candidates);

}  // namespace firebreak::base

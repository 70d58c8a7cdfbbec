// Feature extraction for the local text model: hashed word unigrams (lightly
// stemmed), word bigrams and character 4-grams of normalised text. Training
// and prediction share this code, so a model sees exactly what it learned on.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace firebreak::classify {

// Appends the hashed feature ids (in [0, 2^hash_bits)) of `normalized` to
// `out`; an id may repeat. Every occurrence carries the same weight,
// 1/sqrt(total occurrences).
void ExtractFeatures(std::string_view normalized, unsigned hash_bits,
                     std::vector<std::uint32_t>& out);

}  // namespace firebreak::classify

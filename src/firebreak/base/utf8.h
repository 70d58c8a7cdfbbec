// UTF-8 validation, for every text that crosses a trust boundary (request
// bodies, header values, decoded URLs): well-formed means no overlong forms,
// no surrogates and nothing past U+10FFFF.
#pragma once

#include <cstddef>
#include <string_view>

namespace firebreak::base {

// The offset of the first byte that is not part of well-formed UTF-8, or
// std::string_view::npos when all of `s` is.
std::size_t InvalidUtf8Offset(std::string_view s);

inline bool IsUtf8(std::string_view s) { return InvalidUtf8Offset(s) == std::string_view::npos; }

// The longest prefix of `text` of at most `max` bytes that does not end
// inside a UTF-8 sequence.
std::string_view Utf8Prefix(std::string_view text, std::size_t max);

}  // namespace firebreak::base

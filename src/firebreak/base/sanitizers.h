// Whether this build runs under AddressSanitizer (g++ and clang spell it
// differently). Tests that measure the allocator, or run a process out of
// file descriptors, skip there: ASan brings its own allocator, and UBSan
// checks a virtual call's type through a pipe.
#pragma once

namespace firebreak::base {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace firebreak::base

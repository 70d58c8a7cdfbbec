// Wall-clock time for records and schedules. Components take the clock as an
// injected function (std::function<std::int64_t()>) so tests control time;
// this is the default they fall back to.
#pragma once

#include <chrono>
#include <cstdint>

namespace firebreak::base {

// Microseconds since the Unix epoch.
inline std::int64_t UnixMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace firebreak::base

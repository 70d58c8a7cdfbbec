// What the listener spends per client, and how it keeps within bounds: a
// memory budget for request bodies in flight, the connection limit the
// process's file descriptors allow, a descriptor held in reserve so that
// the server can still accept (and answer /health) when they run out, and
// the allocator settings that give freed body buffers back to the system.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace firebreak::http {

// Bytes of request bodies held at once, against a limit. Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(std::size_t limit) : limit_(limit) {}
  // Reserves `bytes`, or nothing (false) when that would pass the limit.
  bool Reserve(std::size_t bytes);
  void Release(std::size_t bytes);
  std::size_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }
  std::size_t limit() const { return limit_; }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> in_flight_{0};
};

struct DescriptorLimit {
  std::uint64_t soft = 0;  // RLIMIT_NOFILE in force
  std::uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard limit (process-wide); returns
// the limits in force afterwards.
DescriptorLimit RaiseDescriptorLimit();
DescriptorLimit CurrentDescriptorLimit();
// Descriptors open in this process now (0 when it cannot tell).
std::size_t OpenDescriptors();

// Client connections that `limit` descriptors carry when `open` are already
// in use: each connection may hold two (itself and its upstream
// connection), and a spare is left for the rest of the process (audit,
// alerts, the reserve, name resolution). At least 1.
std::size_t ConnectionsFor(std::uint64_t limit, std::size_t open);

// One descriptor (of /dev/null) held back: released, it lets accept() take
// a client when every other descriptor is in use. Thread-safe.
class ReserveDescriptor {
 public:
  ReserveDescriptor() { Acquire(); }
  ~ReserveDescriptor();
  ReserveDescriptor(const ReserveDescriptor&) = delete;
  ReserveDescriptor& operator=(const ReserveDescriptor&) = delete;

  // Holds one again if it can; true when one is held afterwards.
  bool Acquire();
  // Closes the one held; false when none was.
  bool Release();
  bool held() const;

 private:
  mutable std::mutex mu_;
  int fd_ = -1;
};

// Allocations from `bytes` up are served by mmap and so returned to the
// system when freed. glibc otherwise raises its threshold to the size of
// every mapped block freed (up to 32 MiB), after which request bodies come
// from the heap and freeing them does not shrink the process.
void MapLargeAllocations(std::size_t bytes);

}  // namespace firebreak::http

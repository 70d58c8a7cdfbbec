#include "firebreak/http/resources.h"

#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>

namespace firebreak::http {

bool BodyBudget::Reserve(std::size_t bytes) {
  std::size_t now = in_flight_.load(std::memory_order_relaxed);
  do {
    if (bytes > limit_ - std::min(now, limit_)) {
      return false;
    }
  } while (!in_flight_.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
  return true;
}

void BodyBudget::Release(std::size_t bytes) {
  in_flight_.fetch_sub(bytes, std::memory_order_relaxed);
}

DescriptorLimit CurrentDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return {};
  }
  auto value = [](rlim_t v) {
    return v == RLIM_INFINITY ? std::uint64_t{INT_MAX} : static_cast<std::uint64_t>(v);
  };
  return {value(limit.rlim_cur), value(limit.rlim_max)};
}

DescriptorLimit RaiseDescriptorLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    static_cast<void>(::setrlimit(RLIMIT_NOFILE, &limit));
  }
  return CurrentDescriptorLimit();
}

std::size_t OpenDescriptors() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  std::size_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') {
      ++count;
    }
  }
  ::closedir(dir);
  return count > 0 ? count - 1 : 0;  // less the directory's own
}

std::size_t ConnectionsFor(std::uint64_t limit, std::size_t open) {
  constexpr std::uint64_t kSpare = 64;
  const std::uint64_t used = open + kSpare;
  if (limit <= used + 2) {
    return 1;
  }
  return static_cast<std::size_t>((limit - used) / 2);
}

ReserveDescriptor::~ReserveDescriptor() { Release(); }

bool ReserveDescriptor::Acquire() {
  std::lock_guard lock(mu_);
  if (fd_ < 0) {
    fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  return fd_ >= 0;
}

bool ReserveDescriptor::Release() {
  std::lock_guard lock(mu_);
  if (fd_ < 0) {
    return false;
  }
  ::close(fd_);
  fd_ = -1;
  return true;
}

bool ReserveDescriptor::held() const {
  std::lock_guard lock(mu_);
  return fd_ >= 0;
}

void MapLargeAllocations(std::size_t bytes) {
  ::mallopt(M_MMAP_THRESHOLD, static_cast<int>(std::min<std::size_t>(bytes, INT_MAX)));
}

}  // namespace firebreak::http

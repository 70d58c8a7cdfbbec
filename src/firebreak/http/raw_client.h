// Raw bytes over loopback TCP, for tests: a client that sends what no HTTP
// library would and reads exactly what a server sent, and the reads and
// writes a scripted local server makes on a socket of its own.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace firebreak::http {

// Sends all of `bytes`; false when the peer is gone.
bool SendAll(int fd, std::string_view bytes);

// Reads from `fd` into `out` until `done(out)` holds, the peer closes
// (`*closed` set) or `timeout` passes; returns done(out).
bool ReadUntil(int fd, std::string& out, const std::function<bool(const std::string&)>& done,
               std::chrono::milliseconds timeout, bool* closed = nullptr);

// Whether `bytes` begin with one whole HTTP/1.1 message: its head, and its
// body by Content-Length (none without) or chunked to the last chunk.
bool HoldsWholeMessage(const std::string& bytes);

// `s` in lower case (ASCII).
std::string Lower(std::string s);

class RawClient {
 public:
  RawClient();
  ~RawClient();
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  RawClient(RawClient&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

  bool Connect(std::uint16_t port);  // on 127.0.0.1
  bool Send(std::string_view bytes) { return SendAll(fd_, bytes); }
  // What arrives until the server closes (`closed`) or `timeout` passes.
  std::string ReadUntilClose(std::chrono::milliseconds timeout, bool* closed = nullptr);
  // One response (HoldsWholeMessage), or what came before `timeout`.
  std::string ReadResponse(std::chrono::milliseconds timeout);
  void Close();
  int fd() const { return fd_; }

 private:
  int fd_;
};

}  // namespace firebreak::http

#include "firebreak/http/raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>

namespace firebreak::http {

bool SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) {
      return false;
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

bool ReadUntil(int fd, std::string& out, const std::function<bool(const std::string&)>& done,
               std::chrono::milliseconds timeout, bool* closed) {
  using std::chrono::milliseconds;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (closed != nullptr) {
    *closed = false;
  }
  while (!done(out)) {
    const auto left =
        std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      return false;
    }
    char buffer[65536];
    const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      if (closed != nullptr) {
        *closed = true;
      }
      return done(out);
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

bool HoldsWholeMessage(const std::string& bytes) {
  const std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    return false;
  }
  const std::string head = Lower(bytes.substr(0, head_end + 2));
  if (head.find("transfer-encoding: chunked\r\n") != std::string::npos) {
    return bytes.find("\r\n0\r\n\r\n", head_end) != std::string::npos;
  }
  const std::size_t at = head.find("content-length: ");
  const std::size_t length = at == std::string::npos ? 0 : std::stoul(head.substr(at + 16));
  return bytes.size() >= head_end + 4 + length;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

RawClient::RawClient() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {}

RawClient::~RawClient() { Close(); }

bool RawClient::Connect(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

std::string RawClient::ReadUntilClose(std::chrono::milliseconds timeout, bool* closed) {
  std::string out;
  ReadUntil(
      fd_, out, [](const std::string&) { return false; }, timeout, closed);
  return out;
}

std::string RawClient::ReadResponse(std::chrono::milliseconds timeout) {
  std::string out;
  ReadUntil(fd_, out, HoldsWholeMessage, timeout);
  return out;
}

void RawClient::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

}  // namespace firebreak::http

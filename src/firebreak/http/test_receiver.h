// A real local HTTP server for tests: accepts on 127.0.0.1 (port 0 = any),
// records every request and answers with a configurable status. Stop() and
// Start(same port) simulate a receiver that is down and comes back.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace firebreak::http {

struct ReceivedRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class TestReceiver {
 public:
  TestReceiver();
  ~TestReceiver();

  // Returns the bound port (0 on failure).
  unsigned short Start(unsigned short port = 0);
  void Stop();

  void set_status(int status);
  std::vector<ReceivedRequest> requests() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace firebreak::http

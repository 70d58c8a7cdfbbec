// An http:// or https:// URL split into what a connection needs.
#pragma once

#include <string>

#include "firebreak/base/status.h"

namespace firebreak::http {

struct Url {
  bool tls = false;
  std::string host;
  std::string port;  // 80 or 443 unless given
  std::string path;  // path and query; "/" at least
  // scheme://host:port, the key of a connection pool.
  std::string origin() const { return (tls ? "https://" : "http://") + host + ":" + port; }
};

// InvalidArgument for anything but an absolute http(s) URL with a host.
base::StatusOr<Url> ParseUrl(const std::string& url);

}  // namespace firebreak::http

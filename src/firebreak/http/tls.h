// TLS toward a server Firebreak calls (an upstream, an alert target), decided
// in one place: the peer's certificate verified against the system CAs and
// its name against the host asked for, which is also sent as SNI. Internal to
// http: the upstream client (upstream_client.cc) and the blocking client
// (client.cc) use it.
#pragma once

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/system/error_code.hpp>
#include <string>

namespace firebreak::http {

// A context whose connections verify their peer against the system CAs.
inline boost::asio::ssl::context ClientTlsContext() {
  boost::asio::ssl::context tls(boost::asio::ssl::context::tls_client);
  tls.set_default_verify_paths();
  tls.set_verify_mode(boost::asio::ssl::verify_peer);
  return tls;
}

// Before the handshake on `stream` (an SSL stream of such a context): sends
// `host` as SNI and accepts only a certificate for `host`.
template <class SslStream>
boost::system::error_code VerifyPeerAs(SslStream& stream, const std::string& host) {
  if (!SSL_set_tlsext_host_name(stream.native_handle(), host.c_str())) {
    return {static_cast<int>(::ERR_get_error()), boost::asio::error::get_ssl_category()};
  }
  stream.set_verify_callback(boost::asio::ssl::host_name_verification(host));
  return {};
}

}  // namespace firebreak::http

#include "firebreak/http/test_receiver.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cctype>
#include <thread>

namespace firebreak::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct TestReceiver::Impl {
  mutable std::mutex mutex;
  std::vector<ReceivedRequest> requests;
  std::atomic<int> status{200};
  std::unique_ptr<asio::io_context> io;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;

  void Accept() {
    acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        return;
      }
      Serve(std::move(socket));
      Accept();
    });
  }

  // One request per connection, served synchronously: tests send few.
  void Serve(tcp::socket socket) {
    beast::error_code ec;
    beast::flat_buffer buffer;
    bhttp::request<bhttp::string_body> req;
    bhttp::read(socket, buffer, req, ec);
    if (ec) {
      return;
    }
    ReceivedRequest r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& field : req) {
      std::string name(field.name_string());
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      r.headers[name] = std::string(field.value());
    }
    r.body = req.body();
    {
      std::lock_guard lock(mutex);
      requests.push_back(std::move(r));
    }
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(status.load()), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.body() = "{}";
    res.prepare_payload();
    bhttp::write(socket, res, ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
};

TestReceiver::TestReceiver() : impl_(std::make_unique<Impl>()) {}

TestReceiver::~TestReceiver() { Stop(); }

unsigned short TestReceiver::Start(unsigned short port) {
  Stop();
  impl_->io = std::make_unique<asio::io_context>();
  impl_->acceptor = std::make_unique<tcp::acceptor>(*impl_->io);
  beast::error_code ec;
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
  impl_->acceptor->open(endpoint.protocol(), ec);
  impl_->acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  impl_->acceptor->bind(endpoint, ec);
  if (ec) {
    return 0;
  }
  impl_->acceptor->listen(asio::socket_base::max_listen_connections, ec);
  const unsigned short bound = impl_->acceptor->local_endpoint().port();
  impl_->Accept();
  impl_->thread = std::thread([this] { impl_->io->run(); });
  return bound;
}

void TestReceiver::Stop() {
  if (impl_->io == nullptr) {
    return;
  }
  impl_->io->stop();
  if (impl_->thread.joinable()) {
    impl_->thread.join();
  }
  impl_->acceptor.reset();
  impl_->io.reset();
}

void TestReceiver::set_status(int status) { impl_->status = status; }

std::vector<ReceivedRequest> TestReceiver::requests() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->requests;
}

}  // namespace firebreak::http

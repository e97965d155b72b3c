#include "server/server.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "server/http_session.h"
#include "server/server_state.h"

namespace tern::server {
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {
constexpr auto kDrainPoll = std::chrono::milliseconds(20);
constexpr auto kAbortGrace = std::chrono::seconds(5);  // for aborted streams to end after the timeout
constexpr auto kAcceptRetry = std::chrono::milliseconds(50);
}  // namespace

// Lifecycle state (acceptor, signals, loading, draining) lives on one strand, `control`.
struct Server::Impl {
  explicit Impl(ServerConfig c)
      : config(std::move(c)),
        ioc(config.io_threads),
        control(asio::make_strand(ioc)),
        state(std::make_shared<ServerState>(config)),
        acceptor(control),
        signals(control, SIGINT, SIGTERM),
        timer(control) {}

  void listen();
  void accept();
  void on_signal(error_code ec, int signal);
  void on_loaded(std::shared_ptr<ServedModel> model, const std::string& error);
  void begin_shutdown();
  void poll_drain();
  void run_loop();

  ServerConfig config;
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> control;
  std::shared_ptr<ServerState> state;
  tcp::acceptor acceptor;
  asio::signal_set signals;
  asio::steady_timer timer;
  std::thread loader;
  std::atomic<bool> loader_done{false};
  std::shared_ptr<ServedModel> model;  // set once loaded
  int exit_code = 0;
  bool draining = false;
  bool engine_stopped = false;
  std::chrono::steady_clock::time_point drain_deadline;
};

void Server::Impl::listen() {
  error_code ec;
  tcp::resolver resolver(ioc);
  const auto endpoints = resolver.resolve(config.host, std::to_string(config.port), ec);
  if (ec || endpoints.empty()) throw error("cannot resolve --host ", config.host, ": ", ec.message());
  const tcp::endpoint endpoint = *endpoints.begin();
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw error("cannot listen on ", config.host, ":", config.port, ": ", ec.message());
  const tcp::endpoint bound = acceptor.local_endpoint();
  const std::string host =
      bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string();
  log_info("listening on http://", host, ":", bound.port());
  if (!config.api_key.empty()) log_info("API key required (Authorization: Bearer ...)");
}

void Server::Impl::accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](error_code ec, tcp::socket socket) {
    if (!acceptor.is_open()) return;
    if (ec) {
      // Out of file descriptors and the like: back off instead of spinning.
      log_warn("accept failed: ", ec.message());
      timer.expires_after(kAcceptRetry);
      timer.async_wait([this](error_code wait_ec) {
        if (!wait_ec && !draining) accept();
      });
      return;
    }
    std::make_shared<HttpSession>(std::move(socket), state)->start();
    accept();
  });
}

void Server::Impl::on_signal(error_code ec, int signal) {
  if (ec) return;
  if (draining) {
    log_warn("second signal (", signal, "): exiting now");
    std::fflush(stderr);
    std::_Exit(1);
  }
  log_info("signal ", signal, ": shutting down");
  begin_shutdown();
  signals.async_wait([this](error_code e, int s) { on_signal(e, s); });
}

void Server::Impl::on_loaded(std::shared_ptr<ServedModel> loaded, const std::string& error) {
  if (draining) return;  // shutting down already; the engine never starts
  if (!error.empty()) {
    log_error("loading the model failed: ", error);
    exit_code = 1;
    state->set_phase(ServerPhase::kFailed);
    begin_shutdown();
    return;
  }
  model = std::move(loaded);
  model->engine->start();
  state->set_model(model);
  state->set_phase(ServerPhase::kReady);
  log_info("model \"", model->id(), "\" ready (max_model_len ", model->max_model_len(), ")");
}

void Server::Impl::begin_shutdown() {
  draining = true;
  if (state->phase() != ServerPhase::kFailed) state->set_phase(ServerPhase::kDraining);
  error_code ec;
  acceptor.close(ec);
  timer.cancel();
  drain_deadline = std::chrono::steady_clock::now() + config.shutdown_timeout;
  const int64_t active = state->active_responses();
  if (active > 0) {
    log_info("waiting up to ", config.shutdown_timeout.count() / 1000.0, " s for ", active, " requests in flight");
  }
  poll_drain();
}

void Server::Impl::poll_drain() {
  const auto now = std::chrono::steady_clock::now();
  if (state->active_responses() <= 0) {
    ioc.stop();
    return;
  }
  if (!engine_stopped && now >= drain_deadline) {
    engine_stopped = true;
    if (model) {
      log_info("shutdown timeout: aborting ", state->active_responses().load(), " requests");
      model->engine->stop();  // every request ends with "abort"; their streams close
    }
  }
  if (now >= drain_deadline + kAbortGrace) {
    log_warn("responses still open after the shutdown timeout; closing them");
    ioc.stop();
    return;
  }
  timer.expires_after(kDrainPoll);
  timer.async_wait([this](error_code ec) {
    if (!ec) poll_drain();
  });
}

// An exception escaping a handler must not take an event-loop thread down with it.
void Server::Impl::run_loop() {
  while (true) {
    try {
      ioc.run();
      return;
    } catch (const std::exception& e) {
      log_error("event loop: unexpected exception: ", e.what());
    }
  }
}

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() = default;

int Server::run(ModelLoader load) {
  Impl& s = *impl_;
  s.listen();
  s.accept();
  s.signals.async_wait([&s](error_code e, int signal) { s.on_signal(e, signal); });
  s.loader = std::thread([&s, load = std::move(load)] {
    std::shared_ptr<ServedModel> model;
    std::string error;
    try {
      model = load();
    } catch (const std::exception& e) {
      error = e.what();
      if (error.empty()) error = "unknown error";
    }
    s.loader_done = true;
    asio::post(s.control, [&s, model, error] { s.on_loaded(model, error); });
  });

  std::vector<std::thread> threads;
  for (int i = 1; i < s.config.io_threads; ++i) threads.emplace_back([&s] { s.run_loop(); });
  s.run_loop();
  for (std::thread& t : threads) t.join();
  s.state->preprocess_pool().stop();
  if (s.model) s.model->engine->stop();
  if (!s.loader_done) {
    // Loading cannot be interrupted; nothing is left to clean up but the process.
    log_info("exiting while the model is still loading");
    std::fflush(stderr);
    std::_Exit(s.exit_code);
  }
  s.loader.join();
  log_info("server stopped");
  return s.exit_code;
}

}  // namespace tern::server

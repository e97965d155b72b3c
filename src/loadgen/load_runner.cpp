#include "loadgen/load_runner.h"

#include <unistd.h>

#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <deque>
#include <random>

namespace tern::loadgen {
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

namespace {

Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

class Runner {
 public:
  Runner(const StreamClientConfig& client, const RequestSettings& settings, const std::vector<BenchPrompt>& prompts,
         const LoadSpec& spec)
      : client_(io_, client),
        settings_(settings),
        prompts_(prompts),
        spec_(spec),
        arrival_timer_(io_),
        progress_timer_(io_),
        tty_(isatty(STDERR_FILENO) != 0) {
    run_.records.resize(prompts.size());
    client_.set_on_token([this] { ++token_chunks_; });
  }

  LoadRun run() {
    start_ = Clock::now();
    if (spec_.request_rate > 0) {
      schedule_arrivals();
    } else {
      for (size_t i = 0; i < prompts_.size(); ++i) waiting_.push_back(i);
      dispatch();
    }
    if (spec_.progress && tty_) tick();
    io_.run();
    run_.duration_s = std::chrono::duration<double>(end_ - start_).count();
    if (spec_.progress) {
      print_progress();
      if (tty_) std::fputc('\n', stderr);
    }
    return std::move(run_);
  }

 private:
  double elapsed_s() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

  // Exponential gaps (a Poisson process), drawn up front so the seed fixes the schedule.
  void schedule_arrivals() {
    std::mt19937_64 rng(spec_.seed);
    std::exponential_distribution<double> gap(spec_.request_rate);
    double t = 0;
    for (size_t i = 0; i < prompts_.size(); ++i) {
      arrivals_.push_back(t);
      t += gap(rng);
    }
    next_arrival();
  }

  void next_arrival() {
    while (arrived_ < prompts_.size() && arrivals_[arrived_] <= elapsed_s()) waiting_.push_back(arrived_++);
    dispatch();
    if (arrived_ == prompts_.size()) return;
    arrival_timer_.expires_at(start_ + seconds(arrivals_[arrived_]));
    arrival_timer_.async_wait([this](error_code ec) {
      if (!ec) next_arrival();
    });
  }

  void dispatch() {
    while (!waiting_.empty() && (spec_.concurrency <= 0 || in_flight_ < spec_.concurrency)) {
      const size_t i = waiting_.front();
      waiting_.pop_front();
      ++in_flight_;
      run_.max_in_flight = std::max(run_.max_in_flight, in_flight_);
      const double sent_s = elapsed_s();
      const BenchPrompt& p = prompts_[i];
      client_.send(endpoint_path(settings_.endpoint), request_body(settings_, p), settings_.endpoint,
                   p.num_prompt_tokens, [this, i, sent_s](RequestRecord r) { on_done(i, sent_s, std::move(r)); });
    }
  }

  void on_done(size_t i, double sent_s, RequestRecord r) {
    r.start_s = sent_s;
    failed_ += r.ok ? 0 : 1;
    run_.records[i] = std::move(r);
    --in_flight_;
    ++finished_;
    if (finished_ == prompts_.size()) {
      end_ = Clock::now();
      io_.stop();  // abandons keep-alive drains and idle connections
      return;
    }
    dispatch();
    // Without a terminal, a line at every tenth of the run (run() prints the last).
    if (spec_.progress && !tty_ && finished_ * 10 / prompts_.size() != (finished_ - 1) * 10 / prompts_.size()) {
      print_progress();
    }
  }

  void tick() {
    print_progress();
    progress_timer_.expires_after(std::chrono::milliseconds(500));
    progress_timer_.async_wait([this](error_code ec) {
      if (!ec) tick();
    });
  }

  void print_progress() const {
    const double t = finished_ == prompts_.size() ? std::chrono::duration<double>(end_ - start_).count() : elapsed_s();
    std::fprintf(stderr, "%s%s%zu/%zu done, %d in flight, %zu failed, %.1f s, %.0f text chunks/s%s",
                 tty_ ? "\r" : "", spec_.label.empty() ? "" : (spec_.label + ": ").c_str(), finished_,
                 prompts_.size(), in_flight_, failed_, t, t > 0 ? double(token_chunks_) / t : 0.0,
                 tty_ ? "\x1b[K" : "\n");
    std::fflush(stderr);
  }

  asio::io_context io_;  // first: destroyed last, after everything that holds its objects
  StreamClient client_;
  const RequestSettings& settings_;
  const std::vector<BenchPrompt>& prompts_;
  const LoadSpec& spec_;
  asio::steady_timer arrival_timer_, progress_timer_;
  const bool tty_;
  Clock::time_point start_, end_;
  std::vector<double> arrivals_;
  size_t arrived_ = 0;
  std::deque<size_t> waiting_;
  int32_t in_flight_ = 0;
  size_t finished_ = 0, failed_ = 0;
  int64_t token_chunks_ = 0;
  LoadRun run_;
};

}  // namespace

LoadRun run_load(const StreamClientConfig& client, const RequestSettings& settings,
                 const std::vector<BenchPrompt>& prompts, const LoadSpec& spec) {
  if (prompts.empty()) return {};
  Runner runner(client, settings, prompts, spec);
  return runner.run();
}

}  // namespace tern::loadgen

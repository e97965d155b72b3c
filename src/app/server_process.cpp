#include "app/server_process.h"

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "base/error.h"
#include "loadgen/http_fetch.h"
#include "loadgen/prometheus_text.h"

namespace tern::app {
namespace {

std::vector<std::string> serve_args(const std::vector<std::string>& flags) {
  std::vector<std::string> args = {"serve", "--host", "127.0.0.1", "--port", "0"};
  args.insert(args.end(), flags.begin(), flags.end());
  return args;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace

ServerProcess::ServerProcess(const std::vector<std::string>& flags, const std::string& log_path, double timeout_s)
    : child_(serve_args(flags), log_path) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                                        std::chrono::duration<double>(timeout_s));
  const std::regex listening(R"(listening on (http://[^\s]+))");
  const std::regex backend(R"( on backend (\w+))");
  const auto fail = [&](const std::string& why) {
    child_.stop(10.0);
    return error("tern serve ", why, "; the end of its log (", child_.log_path(), "):\n", child_.log_tail());
  };
  for (;;) {
    if (!child_.running()) throw fail("exited before it was ready");
    if (Clock::now() > deadline) throw fail("was not ready within " + std::to_string(int(timeout_s)) + " s");
    if (url_.empty()) {
      const std::string log = read_file(child_.log_path());
      std::smatch m;
      if (std::regex_search(log, m, listening)) url_ = m[1];
      if (std::regex_search(log, m, backend)) backend_ = m[1];
    } else {
      try {
        if (loadgen::http_fetch(loadgen::parse_http_url(url_), "GET", "/health", 5).status == 200) {
          if (backend_.empty()) {
            std::smatch m;
            const std::string log = read_file(child_.log_path());
            if (std::regex_search(log, m, backend)) backend_ = m[1];
          }
          return;
        }
      } catch (const Error&) {
        // not answering yet
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::map<std::string, double> ServerProcess::metrics() const {
  const loadgen::FetchResult r = loadgen::http_fetch(loadgen::parse_http_url(url_), "GET", "/metrics", 30);
  if (r.status != 200) throw error("GET ", url_, "/metrics answered ", r.status);
  return loadgen::parse_prometheus_text(r.body);
}

}  // namespace tern::app

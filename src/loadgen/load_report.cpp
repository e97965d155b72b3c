#include "loadgen/load_report.h"

#include <cstdio>

#include "loadgen/latency_summary.h"

namespace tern::loadgen {

nlohmann::json make_report(const LoadRun& run, const Slo& slo) {
  std::vector<double> ttft, tpot, itl, e2e;
  int64_t completed = 0, input_tokens = 0, output_tokens = 0, good = 0, from_usage = 0;
  nlohmann::json errors = nlohmann::json::object();
  for (const RequestRecord& r : run.records) {
    if (!r.ok) {
      nlohmann::json& e = errors[r.error_class];
      if (e.is_null()) e = {{"count", 0}, {"example", r.error_message}};
      e["count"] = e["count"].get<int64_t>() + 1;
      continue;
    }
    ++completed;
    from_usage += r.tokens_from_usage ? 1 : 0;
    input_tokens += r.prompt_tokens;
    output_tokens += r.output_tokens;
    ttft.push_back(1000 * r.ttft_s);
    e2e.push_back(1000 * r.e2e_s);
    for (double gap : r.itl_s) itl.push_back(1000 * gap);
    const bool has_tpot = r.output_tokens > 1;
    const double request_tpot = has_tpot ? 1000 * (r.e2e_s - r.ttft_s) / double(r.output_tokens - 1) : 0.0;
    if (has_tpot) tpot.push_back(request_tpot);
    const bool ttft_ok = slo.ttft_ms <= 0 || 1000 * r.ttft_s <= slo.ttft_ms;
    const bool tpot_ok = slo.tpot_ms <= 0 || !has_tpot || request_tpot <= slo.tpot_ms;
    good += ttft_ok && tpot_ok ? 1 : 0;
  }
  const double d = run.duration_s > 0 ? run.duration_s : 1e-9;
  nlohmann::json out = {
      {"completed", completed},
      {"failed", int64_t(run.records.size()) - completed},
      {"errors", errors},
      {"duration_s", run.duration_s},
      {"requests_per_min", 60.0 * double(completed) / d},
      {"requests_per_s", double(completed) / d},
      {"input_tokens", input_tokens},
      {"output_tokens", output_tokens},
      {"output_tokens_per_s", double(output_tokens) / d},
      {"total_tokens_per_s", double(input_tokens + output_tokens) / d},
      {"ttft_ms", to_json(summarize(std::move(ttft)))},
      {"tpot_ms", to_json(summarize(std::move(tpot)))},
      {"itl_ms", to_json(summarize(std::move(itl)))},
      {"e2e_ms", to_json(summarize(std::move(e2e)))},
      {"max_in_flight", run.max_in_flight},
      {"output_tokens_from", completed == 0          ? "none"
                             : from_usage == completed ? "usage"
                             : from_usage == 0         ? "chunks"
                                                       : "mixed"},
  };
  if (slo.ttft_ms > 0 || slo.tpot_ms > 0) {
    out["goodput"] = {{"slo_ttft_ms", slo.ttft_ms > 0 ? nlohmann::json(slo.ttft_ms) : nlohmann::json()},
                      {"slo_tpot_ms", slo.tpot_ms > 0 ? nlohmann::json(slo.tpot_ms) : nlohmann::json()},
                      {"requests", good},
                      {"requests_per_min", 60.0 * double(good) / d},
                      {"fraction", run.records.empty() ? 0.0 : double(good) / double(run.records.size())}};
  }
  return out;
}

namespace {

void line(std::string& out, const char* name, const std::string& value) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-34s %s\n", name, value.c_str());
  out += buf;
}

std::string number(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

}  // namespace

std::string format_report(const nlohmann::json& r) {
  std::string out = "---------------- serving benchmark ----------------\n";
  line(out, "completed requests", std::to_string(r["completed"].get<int64_t>()));
  line(out, "failed requests", std::to_string(r["failed"].get<int64_t>()));
  for (const auto& [name, e] : r["errors"].items()) {
    line(out, ("  " + name).c_str(),
         std::to_string(e["count"].get<int64_t>()) + " (e.g. " + e["example"].get<std::string>() + ")");
  }
  line(out, "duration (s)", number(r["duration_s"]));
  line(out, "throughput (requests/min)", number(r["requests_per_min"]));
  line(out, "output tokens/s", number(r["output_tokens_per_s"], 1));
  line(out, "total tokens/s (prompt + output)", number(r["total_tokens_per_s"], 1));
  line(out, "input / output tokens", std::to_string(r["input_tokens"].get<int64_t>()) + " / " +
                                         std::to_string(r["output_tokens"].get<int64_t>()) + " (output from " +
                                         r["output_tokens_from"].get<std::string>() + ")");
  if (r.contains("goodput")) {
    const auto& g = r["goodput"];
    line(out, "goodput (requests/min within SLO)",
         number(g["requests_per_min"]) + " (" + number(100 * g["fraction"].get<double>(), 1) + "% of requests)");
  }
  out += "                                   mean     median    p95       p99\n";
  for (const auto& [key, title] : {std::pair{"ttft_ms", "time to first token (ms)"},
                                   std::pair{"tpot_ms", "time per output token (ms)"},
                                   std::pair{"itl_ms", "inter-token latency (ms)"},
                                   std::pair{"e2e_ms", "end-to-end latency (ms)"}}) {
    const auto& s = r[key];
    char buf[256];
    std::snprintf(buf, sizeof buf, "%-34s %-9.2f %-9.2f %-9.2f %.2f\n", title, s["mean"].get<double>(),
                  s["median"].get<double>(), s["p95"].get<double>(), s["p99"].get<double>());
    out += buf;
  }
  out += "---------------------------------------------------\n";
  return out;
}

}  // namespace tern::loadgen

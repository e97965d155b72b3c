#include "server/metrics.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/request_rejected.h"

namespace tern::server {
namespace {

std::string format_value(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

double seconds_between(RequestTimes::Clock::time_point from, RequestTimes::Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

void scalar(std::string& out, const char* type, const std::string& name, const std::string& help, double value) {
  out +=
      "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name + " " + format_value(value) + "\n";
}

// Latency buckets (seconds) wide enough for a tiny CPU model and a 7B model on a GPU.
std::vector<double> fast_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0};
}
std::vector<double> slow_buckets() {
  return {0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 240.0, 480.0};
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), counts_(upper_bounds_.size() + 1, 0) {}

void Histogram::observe(double value, uint64_t times) {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  counts_[static_cast<size_t>(it - upper_bounds_.begin())] += times;
  sum_ += value * static_cast<double>(times);
  count_ += times;
}

void Histogram::render(const std::string& name, const std::string& help, std::string& out) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += name + "_bucket{le=\"" + format_value(upper_bounds_[i]) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_bucket{le=\"+Inf\"} " + std::to_string(count_) + "\n";
  out += name + "_sum " + format_value(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

ServerMetrics::ServerMetrics()
    : time_to_first_token_(fast_buckets()),
      inter_token_latency_(fast_buckets()),
      e2e_request_latency_(slow_buckets()),
      request_queue_time_(slow_buckets()) {}

void ServerMetrics::observe_request(const RequestTimes& times) {
  std::lock_guard lock(mutex_);
  const bool got_token = times.first_token != RequestTimes::Clock::time_point{};
  if (times.first_scheduled != RequestTimes::Clock::time_point{}) {
    request_queue_time_.observe(seconds_between(times.arrival, times.first_scheduled));
  }
  e2e_request_latency_.observe(seconds_between(times.arrival, times.finished));
  if (!got_token) return;
  time_to_first_token_.observe(seconds_between(times.arrival, times.first_token));
}

void ServerMetrics::observe_token_gap(RequestTimes::Clock::time_point previous, RequestTimes::Clock::time_point now,
                                      uint64_t tokens) {
  if (tokens == 0) return;
  std::lock_guard lock(mutex_);
  inter_token_latency_.observe(seconds_between(previous, now) / static_cast<double>(tokens), tokens);
}

void ServerMetrics::count_prompt_tokens(int64_t n) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += n;
}

void ServerMetrics::count_client_disconnect() {
  std::lock_guard lock(mutex_);
  ++client_disconnects_;
}

void ServerMetrics::count_shed(ShedReason reason) {
  std::lock_guard lock(mutex_);
  ++shed_[static_cast<size_t>(reason)];
}

std::string ServerMetrics::render(const EngineStats* stats, const IntakeStats& intake) const {
  std::string out;
  {
    std::lock_guard lock(mutex_);
    time_to_first_token_.render("tern_time_to_first_token_seconds", "Time from arrival to the first token.", out);
    inter_token_latency_.render("tern_inter_token_latency_seconds",
                                "Time between a completion's consecutive output tokens, as the engine sampled them.",
                                out);
    e2e_request_latency_.render("tern_e2e_request_latency_seconds", "Time from arrival to the last token.", out);
    request_queue_time_.render("tern_request_queue_time_seconds", "Time from arrival to the first scheduled step.",
                               out);
    scalar(out, "counter", "tern_prompt_tokens_total", "Prompt tokens of admitted requests.",
           static_cast<double>(prompt_tokens_));
    scalar(out, "counter", "tern_client_disconnects_total", "Requests aborted because the client went away.",
           static_cast<double>(client_disconnects_));
    out +=
        "# HELP tern_requests_shed_total Requests refused with 503 before they were prepared.\n"
        "# TYPE tern_requests_shed_total counter\n";
    out += "tern_requests_shed_total{reason=\"preprocess_queue\"} " + std::to_string(shed_[0]) + "\n";
    out += "tern_requests_shed_total{reason=\"body_bytes\"} " + std::to_string(shed_[1]) + "\n";
  }
  scalar(out, "gauge", "tern_preprocess_queued", "Requests waiting for a preprocessing thread.",
         static_cast<double>(intake.preprocess_queued));
  scalar(out, "gauge", "tern_request_body_bytes", "Bytes of request bodies held (being received or prepared).",
         static_cast<double>(intake.body_bytes));
  const EngineStats none;
  const EngineStats& s = stats ? *stats : none;
  scalar(out, "gauge", "tern_model_loaded", "1 once the model is loaded and the engine runs.", stats ? 1 : 0);
  scalar(out, "gauge", "tern_engine_healthy", "0 after a model step has failed.", s.healthy ? 1 : 0);
  scalar(out, "gauge", "tern_requests_running", "Sequences in the running batch.", s.num_running_seqs);
  scalar(out, "gauge", "tern_requests_waiting", "Sequences waiting to run (queued or preempted).", s.num_waiting_seqs);
  scalar(out, "gauge", "tern_requests_running_max", "Most sequences in the running batch at once since the start.",
         s.max_running_seqs);
  scalar(out, "gauge", "tern_kv_cache_usage_ratio", "Fraction of KV cache blocks held by sequences.", s.kv_usage);
  scalar(out, "gauge", "tern_kv_cache_blocks_total", "KV cache blocks.", s.num_kv_blocks);
  scalar(out, "gauge", "tern_kv_cache_blocks_free", "KV cache blocks held by no sequence.",
         s.num_kv_blocks - s.num_used_kv_blocks);
  scalar(out, "gauge", "tern_kv_cache_blocks_used_max", "Most KV cache blocks held by sequences at once.",
         s.max_used_kv_blocks);
  const ExecutorMemory& m = s.memory;
  scalar(out, "gauge", "tern_memory_peak_bytes",
         "Weights, activation workspace and the most KV cache blocks held at once, in bytes.",
         static_cast<double>(m.weights_bytes + m.workspace_bytes + m.kv_block_bytes * s.max_used_kv_blocks));
  scalar(out, "gauge", "tern_device_memory_used_bytes",
         "Device memory in use once the model was set up (whole KV pool included; 0 on the CPU).",
         static_cast<double>(m.device_used_bytes));
  scalar(out, "gauge", "tern_device_memory_total_bytes", "The device's memory (0 on the CPU).",
         static_cast<double>(m.device_total_bytes));
  scalar(out, "counter", "tern_generation_tokens_total", "Output tokens sampled.",
         static_cast<double>(s.num_generated_tokens));
  scalar(out, "counter", "tern_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.",
         static_cast<double>(s.prefix_cache_queried_tokens));
  scalar(out, "counter", "tern_prefix_cache_hits_total", "Prompt tokens found in the prefix cache.",
         static_cast<double>(s.prefix_cache_hit_tokens));
  scalar(out, "counter", "tern_preemptions_total", "Sequences preempted to free KV cache blocks.",
         static_cast<double>(s.num_preemptions));
  scalar(out, "counter", "tern_prefill_chunks_cut_total",
         "Prompt chunks cut short to keep decoding steps within --target-itl-ms.",
         static_cast<double>(s.num_prefill_chunks_cut));
  scalar(out, "counter", "tern_kv_block_copies_total", "KV cache blocks copied on a write into a shared block.",
         static_cast<double>(s.num_kv_block_copies));
  scalar(out, "counter", "tern_numerical_errors_total", "Sequences ended by NaN or Inf logits.",
         static_cast<double>(s.num_numerical_errors));
  scalar(out, "counter", "tern_spec_draft_tokens_total", "Speculative draft tokens verified.",
         static_cast<double>(s.speculation.num_draft_tokens));
  scalar(out, "counter", "tern_spec_accepted_tokens_total", "Speculative draft tokens accepted.",
         static_cast<double>(s.speculation.num_accepted_tokens));
  {
    // Per verifying sequence-step, how many drafts were accepted: le="a" counts steps that
    // accepted at most a (each such step gave a + 1 tokens).
    const SpeculationStats& spec = s.speculation;
    const std::string name = "tern_spec_accepted_per_step";
    out += "# HELP " + name +
           " Draft tokens accepted in one sequence's verification step (it gave one token more).\n# TYPE " + name +
           " histogram\n";
    int64_t cumulative = 0;
    for (size_t a = 0; a < spec.accepted_per_step.size(); ++a) {
      cumulative += spec.accepted_per_step[a];
      out += name + "_bucket{le=\"" + std::to_string(a) + "\"} " + std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(cumulative) + "\n" + name + "_sum " +
           std::to_string(spec.num_accepted_tokens) + "\n" + name + "_count " + std::to_string(cumulative) + "\n";
  }
  {
    // Structured output's per-sequence, per-step mask time, as a histogram in seconds.
    const MaskTimes& t = s.mask_times;
    const std::string name = "tern_structured_output_mask_seconds";
    out += "# HELP " + name + " Time to make one sequence's token mask for one step (structured output).\n# TYPE " +
           name + " histogram\n";
    int64_t cumulative = 0;
    for (size_t i = 0; i < MaskTimes::kUpperBoundsUs.size(); ++i) {
      cumulative += t.counts[i];
      out += name + "_bucket{le=\"" + format_value(MaskTimes::kUpperBoundsUs[i] * 1e-6) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += name + "_bucket{le=\"+Inf\"} " + std::to_string(t.count) + "\n" + name + "_sum " +
           format_value(t.sum_us * 1e-6) + "\n" + name + "_count " + std::to_string(t.count) + "\n";
  }
  out += "# HELP tern_requests_total Finished sequences by finish reason.\n# TYPE tern_requests_total counter\n";
  for (FinishReason r : {FinishReason::kStop, FinishReason::kLength, FinishReason::kAbort, FinishReason::kError}) {
    out += std::string("tern_requests_total{finish_reason=\"") + finish_reason_name(r) + "\"} " +
           std::to_string(s.num_finished_seqs[static_cast<size_t>(r)]) + "\n";
  }
  out +=
      "# HELP tern_requests_rejected_total Requests the engine refused at admission.\n"
      "# TYPE tern_requests_rejected_total counter\n";
  for (RejectReason r : {RejectReason::kInvalid, RejectReason::kContextLength, RejectReason::kKvCapacity,
                         RejectReason::kBusy, RejectReason::kUnavailable}) {
    out += std::string("tern_requests_rejected_total{reason=\"") + reject_reason_name(r) + "\"} " +
           std::to_string(s.num_rejected[static_cast<size_t>(r)]) + "\n";
  }
  return out;
}

}  // namespace tern::server

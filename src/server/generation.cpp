#include "server/generation.h"

#include "base/log.h"

namespace tern::server {

Generation::Generation(std::shared_ptr<const ServedModel> model, ValidRequest request,
                       std::unique_ptr<ChunkBuilder> builder, std::unique_ptr<GenerationSink> sink,
                       std::shared_ptr<ResponseChannel> channel, ServerMetrics& metrics, std::string request_id,
                       std::chrono::milliseconds keep_alive_interval)
    : model_(std::move(model)),
      request_(std::move(request)),
      builder_(std::move(builder)),
      sink_(std::move(sink)),
      channel_(std::move(channel)),
      metrics_(metrics),
      request_id_(std::move(request_id)),
      keep_alive_interval_(keep_alive_interval) {}

Generation::~Generation() {
  if (!ended_) abort_unfinished();
}

void Generation::start() {
  Engine& engine = *model_->engine;
  const size_t n = static_cast<size_t>(request_.params.n);
  try {
    for (ValidPrompt& prompt : request_.prompts) {
      SamplingParams params = request_.params;
      params.max_tokens = prompt.max_tokens;
      const int64_t num_prompt_tokens = static_cast<int64_t>(prompt.token_ids.size());
      RequestHandle handle = engine.add_request(std::move(prompt.token_ids), std::move(params), request_.priority);
      metrics_.count_prompt_tokens(num_prompt_tokens);
      parts_.push_back(Part{.request_id = handle.request_id(),
                            .handle = std::make_unique<RequestHandle>(std::move(handle)),
                            .last_sampled_at = std::vector<RequestTimes::Clock::time_point>(n)});
    }
  } catch (...) {
    abort_unfinished();
    parts_.clear();
    ended_ = true;
    throw;
  }
  num_unfinished_ = parts_.size();
  chunks_.clear();
  builder_->begin(chunks_);
  for (const Json& chunk : chunks_) sink_->chunk(chunk);
  const std::weak_ptr<Generation> weak = weak_from_this();
  for (Part& part : parts_) {
    part.handle->set_notifier([weak] {
      if (const std::shared_ptr<Generation> self = weak.lock()) self->schedule_drain();
    });
  }
  schedule_keep_alive();
}

void Generation::schedule_keep_alive() {
  if (keep_alive_interval_.count() <= 0 || ended_) return;
  channel_->post_after(keep_alive_interval_, [weak = weak_from_this()] {
    if (const std::shared_ptr<Generation> self = weak.lock()) self->keep_alive();
  });
}

void Generation::keep_alive() {
  if (ended_) return;
  if (!sent_since_keep_alive_) sink_->keep_alive();
  sent_since_keep_alive_ = false;
  schedule_keep_alive();
}

void Generation::cancel() {
  if (ended_) return;
  ended_ = true;
  abort_unfinished();
  metrics_.count_client_disconnect();
}

void Generation::schedule_drain() {
  if (drain_scheduled_.exchange(true)) return;
  channel_->post([self = shared_from_this()] { self->drain(); });
}

void Generation::drain() {
  // Cleared before reading, so a delta pushed from here on posts another drain.
  drain_scheduled_ = false;
  for (size_t i = 0; i < parts_.size() && !ended_; ++i) {
    while (!ended_ && !parts_[i].finished) {
      std::optional<RequestOutput> out = parts_[i].handle->try_next();
      if (!out) break;
      take(i, *out);
    }
  }
  if (ended_ || num_unfinished_ > 0) return;
  ended_ = true;
  if (!request_.stream || request_.include_usage) sink_->chunk(builder_->usage_chunk(usage_));
  sink_->done();
}

void Generation::take(size_t part_index, const RequestOutput& out) {
  Part& part = parts_[part_index];
  if (out.finish_reason == FinishReason::kError) {
    ended_ = true;
    abort_unfinished();
    if (out.numerical_error) {
      log_warn("request ", request_id_, ": NaN or Inf logits; the request failed: ", out.error);
      sink_->fail(ApiError(ApiErrorKind::kInternal,
                           "The model produced NaN or Inf logits for request " + request_id_ +
                               "; it was stopped rather than sampled from. Other requests are unaffected.",
                           std::nullopt, "numerical_error"));
    } else {
      sink_->fail(ApiError(ApiErrorKind::kInternal,
                           "The model failed while generating the response to request " + request_id_ + ".",
                           std::nullopt, "engine_failed"));
    }
    return;
  }
  chunks_.clear();
  builder_->add(static_cast<int32_t>(part_index) * request_.params.n + out.index, out, chunks_);
  for (const Json& chunk : chunks_) sink_->chunk(chunk);
  if (!chunks_.empty()) sent_since_keep_alive_ = true;
  if (!out.token_ids.empty()) {
    RequestTimes::Clock::time_point& last = part.last_sampled_at[static_cast<size_t>(out.index)];
    if (last != RequestTimes::Clock::time_point{})
      metrics_.observe_token_gap(last, out.sampled_at, out.token_ids.size());
    last = out.sampled_at;
  }
  if (!out.finished) return;
  part.finished = true;
  --num_unfinished_;
  usage_.prompt_tokens += out.usage.prompt_tokens;
  usage_.cached_prompt_tokens += out.usage.cached_prompt_tokens;
  usage_.completion_tokens += out.usage.generated_tokens;
  if (out.finish_reason != FinishReason::kAbort) metrics_.observe_request(out.times);
}

void Generation::abort_unfinished() {
  for (const Part& part : parts_) {
    if (!part.finished) model_->engine->abort(part.request_id);
  }
}

}  // namespace tern::server

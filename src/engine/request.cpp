#include "engine/request.h"

#include <algorithm>

#include "base/error.h"
#include "engine/request_rejected.h"

namespace tern {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop:
      return "stop";
    case FinishReason::kLength:
      return "length";
    case FinishReason::kAbort:
      return "abort";
    case FinishReason::kError:
      return "error";
  }
  return "unknown";
}

const char* reject_reason_name(RejectReason reason) {
  switch (reason) {
    case RejectReason::kInvalid:
      return "invalid";
    case RejectReason::kContextLength:
      return "context_length";
    case RejectReason::kKvCapacity:
      return "kv_capacity";
    case RejectReason::kBusy:
      return "busy";
    case RejectReason::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

int32_t Sequence::num_prompt_tokens() const { return request->num_prompt_tokens; }

std::span<const int32_t> Sequence::prompt_token_ids() const {
  return std::span<const int32_t>(token_ids).first(num_prompt_tokens());
}

std::span<const int32_t> Sequence::output_token_ids() const {
  return std::span<const int32_t>(token_ids).subspan(num_prompt_tokens());
}

std::unique_ptr<Request> Request::create(uint64_t request_id, std::vector<int32_t> prompt_token_ids,
                                         SamplingParams params, int32_t priority,
                                         std::span<const int32_t> eos_token_ids) {
  TERN_CHECK(params.seed.has_value(), "request ", request_id, ": the engine sets the seed before create()");
  auto request = std::make_unique<Request>();
  request->request_id = request_id;
  request->priority = priority;
  request->num_prompt_tokens = static_cast<int32_t>(prompt_token_ids.size());
  if (!params.ignore_eos) request->stop_token_ids.assign(eos_token_ids.begin(), eos_token_ids.end());
  for (int32_t id : params.stop_token_ids) {
    if (std::ranges::find(request->stop_token_ids, id) == request->stop_token_ids.end()) {
      request->stop_token_ids.push_back(id);
    }
  }
  request->params = std::move(params);
  if (request->params.prompt_logprobs >= 0)
    request->prompt_logprobs.resize(size_t(std::max<int32_t>(request->num_prompt_tokens - 1, 0)));

  auto leader = std::make_unique<Sequence>();
  leader->request = request.get();
  leader->seed = *request->params.seed;
  leader->token_ids = std::move(prompt_token_ids);
  if (request->params.grammar) leader->matcher = std::make_unique<grammar::Matcher>(request->params.grammar);
  request->seqs.push_back(std::move(leader));
  request->num_unfinished_seqs = 1;
  return request;
}

}  // namespace tern

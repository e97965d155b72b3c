// Why the engine refused a request at add_request(), before queueing it. The server maps
// the reason to an HTTP status (invalid / context length / capacity: 400; busy and
// unavailable: 503).
#pragma once

#include <string>

#include "base/error.h"

namespace tern {

enum class RejectReason {
  kInvalid,        // parameters the engine cannot run (empty prompt, n > max_num_seqs, ...)
  kContextLength,  // prompt + max_tokens exceeds max_model_len
  kKvCapacity,     // prompt + max_tokens needs more KV blocks than the whole pool
  kBusy,           // the waiting queue is full (max_waiting)
  kUnavailable,    // the engine is stopped or failed
};

const char* reject_reason_name(RejectReason reason);

class RequestRejected : public Error {
 public:
  RequestRejected(RejectReason reason, const std::string& message) : Error(message), reason_(reason) {}
  RejectReason reason() const { return reason_; }

 private:
  RejectReason reason_;
};

}  // namespace tern

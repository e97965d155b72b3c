// The non-streaming side of a generation: chunks go into a ResponseAggregator and the
// merged response is sent as one JSON body at the end (or the error, with its status).
#pragma once

#include <memory>

#include "server/generation.h"
#include "server/response_aggregator.h"
#include "server/response_channel.h"

namespace tern::server {

class JsonResponseWriter : public GenerationSink {
 public:
  JsonResponseWriter(RequestApi api, std::shared_ptr<ResponseChannel> channel)
      : aggregator_(api), channel_(std::move(channel)) {}
  void chunk(const Json& chunk) override { aggregator_.add(chunk); }
  void fail(const ApiError& error) override { channel_->send(error_response(error)); }
  void done() override;

 private:
  ResponseAggregator aggregator_;
  std::shared_ptr<ResponseChannel> channel_;
};

}  // namespace tern::server

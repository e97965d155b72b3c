#include "server/json_response_writer.h"

namespace tern::server {

void JsonResponseWriter::done() {
  HttpResponse response;
  response.body = aggregator_.response().dump(-1, ' ', false, Json::error_handler_t::replace);
  channel_->send(std::move(response));
}

}  // namespace tern::server

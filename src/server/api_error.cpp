#include "server/api_error.h"

#include "base/echo.h"
#include "base/log.h"
#include "engine/request_rejected.h"

namespace tern::server {

ApiError invalid_param(const std::string& param, const std::string& message) {
  return ApiError(ApiErrorKind::kInvalidRequest, param + ": " + message, param);
}

ApiError to_api_error(std::exception_ptr error, const std::string& request_id) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    return e;
  } catch (const RequestRejected& e) {
    switch (e.reason()) {
      case RejectReason::kInvalid:
        return ApiError(ApiErrorKind::kInvalidRequest, e.what());
      case RejectReason::kContextLength:
        return ApiError(ApiErrorKind::kInvalidRequest, e.what(), "max_tokens", "context_length_exceeded");
      case RejectReason::kKvCapacity:
        return ApiError(ApiErrorKind::kInvalidRequest, e.what(), "max_tokens", "kv_cache_capacity_exceeded");
      case RejectReason::kBusy:
        return ApiError(ApiErrorKind::kOverloaded,
                        "The server is overloaded: too many requests are waiting. Retry later.", std::nullopt,
                        "server_overloaded");
      case RejectReason::kUnavailable:
        return ApiError(ApiErrorKind::kUnavailable, "The engine has failed and accepts no requests.", std::nullopt,
                        "engine_failed");
    }
  } catch (const std::exception& e) {
    log_error("request ", request_id, ": internal error: ", e.what());
  } catch (...) {
    log_error("request ", request_id, ": internal error of unknown type");
  }
  return ApiError(ApiErrorKind::kInternal, "The server had an internal error while processing request " + request_id +
                                               ". Retry the request; report it if the error persists.");
}

unsigned http_status(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kInvalidRequest:
      return 400;
    case ApiErrorKind::kAuthentication:
      return 401;
    case ApiErrorKind::kForbidden:
      return 403;
    case ApiErrorKind::kNotFound:
      return 404;
    case ApiErrorKind::kMethodNotAllowed:
      return 405;
    case ApiErrorKind::kRequestTooLarge:
      return 413;
    case ApiErrorKind::kUnsupportedMediaType:
      return 415;
    case ApiErrorKind::kHeadersTooLarge:
      return 431;
    case ApiErrorKind::kOverloaded:
    case ApiErrorKind::kUnavailable:
      return 503;
    case ApiErrorKind::kInternal:
      return 500;
  }
  return 500;
}

const char* error_type(ApiErrorKind kind) {
  switch (kind) {
    case ApiErrorKind::kAuthentication:
      return "authentication_error";
    case ApiErrorKind::kForbidden:
      return "permission_error";
    case ApiErrorKind::kNotFound:
      return "not_found_error";
    case ApiErrorKind::kOverloaded:
    case ApiErrorKind::kUnavailable:
      return "service_unavailable";
    case ApiErrorKind::kInternal:
      return "server_error";
    default:
      return "invalid_request_error";
  }
}

nlohmann::ordered_json error_body(const ApiError& error) {
  // Quoted request bytes are cut where they are quoted (base/echo.h); this bounds what
  // any message, however it was built, can send back.
  constexpr size_t kMaxMessageBytes = 1024, kMaxParamBytes = 256;
  nlohmann::ordered_json e;
  e["message"] = echo(error.message(), kMaxMessageBytes);
  e["type"] = error_type(error.kind());
  e["param"] = error.param() ? nlohmann::ordered_json(echo(*error.param(), kMaxParamBytes)) : nullptr;
  e["code"] = error.code() ? nlohmann::ordered_json(*error.code()) : nullptr;
  return {{"error", std::move(e)}};
}

HttpResponse error_response(const ApiError& error) {
  HttpResponse response;
  response.status = http_status(error.kind());
  // Messages may quote request bytes; replace keeps the body valid UTF-8 whatever they are.
  response.body = error_body(error).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (error.kind() == ApiErrorKind::kOverloaded || error.kind() == ApiErrorKind::kUnavailable) {
    response.headers.emplace_back("Retry-After", "1");
  }
  if (error.kind() == ApiErrorKind::kAuthentication) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

}  // namespace tern::server

// Errors that cross the HTTP boundary. Validation and handlers throw ApiError (or let
// RequestRejected and other exceptions through); to_api_error() is the one place that maps
// an exception to an error kind, and error_response() the one place that maps a kind to a
// status and OpenAI's body {"error": {"message", "type", "param", "code"}}.
#pragma once

#include <exception>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "server/http_types.h"

namespace tern::server {

enum class ApiErrorKind {
  kInvalidRequest,        // 400 invalid_request_error
  kAuthentication,        // 401 authentication_error
  kForbidden,             // 403 permission_error
  kNotFound,              // 404 not_found_error
  kMethodNotAllowed,      // 405 invalid_request_error
  kRequestTooLarge,       // 413 invalid_request_error
  kUnsupportedMediaType,  // 415 invalid_request_error
  kHeadersTooLarge,       // 431 invalid_request_error
  kOverloaded,            // 503 service_unavailable (queue full), with Retry-After
  kUnavailable,           // 503 service_unavailable (loading, draining, engine failed), with Retry-After
  kInternal,              // 500 server_error; the message is fixed, never the exception's
};

class ApiError : public std::exception {
 public:
  ApiError(ApiErrorKind kind, std::string message, std::optional<std::string> param = std::nullopt,
           std::optional<std::string> code = std::nullopt)
      : kind_(kind), message_(std::move(message)), param_(std::move(param)), code_(std::move(code)) {}

  ApiErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  const std::optional<std::string>& param() const { return param_; }
  const std::optional<std::string>& code() const { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ApiErrorKind kind_;
  std::string message_;
  std::optional<std::string> param_;
  std::optional<std::string> code_;
};

// A 400 naming the offending field: invalid_param("temperature", "must be in [0, 2], got 3").
ApiError invalid_param(const std::string& param, const std::string& message);

// ApiError as is; RequestRejected by its reason (invalid, context length and KV capacity:
// 400; busy and unavailable: 503); anything else becomes kInternal with a fixed message
// naming `request_id` (the original text goes to the log, never to the client).
ApiError to_api_error(std::exception_ptr error, const std::string& request_id);

unsigned http_status(ApiErrorKind kind);
const char* error_type(ApiErrorKind kind);
nlohmann::ordered_json error_body(const ApiError& error);
HttpResponse error_response(const ApiError& error);

}  // namespace tern::server

// tern serve: the OpenAI-compatible HTTP server (docs/server.md). Listens at once, loads
// the model on a background thread (/health says 503 until it is ready), then serves
// /v1/completions, /v1/chat/completions, /v1/models, /tokenize, /detokenize, /health,
// /metrics, the chat page at / and the dashboard at /dashboard.
#include <cctype>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/engine_options.h"
#include "app/generation_config.h"
#include "base/error.h"
#include "base/log.h"
#include "base/regular_file.h"
#include "engine/grammar_vocabulary.h"
#include "server/server.h"
#include "tokenizer/chat_template.h"

namespace tern::app {
namespace {

struct ServeOptions {
  EngineOptions engine;
  server::ServerConfig server;
  std::string chat_template_file;
  std::string tool_call_parser;            // empty: from the chat template
  std::string generation_config = "auto";  // auto: the model's sampling defaults; ignore: none
  double idle_timeout_s = 30;
  double header_timeout_s = 10;
  double shutdown_timeout_s = 30;
  double write_timeout_s = 30;
  double sse_ping_interval_s = 10;
  std::string log_level = "info";
};

struct LoadedTemplate {
  std::unique_ptr<const ChatTemplate> compiled;  // null: none
  std::string source;
};

// The model's own template, or --chat-template's. A model without one (or with one that
// does not compile) still serves completions; chat requests then get a 400.
LoadedTemplate load_chat_template(const ServeOptions& o, const std::string& model_dir, const Tokenizer& tokenizer) {
  if (!o.chat_template_file.empty()) {
    ChatSpecialTokens special;
    if (const auto bos = tokenizer.bos_token_id()) special.bos_token = tokenizer.id_to_token(*bos);
    if (const auto eos = tokenizer.eos_token_id()) special.eos_token = tokenizer.id_to_token(*eos);
    std::string source = read_regular_file(o.chat_template_file, kMaxChatTemplateBytes);
    try {
      return {std::make_unique<const ChatTemplate>(source, special), std::move(source)};
    } catch (const Error& e) {
      throw error(o.chat_template_file, ": ", e.what());
    }
  }
  try {
    ModelChatTemplate model = read_model_chat_template(model_dir);
    return {std::make_unique<const ChatTemplate>(model.source, model.special_tokens), std::move(model.source)};
  } catch (const Error& e) {
    log_warn("no usable chat template (", e.what(),
             "): /v1/chat/completions will answer 400; "
             "give one with --chat-template FILE");
    return {};
  }
}

// --tool-call-parser, else the format the chat template writes tool calls in.
server::ToolCallFormat tool_call_format(const ServeOptions& o, const std::string& template_source) {
  if (!o.tool_call_parser.empty()) return *server::tool_call_format_named(o.tool_call_parser);
  const server::ToolCallFormat format = server::detect_tool_call_format(template_source);
  log_info("tool calls: ", server::tool_call_format_name(format), " format (from the chat template; ",
           "--tool-call-parser overrides)");
  return format;
}

std::unique_ptr<server::ServedModel> load_model(const ServeOptions& o) {
  LoadedEngine loaded = open_engine(o.engine);
  auto model = std::make_unique<server::ServedModel>();
  model->names =
      o.server.served_model_names.empty() ? std::vector<std::string>{loaded.model_name} : o.server.served_model_names;
  LoadedTemplate chat_template = load_chat_template(o, loaded.model_dir, *loaded.tokenizer);
  model->chat_template = std::move(chat_template.compiled);
  model->tool_call_format = tool_call_format(o, chat_template.source);
  if (o.generation_config == "auto") model->sampling_defaults = read_sampling_defaults(loaded.model_dir);
  const nlohmann::ordered_json defaults = model->sampling_defaults.to_json();
  if (defaults.empty()) {
    log_info("sampling defaults: temperature 1, no top-p, top-k, min-p or repetition penalty",
             o.generation_config == "auto" ? " (generation_config.json sets none)" : " (--generation-config ignore)");
  } else {
    log_info("sampling defaults from generation_config.json for fields a request leaves out: ", defaults.dump(),
             " (--generation-config ignore turns them off)");
  }
  model->grammars = std::make_unique<server::GrammarCache>(grammar_vocabulary(*loaded.tokenizer));
  model->tokenizer = std::move(loaded.tokenizer);
  model->engine = std::move(loaded.engine);
  model->created = static_cast<int64_t>(std::time(nullptr));
  return model;
}

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000.0));
}

// Settings that are each valid but not together, or that can never work.
void check_server_config(const server::ServerConfig& s) {
  // A key read from a file or an environment variable often ends in a newline; no client
  // could ever send it, and stripping it silently would hide which key is in force. The key
  // itself is not printed.
  if (!s.api_key.empty() && (std::isspace(static_cast<unsigned char>(s.api_key.front())) ||
                             std::isspace(static_cast<unsigned char>(s.api_key.back())))) {
    throw error(
        "the API key (--api-key or TERN_API_KEY) starts or ends with whitespace, so no request could "
        "match it; remove the whitespace (a trailing newline from a file?)");
  }
  if (s.max_pending_body_bytes < s.max_request_bytes) {
    throw error("--max-pending-body-bytes (", s.max_pending_body_bytes, ") is less than --max-request-bytes (",
                s.max_request_bytes, "): a body of the largest allowed size would always be refused");
  }
}

void run_serve(ServeOptions& o) {
  static const std::pair<const char*, LogLevel> kLevels[] = {
      {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn}, {"error", LogLevel::kError}};
  for (const auto& [name, level] : kLevels) {
    if (o.log_level == name) set_log_level(level);
  }
  check_server_config(o.server);
  o.server.idle_timeout = millis(o.idle_timeout_s);
  o.server.header_timeout = millis(o.header_timeout_s);
  o.server.shutdown_timeout = millis(o.shutdown_timeout_s);
  o.server.write_timeout = millis(o.write_timeout_s);
  o.server.sse_ping_interval = millis(o.sse_ping_interval_s);
  server::Server server(o.server);
  set_exit_code(server.run([&o] { return load_model(o); }));
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve the model over an OpenAI-compatible HTTP API (and a chat page at /, a dashboard at /dashboard)");
  add_engine_options(*cmd, o->engine);
  cmd->add_option("model", o->engine.model,
                  "the model: a folder, or a Hugging Face repo id found in the local hub cache (as --model)")
      ->excludes("--model");
  server::ServerConfig& s = o->server;
  cmd->add_option("--host", s.host, "address to listen on (0.0.0.0 exposes the server to the network)")
      ->capture_default_str();
  cmd->add_option("--port", s.port, "port to listen on (0: any free port; the log says which)")->capture_default_str();
  cmd->add_option(
         "--api-key", s.api_key,
         "require \"Authorization: Bearer KEY\" on every route but /health and the chat and dashboard pages "
         "(also read from TERN_API_KEY, which keeps it out of the process list); a key that starts or ends with "
         "whitespace is refused")
      ->envname("TERN_API_KEY");
  cmd->add_option("--allowed-origins", s.allowed_origins,
                  "browser origins allowed to call the API (CORS), comma-separated, e.g. https://app.example; "
                  "\"*\" allows any; default: none")
      ->delimiter(',');
  cmd->add_option("--served-model-name", s.served_model_names,
                  "the model names clients may send (--served-model-name a b, or the flag repeated); the first is "
                  "the id responses carry; /v1/models lists each; default: the folder name, or the repo id")
      ->check([](const std::string& name) { return name.empty() ? "a served model name may not be empty" : ""; });
  cmd->add_option("--chat-template", o->chat_template_file, "a Jinja chat template file to use instead of the model's");
  cmd->add_option("--tool-call-parser", o->tool_call_parser,
                  "how the model writes tool calls: hermes (<tool_call> blocks: Qwen2.5, Hermes), llama3_json "
                  "(Llama 3.1's JSON) or mistral ([TOOL_CALLS]); default: from the chat template")
      ->check(CLI::IsMember({"hermes", "llama3_json", "mistral"}));
  cmd->add_option("--generation-config", o->generation_config,
                  "auto: requests that leave out temperature, top_p, top_k, min_p or repetition_penalty get the "
                  "model's generation_config.json values (as vLLM); ignore: they get temperature 1 and no "
                  "top-p, top-k, min-p or repetition penalty")
      ->check(CLI::IsMember({"auto", "ignore"}))
      ->capture_default_str();
  cmd->add_option("--shutdown-timeout", o->shutdown_timeout_s,
                  "seconds in-flight requests may take to finish after SIGINT/SIGTERM before they are aborted")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  cmd->add_option("--idle-timeout", o->idle_timeout_s, "seconds a keep-alive connection may wait for its next request")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  cmd->add_option("--header-timeout", o->header_timeout_s,
                  "seconds from a request's first byte to the end of its headers")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--write-timeout", o->write_timeout_s,
                  "seconds a response write may make no progress (a client that stopped reading) before the "
                  "connection is dropped and its request aborted")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--sse-ping-interval", o->sse_ping_interval_s,
                  "seconds a stream may stay silent (queued, long prefill) before it gets an SSE keep-alive "
                  "comment; 0: never")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--max-request-bytes", s.max_request_bytes, "largest request body accepted (413 beyond)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 30))
      ->capture_default_str();
  cmd->add_option("--max-pending-body-bytes", s.max_pending_body_bytes,
                  "request-body bytes held at once over all connections, being received or waiting to be "
                  "prepared; a request past it gets 503 server_overloaded before its body is read (at least "
                  "--max-request-bytes)")
      ->check(CLI::Range(size_t{1024}, size_t{1} << 40))
      ->capture_default_str();
  cmd->add_option("--io-threads", s.io_threads, "event-loop threads serving all connections")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--preprocess-threads", s.preprocess_threads,
                  "threads for JSON parsing, chat templates and tokenization")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--max-preprocess-queue", s.max_preprocess_queue,
                  "requests waiting for a preprocessing thread; more get 503 server_overloaded")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  cmd->add_flag("--split-special-tokens-in-content", s.split_special_tokens_in_content,
                "tokenize special-token strings inside chat message contents and tools as plain text, so user "
                "text cannot forge turns (the template's own markers stay special); as if every chat request "
                "sent \"split_special_tokens\": true");
  cmd->add_option("--log-level", o->log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->callback([o] { run_serve(*o); });
}

}  // namespace tern::app

// tern: one binary, one subcommand per job. Each subcommand lives in its own cmd_*.cpp
// and registers itself here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "app/commands.h"
#include "base/error.h"

int main(int argc, char** argv) {
  CLI::App app{"tern: a fast LLM inference server for Llama-family models (Qwen2.5, Llama 3, Mistral)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "tern 0.1.0");
  tern::app::register_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tern::Error& e) {
    std::fprintf(stderr, "tern: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tern: internal error: %s\n", e.what());
    return 2;
  }
  return tern::app::exit_code();
}

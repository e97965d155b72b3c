// Subcommand registry. Each cmd_*.cpp defines add_<name>_command(), which adds its
// options and a callback to the app; callbacks run inside app.parse() and report their
// status through set_exit_code().
#pragma once

#include <CLI/CLI.hpp>

namespace tern::app {

void register_commands(CLI::App& app);
void set_exit_code(int code);
int exit_code();

void add_tokenize_commands(CLI::App& app);  // tokenize, detokenize
void add_generate_command(CLI::App& app);
void add_render_chat_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_quantize_command(CLI::App& app);
void add_perplexity_command(CLI::App& app);
void add_serve_command(CLI::App& app);

}  // namespace tern::app

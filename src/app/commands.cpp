#include "app/commands.h"

namespace tern::app {
namespace {
int g_exit_code = 0;
}

void set_exit_code(int code) { g_exit_code = code; }
int exit_code() { return g_exit_code; }

void register_commands(CLI::App& app) {
  add_tokenize_commands(app);
  add_generate_command(app);
  add_render_chat_command(app);
  add_bench_command(app);
  add_quantize_command(app);
  add_perplexity_command(app);
  add_serve_command(app);
}

}  // namespace tern::app

// The `tern bench` subcommands, one registrar each (cmd_bench*.cpp).
#pragma once

#include <CLI/CLI.hpp>

namespace tern::app {

void add_bench_engine_command(CLI::App& bench);    // in-process engine benchmark
void add_bench_serve_command(CLI::App& bench);     // one load against a URL
void add_bench_sweep_command(CLI::App& bench);     // concurrency levels x workloads against a URL
void add_bench_ablation_command(CLI::App& bench);  // the source article's five stages of tern

}  // namespace tern::app

// Running the tern binary from tests: the path comes from the build (TERN_BINARY), the
// output is captured, and scratch folders are removed afterwards.
#pragma once

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "test_support.h"

namespace tern::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `tern ARGS` (ARGS already shell-quoted) with TERN_NUM_THREADS=2.
inline CliResult run_tern(const std::string& args) {
  TempDir dir;
  const std::string err_path = dir.path() + "/stderr.txt";
  const std::string command = "TERN_NUM_THREADS=2 '" + std::string(TERN_BINARY) + "' " + args + " 2>'" + err_path + "'";
  CliResult result;
  FILE* pipe = popen(command.c_str(), "r");
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) result.out.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ifstream err(err_path);
  std::stringstream ss;
  ss << err.rdbuf();
  result.err = ss.str();
  return result;
}

}  // namespace tern::testing

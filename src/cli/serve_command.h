#pragma once

#include <CLI/CLI.hpp>

namespace wasmgate::cli {

// `serve` (run the proxy) and `validate` (check a configuration without serving).
void addServeCommands(CLI::App& app, int& exitCode);

}  // namespace wasmgate::cli

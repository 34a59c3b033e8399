#pragma once

#include <CLI/CLI.hpp>

namespace wasmgate::cli {

// Adds `run-plugin` to the command line; the callback runs it and sets the exit code.
void addRunPluginCommand(CLI::App& app, int& exitCode);

}  // namespace wasmgate::cli

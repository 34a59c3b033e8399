#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/run_plugin_command.h"
#include "cli/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"wasmgate: an HTTP and TCP proxy that runs Proxy-Wasm plugins in V8 sandboxes"};
  app.require_subcommand(1);
  int exitCode = 0;
  wasmgate::cli::addRunPluginCommand(app, exitCode);
  wasmgate::cli::addServeCommands(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 reports bad flags by exception; this is the edge of the program, not a data path.
    return app.exit(e);
  }
  return exitCode;
}

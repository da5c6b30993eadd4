#pragma once
// The `kiln` subcommands: each file tools/cmd_<name>.cpp adds one to the CLI11 app.

#include <CLI/CLI.hpp>

#include <functional>

namespace kiln::cli {

/// Registers a subcommand; returns the function that runs it once parsing succeeded (returns the exit code).
using Runner = std::function<int()>;
Runner add_inspect(CLI::App& app);
Runner add_check(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_info(CLI::App& app);
Runner add_optimize(CLI::App& app);
/// `kiln serve` (cmd_serve.cpp, over src/serve).
Runner add_serve(CLI::App& app);
/// Tools of the Python package, handed over to `python -m kiln NAME` (cmd_python.cpp).
Runner add_compare(CLI::App& app);
Runner add_reduce(CLI::App& app);

}  // namespace kiln::cli

// kiln: check, run, inspect and benchmark ONNX models.

#include <cstdio>
#include <map>

#include "commands.h"
#include "kiln/error.h"

int main(int argc, char** argv) {
  CLI::App app{"kiln: check, run, inspect and benchmark ONNX models exported from PyTorch"};
  app.require_subcommand(1);
  std::map<CLI::App*, kiln::cli::Runner> runners;
  auto add = [&](kiln::cli::Runner (*f)(CLI::App&)) {
    size_t before = app.get_subcommands({}).size();
    kiln::cli::Runner r = f(app);
    runners[app.get_subcommands({}).at(before)] = std::move(r);
  };
  add(kiln::cli::add_check);
  add(kiln::cli::add_inspect);
  add(kiln::cli::add_run);
  add(kiln::cli::add_bench);
  add(kiln::cli::add_info);
  add(kiln::cli::add_optimize);
  add(kiln::cli::add_serve);
  add(kiln::cli::add_compare);
  add(kiln::cli::add_reduce);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (auto& [sub, run] : runners)
      if (sub->parsed()) return run();
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
  return 1;
}

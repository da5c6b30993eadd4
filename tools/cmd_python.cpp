// `kiln compare` and `kiln reduce`: tools that need a reference runtime (onnxruntime) and the onnx package live in
// the Python package (python/kiln/tools); the `kiln` command hands them over with every argument unchanged, so
// the user types `kiln compare MODEL` either way.
//
// The interpreter: $KILN_PYTHON, else the project's venv beside the build folder (<build>/../.venv/bin/python),
// else python3 on PATH. The build tree's package (<build>/python, the release build's module) goes first on
// PYTHONPATH when it exists, so a fresh build runs its own kiln whatever the venv points at.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "commands.h"

namespace kiln::cli {

namespace {

namespace fs = std::filesystem;

fs::path executable_dir() {
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : self.parent_path();
}

int hand_over(const std::string& tool, const std::vector<std::string>& args) {
  fs::path dir = executable_dir();
  std::string python = "python3";
  if (const char* env = std::getenv("KILN_PYTHON"); env && *env) python = env;
  else if (!dir.empty() && fs::exists(dir.parent_path() / ".venv/bin/python"))
    python = (dir.parent_path() / ".venv/bin/python").string();
  if (!dir.empty() && fs::exists(dir / "python/kiln/__init__.py")) {
    std::string path = (dir / "python").string();
    if (const char* old = std::getenv("PYTHONPATH"); old && *old) path += std::string(":") + old;
    setenv("PYTHONPATH", path.c_str(), 1);
  }
  std::vector<std::string> argv_s = {python, "-m", "kiln", tool};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  std::fprintf(stderr, "kiln: error: `kiln %s` runs in the Python package, but %s could not be started (%s); "
               "run scripts/bootstrap.sh and `make python`, or set KILN_PYTHON to an interpreter that can "
               "`import kiln`\n", tool.c_str(), python.c_str(), std::strerror(errno));
  return 2;
}

Runner add_python_tool(CLI::App& app, const std::string& name, const std::string& description) {
  CLI::App* sub = app.add_subcommand(name, description + " (the Python package; `kiln " + name + " --help`)");
  sub->prefix_command();      // every argument after the name goes to the Python tool as given
  sub->set_help_flag();       // --help included
  return [sub, name] { return hand_over(name, sub->remaining()); };
}

}  // namespace

Runner add_compare(CLI::App& app) {
  return add_python_tool(app, "compare", "run kiln and a reference (onnxruntime or saved outputs) on the same "
                                         "inputs and report per-output errors; --layerwise finds the first "
                                         "diverging tensor");
}

Runner add_reduce(CLI::App& app) {
  return add_python_tool(app, "reduce", "cut a model whose outputs on kiln differ from onnxruntime's (or that "
                                        "fails) to the smallest failing subgraph and write it as ONNX");
}

}  // namespace kiln::cli

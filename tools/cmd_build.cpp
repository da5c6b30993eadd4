// kiln build MODEL -o ENGINE.kiln --min NAME=DIMS --opt NAME=DIMS --max NAME=DIMS ... [--profile --min ...]...
//            [--threads N] [--verbose] [--disable-pass NAME]... [--level N] [--runs N] [--tactic-runs N]
//            [--timing-cache FILE]
// Builds an engine (src/engine, src/api/engine_build): the graph passes run once, the dims the profile fixes
// (min == max) folded, the optimized model, its profile and build options saved in one checksummed file that
// `kiln run`, `kiln bench` and Session::from_file load without running the passes again. trtexec's vocabulary
// (--minShapes/--optShapes/--maxShapes) as --min/--opt/--max, repeatable per input; `--profile` starts another
// profile (a run must fit one of them). Nodes that offer candidate tactics are timed at the first profile's opt
// shape and the fastest recorded (api/engine_tactics.h); --timing-cache keeps the timings for a rebuild.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <algorithm>
#include <map>
#include <memory>

#include <fmt/ranges.h>

#include "api/engine_build.h"
#include "base/error.h"
#include "cli_util.h"
#include "commands.h"
#include "input_feeds.h"
#include "kernels/isa.h"
#include "pass_table.h"

namespace kiln::cli {

namespace {

struct BuildArgs {
  std::string model, output;
  std::vector<std::string> min, opt, max, disabled;
  int threads = 0, level = 2, runs = 10, tactic_runs = 5;
  std::string timing_cache;
  int extra_profiles = 0;  ///< --profile flags given
  bool verbose = false;
  /// The options themselves: their parse order says which profile each --min/--opt/--max belongs to.
  const CLI::Option *min_option = nullptr, *opt_option = nullptr, *max_option = nullptr, *profile_option = nullptr;
};

/// One profile's --min/--opt/--max values.
struct ProfileArgs {
  std::vector<std::string> min, opt, max;
};

/// Splits the --min/--opt/--max values into profiles: each --profile flag starts the next one.
std::vector<ProfileArgs> split_profiles(const CLI::App& cmd, const BuildArgs& a) {
  std::vector<ProfileArgs> profiles(1);
  size_t n_min = 0, n_opt = 0, n_max = 0;
  for (const CLI::Option* o : cmd.parse_order()) {
    if (o == a.profile_option) profiles.emplace_back();
    else if (o == a.min_option && n_min < a.min.size()) profiles.back().min.push_back(a.min[n_min++]);
    else if (o == a.opt_option && n_opt < a.opt.size()) profiles.back().opt.push_back(a.opt[n_opt++]);
    else if (o == a.max_option && n_max < a.max.size()) profiles.back().max.push_back(a.max[n_max++]);
  }
  KILN_ASSERT(n_min == a.min.size() && n_opt == a.opt.size() && n_max == a.max.size());
  return profiles;
}

/// A profile from its --min/--opt/--max: an input given only --opt is fixed (min = opt = max); one given --min
/// and --max takes --opt = --max when --opt is left out (latency is then measured at the largest shape).
engine::Profile profile_from_args(const ProfileArgs& a) {
  std::map<std::string, std::vector<int64_t>> lo = parse_shape_args(a.min), opt = parse_shape_args(a.opt),
                                              hi = parse_shape_args(a.max);
  std::map<std::string, bool> names;
  for (const auto* m : {&lo, &opt, &hi})
    for (const auto& [name, dims] : *m) names[name] = true;
  engine::Profile p;
  for (const auto& [name, unused] : names) {
    engine::InputRange r{name, {}, {}, {}};
    bool has_lo = lo.count(name), has_hi = hi.count(name), has_opt = opt.count(name);
    if (has_lo != has_hi)
      fail(ErrorCode::kInvalidArgument, "input '{}' has --{} but no --{}: give both (or only --opt {}=DIMS for one "
           "fixed shape)", name, has_lo ? "min" : "max", has_lo ? "max" : "min", name);
    r.opt = has_opt ? opt[name] : hi[name];
    r.min = has_lo ? lo[name] : r.opt;
    r.max = has_hi ? hi[name] : r.opt;
    p.inputs.push_back(std::move(r));
  }
  return p;
}

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// The summary's tactics line: the nodes timed, how many came from the timing cache, the count per tactic chosen;
/// with `verbose` each node's choice and every candidate's time.
void print_tactics(const EngineBuildResult& built, bool verbose) {
  if (built.tactics.empty()) {
    fmt::print("tactics  none timed (no node offers a choice here, or --tactic-runs 0): prepare's rules chose\n");
    return;
  }
  std::map<std::string, size_t> counts;
  size_t differ = 0;
  for (const engine::TacticRecord& r : built.tactics) ++counts[r.chosen], differ += r.chosen != r.rule;
  std::vector<std::string> parts;
  for (const auto& [name, n] : counts) parts.push_back(fmt::format("{} {}", name, n));
  fmt::print("tactics  {} nodes timed at the opt shape ({} from the timing cache, {} timings measured): {}; {} "
             "differ from the rule\n", built.tactics.size(), built.tactics_from_cache, built.tactics_measured,
             fmt::join(parts, ", "), differ);
  if (built.network_rule_ms >= 0)
    fmt::print("         whole graph at the opt shape{}: {:.3f} ms with the tactics timed fastest, {:.3f} ms with the "
               "rules': {}\n", built.network_from_cache ? " (from the timing cache)" : "", built.network_chosen_ms,
               built.network_rule_ms, built.kept_rules ? "the rules' tactics kept" : "the timed tactics kept");
  if (!verbose) return;
  for (const engine::TacticRecord& r : built.tactics) {
    std::vector<std::string> cands;
    for (const engine::TacticCandidate& c : r.candidates)
      cands.push_back(c.matched ? fmt::format("{} {:.3f} ms", c.name, c.ms)
                                : c.name + " (not kept: outputs off the reference, or not preparable)");
    fmt::print("         {} ({}): {}{}  [{}]\n", r.node_name, r.op_type, r.chosen,
               r.chosen == r.rule ? "" : fmt::format(" (rule: {})", r.rule), fmt::join(cands, ", "));
  }
}

int build_command(const CLI::App& cmd, const BuildArgs& a) {
  EngineBuildRequest request;
  request.model_path = a.model;
  for (const ProfileArgs& p : split_profiles(cmd, a)) request.profiles.push_back(profile_from_args(p));
  request.level = a.level;
  request.disabled_passes = a.disabled;
  request.threads = a.threads;
  request.tactic_runs = a.tactic_runs;
  request.timing_cache = a.timing_cache;
  request.warn = [](const std::string& w) { fmt::print(stderr, "warning: {}\n", w); };
  const bool tty = isatty(fileno(stderr));
  if (tty) {
    // One line rewritten in place: the stage, and while tactics are timed the node, k of n and the time left
    // (from the pace so far).
    request.on_stage = [](const std::string& s) { fmt::print(stderr, "\r\033[Kkiln build: {}...", s); };
    request.on_pass = [](std::string_view pass) { fmt::print(stderr, "\r\033[Kkiln build: optimizing: {}", pass); };
    auto started = std::make_shared<std::chrono::steady_clock::time_point>();
    request.on_tactic = [started](size_t k, size_t n, const std::string& node) {
      const auto now = std::chrono::steady_clock::now();
      if (k == 0) *started = now;
      if (k == n) return (void)fmt::print(stderr, "\r\033[Kkiln build: timed the tactics of {} nodes", n);
      std::string left = "";
      if (k > 0) {
        const double s = std::chrono::duration<double>(now - *started).count() / k * (n - k);
        left = s < 10 ? fmt::format(", about {:.1f} s left", s) : fmt::format(", about {:.0f} s left", s);
      }
      fmt::print(stderr, "\r\033[Kkiln build: timing tactics, node {} of {} ({}){}", k + 1, n, node, left);
    };
  }
  EngineBuildResult built = build_engine(request);
  {
    std::ofstream out(a.output, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(built.bytes.data()), static_cast<std::streamsize>(built.bytes.size()));
    if (!out) fail(ErrorCode::kIo, "cannot write the engine to '{}'", a.output);
  }
  if (tty) fmt::print(stderr, "\r\033[Kkiln build: loading the engine and timing it at the opt shape...\n");
  if (a.verbose) print_pass_table(built.pass_runs);
  for (const passes::PassRun& r : built.pass_runs)
    if (!r.error.empty()) fmt::print("error    {}\n", r.error);

  // The built engine, loaded as a user would, run at the opt shape: proves the file loads and gives latency.
  SessionOptions options;
  options.intra_op_threads = a.threads;
  auto t0 = std::chrono::steady_clock::now();
  Session session = Session::from_file(a.output, options);
  auto t1 = std::chrono::steady_clock::now();
  std::vector<std::string> opt_shapes;
  for (const engine::InputRange& r : request.profiles[0].inputs)
    opt_shapes.push_back(fmt::format("{}={}", r.name, r.opt.empty() ? "scalar" : dims_str(r.opt)));
  Feeds feeds = make_feeds(session, {}, opt_shapes, 0);
  session.run(feeds.tensors);  // first run builds the plan
  std::vector<double> ms;
  for (int i = 0; i < a.runs; ++i) {
    auto s = std::chrono::steady_clock::now();
    session.run(feeds.tensors);
    ms.push_back(ms_between(s, std::chrono::steady_clock::now()));
  }
  std::sort(ms.begin(), ms.end());
  // What the nodes run, from one profiled run at the opt shape: the kernels the prepare step chose (by rule, from
  // the shapes and this CPU, or the tactics timed above), the heaviest first, and the nodes left on their
  // reference kernels (a slow path worth knowing about).
  std::vector<StepProfile> steps;
  RunOptions profiled;
  profiled.profile = [&](const StepProfile& s) {
    if (s.depth == 0) steps.push_back(s);
  };
  session.run(feeds.tensors, profiled);
  std::sort(steps.begin(), steps.end(), [](const StepProfile& x, const StepProfile& y) {
    return x.milliseconds > y.milliseconds;
  });
  double total_ms = 0;
  size_t on_reference = 0;
  for (const StepProfile& st : steps) total_ms += st.milliseconds, on_reference += st.kernel.empty();

  for (size_t i = 0; i < request.profiles.size(); ++i) {
    std::string profile = engine::describe_profile(request.profiles[i]);
    for (size_t at = profile.find('\n'); at != std::string::npos; at = profile.find('\n', at + 1))
      profile.insert(at + 1, "         ");
    fmt::print("{:<9}{}\n", request.profiles.size() == 1 ? "profile" : fmt::format("profile{}", i), profile);
  }
  fmt::print("nodes    {} -> {}\n", built.nodes_before, built.nodes_after);
  fmt::print("engine   {} ({}, for ISA tier {})\n", a.output, human_bytes(static_cast<double>(built.bytes.size())),
             kernels::isa_name(kernels::active_isa()));
  fmt::print("build    {:.2f} s\n", built.seconds);
  fmt::print("load     {:.2f} ms\n", ms_between(t0, t1));
  if (!ms.empty()) fmt::print("latency  {:.3f} ms median at the opt shape ({} runs, {} threads)\n", ms[ms.size() / 2],
                              ms.size(), session.threads());
  print_tactics(built, a.verbose);
  fmt::print("kernels  {} nodes run, {} on reference kernels; the heaviest at the opt shape:\n", steps.size(),
             on_reference);
  for (size_t i = 0; i < std::min<size_t>(steps.size(), 5); ++i)
    fmt::print("         {:4.1f} %  {} ({}): {}\n", total_ms > 0 ? 100 * steps[i].milliseconds / total_ms : 0.0,
               steps[i].node, steps[i].op_type, steps[i].kernel.empty() ? "reference" : steps[i].kernel);
  return 0;
}

}  // namespace

Runner add_build(CLI::App& app) {
  auto args = std::make_shared<BuildArgs>();
  CLI::App* cmd = app.add_subcommand("build", "Build an engine (.kiln): passes run once, shapes in a profile, loads fast");
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("--output,-o", args->output, "The engine file to write (model.kiln)")->required();
  // One value per occurrence, so that the parse order maps each value to its profile.
  args->min_option = cmd->add_option("--min", args->min, "NAME=DIMS: the smallest shape of this input (repeatable)")
                         ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  args->opt_option =
      cmd->add_option("--opt", args->opt, "NAME=DIMS: the shape to time at (default: --max; alone: a fixed shape)")
          ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  args->max_option = cmd->add_option("--max", args->max, "NAME=DIMS: the largest shape of this input (repeatable)")
                         ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  args->profile_option = cmd->add_flag("--profile", args->extra_profiles,
                                       "Start another profile: the --min/--opt/--max after it form it (a run must fit "
                                       "one profile)");
  cmd->add_option("--threads", args->threads, "Threads for the build's timing runs (0: every CPU this process may use)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--level", args->level, "Graph optimization level: 2 all (default), 1 standard ONNX only, 0 none")
      ->check(CLI::Range(0, 2));
  cmd->add_option("--disable-pass", args->disabled, "NAME: switch one graph pass off (repeatable)");
  cmd->add_option("--runs", args->runs, "Timed runs at the opt shape for the summary")->check(CLI::NonNegativeNumber);
  cmd->add_option("--tactic-runs", args->tactic_runs,
                  "Timed runs per candidate tactic at the opt shape (the fastest counts; 0: prepare's rules choose)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--timing-cache", args->timing_cache,
                  "FILE: tactic timings kept for rebuilds (read when it exists, written back with new timings)");
  cmd->add_flag("--verbose,-v", args->verbose, "List every pass and what it changed, and every node's tactics");
  return [args, cmd]() { return build_command(*cmd, *args); };
}

}  // namespace kiln::cli

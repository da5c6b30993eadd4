// kiln bench MODEL [--input NAME=FILE]... [--shape NAME=DIMS]... [--threads N] [--warmup N]
//                  [--runs N | --seconds S] [--json] [--profile [--profile-median]]
//
// Load time, first-run time, latency percentiles of timed runs, throughput, memory (arena, dynamic, packed
// weights, peak RSS) and heap allocations per steady-state run; --profile adds per-node and per-op-type time
// tables. The JSON keys are documented in README.md ("kiln bench --json").

#include <nlohmann/json.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "alloc_counter.h"
#include "bench_stats.h"
#include "cli_util.h"
#include "commands.h"
#include "input_feeds.h"
#include "kernels/isa.h"

namespace kiln::cli {

namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string model;
  std::vector<std::string> inputs, shapes;
  int threads = 0;
  int warmup = 2;
  int runs = 0;
  double seconds = 0;
  uint64_t seed = 0;
  bool json = false;
  bool profile = false;
  bool profile_median = false;
  bool no_optimize = false;
  std::vector<std::string> disabled_passes;
};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU time of the whole process (every thread), in ms: beside wall time, a figure other processes sharing the
// cores cannot inflate.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

// The 1-minute load average as the bench ends: above the CPU count, other work shared the cores meanwhile.
double load_average() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1.0;
}

size_t current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// The process's resident high-water mark (VmHWM). Not getrusage's ru_maxrss: that survives execve, so a
// kiln started by a large parent (a Python benchmark script) would report the parent's peak.
size_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return static_cast<size_t>(std::stoull(line.substr(6))) * 1024;  // kB
  return 0;
}

// One line on stderr rewritten in place while runs go on, only when stderr is a terminal.
class Progress {
 public:
  Progress() : enabled_(isatty(STDERR_FILENO) != 0) {}
  void update(const char* phase, size_t done, const std::string& of, double last_ms) {
    if (!enabled_ || ms_since(last_) < 100) return;
    last_ = Clock::now();
    if (last_ms > 0)
      std::fprintf(stderr, "\r\033[Kkiln bench: %s %zu%s, last %.2f ms", phase, done, of.c_str(), last_ms);
    else
      std::fprintf(stderr, "\r\033[Kkiln bench: %s", phase);
    std::fflush(stderr);
    shown_ = true;
  }
  void clear() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
  }

 private:
  bool enabled_;
  bool shown_ = false;
  Clock::time_point last_{};
};

struct Measured {
  double load_ms = 0, first_run_ms = 0, timed_seconds = 0;
  std::vector<double> latencies, cpu_ms;
  std::vector<uint64_t> alloc_calls, alloc_bytes;
  bool counted_allocations = false;
  RunStats first, last;
  size_t peak_intermediate = 0;
  size_t rss_at_start = 0;
  std::optional<ProfileTable> profile;
};

Measured measure(const BenchArgs& args, const Session& session, const NamedTensors& feeds) {
  Measured m;
  Progress progress;
  progress.update("first run (planning, then execution)", 1, "", 0);
  auto start = Clock::now();
  session.run(feeds, {}, &m.first);
  m.first_run_ms = ms_since(start);
  // Then the steady state a service sees: feeds checked and plan chosen once (Session::bind, like ONNX Runtime's
  // IoBinding), outputs rewritten in place, so a run of a fixed-shape model allocates nothing.
  Binding binding = session.bind(feeds);
  for (int i = 0; i < args.warmup; ++i) {
    RunStats s;
    binding.run({}, &s);
    progress.update("warm-up", static_cast<size_t>(i) + 1, fmt::format("/{}", args.warmup), s.milliseconds);
  }
  const bool by_time = args.runs == 0;
  const size_t runs = by_time ? 0 : static_cast<size_t>(args.runs);
  m.latencies.reserve(by_time ? 4096 : runs);
  m.cpu_ms.reserve(by_time ? 4096 : runs);
  auto loop_start = Clock::now();
  for (size_t i = 0; by_time ? (i == 0 || ms_since(loop_start) < args.seconds * 1000) : i < runs; ++i) {
    std::optional<AllocationCount> before = allocations_so_far();
    double cpu0 = process_cpu_ms();
    auto t0 = Clock::now();
    binding.run({}, &m.last);
    double ms = ms_since(t0);
    m.cpu_ms.push_back(process_cpu_ms() - cpu0);
    std::optional<AllocationCount> after = allocations_so_far();
    m.latencies.push_back(ms);
    m.peak_intermediate = std::max(m.peak_intermediate, m.last.peak_bytes);
    if (before && after) {
      m.counted_allocations = true;
      m.alloc_calls.push_back(after->calls - before->calls);
      m.alloc_bytes.push_back(after->bytes - before->bytes);
    }
    progress.update("run", i + 1, by_time ? fmt::format(" ({:.0f}/{:.0f} s)", ms_since(loop_start) / 1000, args.seconds)
                                          : fmt::format("/{}", runs), ms);
  }
  m.timed_seconds = ms_since(loop_start) / 1000;
  if (args.profile) {
    // Separate runs, so the per-step clock reads do not touch the latency figures.
    ProfileCollector collector;
    RunOptions options;
    options.profile = [&](const StepProfile& s) { collector.add(s); };
    // --profile-median: as many profiled runs as timed ones (up to 1000), each node's median over them.
    const size_t profile_runs = std::clamp<size_t>(m.latencies.size(), 1, args.profile_median ? 1000 : 20);
    for (size_t i = 0; i < profile_runs; ++i) {
      RunStats s;
      session.run(feeds, options, &s);
      progress.update("profile run", i + 1, fmt::format("/{}", profile_runs), s.milliseconds);
    }
    m.profile = collector.table(profile_runs, args.profile_median);
  }
  progress.clear();
  return m;
}

template <typename T> T median_of(std::vector<T> v) {
  if (v.empty()) return T{};
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

json report_json(const BenchArgs& args, const Session& session, const Feeds& feeds, const Measured& m) {
  json inputs = json::array();
  for (const auto& [name, t] : feeds.tensors)
    inputs.push_back({{"name", name}, {"dtype", dtype_name(t.dtype())}, {"shape", t.is_tensor() ? json(t.dims()) : json(nullptr)},
                      {"source", feeds.origin.at(name)}});
  LatencySummary lat = summarize_latencies(m.latencies);
  json j = {
      {"model", args.model},
      {"isa", kernels::isa_name(kernels::active_isa())},
      {"threads", session.threads()},
      {"load_average", load_average()},
      {"inputs", inputs},
      {"warmup", args.warmup},
      {"runs", m.latencies.size()},
      {"load_ms", m.load_ms},
      {"first_run_ms", m.first_run_ms},
      {"latency_ms", {{"min", lat.min}, {"mean", lat.mean}, {"median", lat.median}, {"p90", lat.p90},
                      {"p99", lat.p99}, {"max", lat.max}, {"stddev", lat.stddev}}},
      {"cpu_ms", {{"median", summarize_latencies(m.cpu_ms).median}, {"mean", summarize_latencies(m.cpu_ms).mean}}},
      {"throughput_per_s", m.timed_seconds > 0 ? static_cast<double>(m.latencies.size()) / m.timed_seconds : 0.0},
      {"steps", m.last.steps},
      {"memory", {{"arena_bytes", m.last.arena_bytes},
                  {"dynamic_peak_bytes", m.peak_intermediate - std::min(m.peak_intermediate, m.last.arena_bytes)},
                  {"peak_intermediate_bytes", m.peak_intermediate},
                  {"packed_weight_bytes", m.last.packed_weight_bytes},
                  {"rss_at_start_bytes", m.rss_at_start},
                  {"peak_rss_bytes", peak_rss_bytes()}}},
      {"allocations_per_run", nullptr},
  };
  if (m.counted_allocations)
    j["allocations_per_run"] = {{"calls", median_of(m.alloc_calls)}, {"bytes", median_of(m.alloc_bytes)},
                                {"max_calls", *std::max_element(m.alloc_calls.begin(), m.alloc_calls.end())}};
  if (m.profile) {
    json nodes = json::array(), types = json::array();
    for (const auto& n : m.profile->nodes)
      nodes.push_back({{"node", n.node}, {"op_type", n.op_type}, {"kernel", n.kernel}, {"ms", n.ms}, {"share", n.share}});
    for (const auto& t : m.profile->op_types)
      types.push_back({{"op_type", t.op_type}, {"nodes", t.nodes}, {"ms", t.ms}, {"share", t.share}});
    j["profile"] = {{"runs", m.profile->runs}, {"median", m.profile->median}, {"total_ms", m.profile->total_ms}, {"op_types", types}, {"nodes", nodes}};
  }
  return j;
}

void print_profile(const ProfileTable& p) {
  fmt::print("\nprofile    {} run(s), {:.3f} ms per run in the model's steps{}\n", p.runs, p.total_ms,
             p.median ? " (sum of the nodes' medians)" : "");
  fmt::print("\n  {:<28} {:>5} {:>11} {:>7}\n", "op type", "nodes", "ms/run", "share");
  for (const auto& t : p.op_types)
    fmt::print("  {:<28} {:>5} {:>11.4f} {:>6.1f}%\n", t.op_type, t.nodes, t.ms, t.share);
  fmt::print("\n  {:<36} {:<20} {:>11} {:>7}  {}\n", "node", "op type", "ms/run", "share", "kernel");
  for (const auto& n : p.nodes)
    fmt::print("  {:<36} {:<20} {:>11.4f} {:>6.1f}%  {}\n", n.node, n.op_type, n.ms, n.share,
               n.kernel.empty() ? "reference" : n.kernel);
}

void print_text(const json& j, const Measured& m) {
  fmt::print("model      {}\n", j["model"].get<std::string>());
  fmt::print("threads    {} (kernels: {})\n", j["threads"].get<int>(), j["isa"].get<std::string>());
  for (const json& in : j["inputs"])
    fmt::print("input      {:<20} {:<8} {:<18} {}\n", in["name"].get<std::string>(), in["dtype"].get<std::string>(),
               in["shape"].is_null() ? "(container)" : dims_str(in["shape"].get<std::vector<int64_t>>()),
               in["source"].get<std::string>());
  fmt::print("load       {:.2f} ms (read, validate, prepare kernels, pack weights)\n", m.load_ms);
  fmt::print("first run  {:.2f} ms (planning and the first execution)\n", m.first_run_ms);
  const json& l = j["latency_ms"];
  fmt::print("latency    median {:.3f} ms, p90 {:.3f}, p99 {:.3f}, min {:.3f}, mean {:.3f}, max {:.3f} "
             "({} runs after {} warm-up)\n",
             l["median"].get<double>(), l["p90"].get<double>(), l["p99"].get<double>(), l["min"].get<double>(),
             l["mean"].get<double>(), l["max"].get<double>(), j["runs"].get<size_t>(), j["warmup"].get<int>());
  fmt::print("cpu time   median {:.3f} ms per run (all threads; load average {:.2f})\n",
             j["cpu_ms"]["median"].get<double>(), j["load_average"].get<double>());
  fmt::print("throughput {:.2f} runs/s\n", j["throughput_per_s"].get<double>());
  const json& mem = j["memory"];
  auto bytes = [&](const char* key) { return human_bytes(mem[key].get<double>()); };
  fmt::print("memory     intermediates peak {} (arena {}, dynamic {}), packed weights {}, peak RSS {}\n",
             bytes("peak_intermediate_bytes"), bytes("arena_bytes"), bytes("dynamic_peak_bytes"),
             bytes("packed_weight_bytes"), bytes("peak_rss_bytes"));
  const json& a = j["allocations_per_run"];
  if (a.is_null())
    fmt::print("heap       allocations not counted in this build\n");
  else
    fmt::print("heap       {} allocation(s) per steady-state run ({}), at most {}\n", a["calls"].get<uint64_t>(),
               human_bytes(a["bytes"].get<double>()), a["max_calls"].get<uint64_t>());
  if (m.profile) print_profile(*m.profile);
}

int bench_command(const BenchArgs& args) {
  if (args.warmup < 0) throw Error(ErrorCode::kInvalidArgument, "--warmup must be 0 or more");
  if (args.seconds < 0) throw Error(ErrorCode::kInvalidArgument, "--seconds must be positive");
  BenchArgs a = args;
  if (a.runs == 0 && a.seconds == 0) a.runs = 10;
  const size_t rss_at_start = current_rss_bytes();
  SessionOptions options;
  options.intra_op_threads = a.threads;
  if (a.no_optimize) options.graph_optimization_level = 0;
  options.disabled_passes = a.disabled_passes;
  auto start = Clock::now();
  Session session = Session::from_file(a.model, options);
  const double load_ms = ms_since(start);
  Feeds feeds = make_feeds(session, a.inputs, a.shapes, a.seed);
  Measured m = measure(a, session, feeds.tensors);
  m.load_ms = load_ms;
  m.rss_at_start = rss_at_start;
  json j = report_json(a, session, feeds, m);
  if (a.json)
    fmt::print("{}\n", j.dump(2));
  else
    print_text(j, m);
  return 0;
}

}  // namespace

Runner add_bench(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand("bench", "Measure a model's load time, latency, throughput and memory");
  cmd->add_option("model", args->model, "ONNX model file")->required();
  cmd->add_option("--input,-i", args->inputs, "NAME=FILE: an input from a .npy or ONNX TensorProto .pb file");
  cmd->add_option("--shape,-s", args->shapes, "NAME=DIMS: size of a random input, e.g. input=1x3x224x224");
  cmd->add_option("--threads", args->threads, "Threads a run uses (default 0: every CPU this process may use)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--warmup", args->warmup, "Untimed runs after the first one (default 2)")
      ->check(CLI::NonNegativeNumber);
  auto* runs = cmd->add_option("--runs", args->runs, "Timed runs (default 10)")->check(CLI::PositiveNumber);
  auto* secs = cmd->add_option("--seconds", args->seconds, "Time runs for this long instead of a count")
                   ->check(CLI::PositiveNumber);
  runs->excludes(secs);
  cmd->add_option("--seed", args->seed, "Seed for random inputs (default 0)");
  cmd->add_flag("--json", args->json, "Print JSON (keys documented in README.md)");
  cmd->add_flag("--profile", args->profile, "Add per-node and per-op-type time tables (from separate runs)");
  cmd->add_flag("--profile-median", args->profile_median,
                "With --profile: each node's median over as many runs as timed (a shared machine's other work "
                "inflates means)");
  cmd->add_flag("--no-optimize", args->no_optimize, "Run the graph as loaded: no graph passes");
  cmd->add_option("--disable-pass", args->disabled_passes, "NAME: switch one graph pass off (repeatable)");
  return [args]() { return bench_command(*args); };
}

}  // namespace kiln::cli

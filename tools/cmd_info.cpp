// kiln info [--measure] [--json]: the CPU, the ISA tier kiln dispatches to, the threads a session uses, the
// caches; with --measure, the FP32 FMA peak and memory bandwidth of this machine (kernels/peak), so benchmark
// figures can be stated as a share of what the machine can do on the day they are taken.

#include <cpuinfo.h>
#include <nlohmann/json.hpp>

#include <cstdlib>

#include "cli_util.h"
#include "commands.h"
#include "kernels/isa.h"
#include "kernels/peak/peak.h"
#include "kernels/thread_pool.h"

namespace kiln::cli {

namespace {

using json = nlohmann::ordered_json;

struct InfoArgs {
  bool measure = false;
  bool json = false;
};

const char* vendor_name(cpuinfo_vendor v) {
  switch (v) {
    case cpuinfo_vendor_intel: return "Intel";
    case cpuinfo_vendor_amd: return "AMD";
    case cpuinfo_vendor_hygon: return "Hygon";
    default: return "other";
  }
}

json cpu_json() {
  json cpu = {{"name", "unknown"}, {"vendor", "unknown"}, {"packages", 0}, {"cores", 0}, {"logical_processors", 0}};
  if (!cpuinfo_initialize()) return cpu;
  cpu["name"] = cpuinfo_get_packages_count() ? cpuinfo_get_package(0)->name : "unknown";
  cpu["packages"] = cpuinfo_get_packages_count();
  cpu["cores"] = cpuinfo_get_cores_count();
  cpu["logical_processors"] = cpuinfo_get_processors_count();
  if (const cpuinfo_core* core = cpuinfo_get_cores_count() ? cpuinfo_get_core(0) : nullptr) {
    cpu["vendor"] = vendor_name(core->vendor);
    // The CPUID signature, decoded as the vendors document it (extended family and model fields).
    const uint32_t id = core->cpuid, base_family = (id >> 8) & 0xf;
    uint32_t family = base_family, model = (id >> 4) & 0xf;
    if (base_family == 0xf) family += (id >> 20) & 0xff;
    if (base_family == 0x6 || base_family == 0xf) model |= ((id >> 16) & 0xf) << 4;
    cpu["family"] = family;
    cpu["model"] = model;
    cpu["stepping"] = id & 0xf;
  }
  return cpu;
}

json isa_json() {
  json features = json::array();
  if (cpuinfo_initialize()) {
    const std::pair<const char*, bool> known[] = {
        {"sse4.2", cpuinfo_has_x86_sse4_2()},       {"avx", cpuinfo_has_x86_avx()},
        {"avx2", cpuinfo_has_x86_avx2()},           {"fma3", cpuinfo_has_x86_fma3()},
        {"f16c", cpuinfo_has_x86_f16c()},           {"avx512f", cpuinfo_has_x86_avx512f()},
        {"avx512dq", cpuinfo_has_x86_avx512dq()},   {"avx512bw", cpuinfo_has_x86_avx512bw()},
        {"avx512vl", cpuinfo_has_x86_avx512vl()},   {"avx512vnni", cpuinfo_has_x86_avx512vnni()},
        {"avx512bf16", cpuinfo_has_x86_avx512bf16()}};
    for (const auto& [name, has] : known)
      if (has) features.push_back(name);
  }
  const char* env = std::getenv("KILN_ISA");
  return {{"detected", kernels::isa_name(kernels::detected_isa())},
          {"active", kernels::isa_name(kernels::active_isa())},
          {"kiln_isa_env", env ? json(env) : json(nullptr)},
          {"features", features}};
}

json threads_json() {
  kernels::CpuBudget b = kernels::cpu_budget();
  return {{"session_default", b.usable}, {"usable", b.usable}, {"affinity", b.affinity}, {"online", b.online},
          {"cgroup_quota", b.cgroup_quota ? json(b.cgroup_quota) : json(nullptr)}};
}

json caches_json() {
  json caches = json::array();
  if (!cpuinfo_initialize()) return caches;
  auto add = [&](const char* level, uint32_t count, const cpuinfo_cache* first) {
    if (count == 0 || !first) return;
    caches.push_back({{"level", level}, {"size_bytes", first->size}, {"count", count},
                      {"shared_by", first->processor_count}, {"line_bytes", first->line_size},
                      {"associativity", first->associativity}});
  };
  add("L1d", cpuinfo_get_l1d_caches_count(), cpuinfo_get_l1d_cache(0));
  add("L1i", cpuinfo_get_l1i_caches_count(), cpuinfo_get_l1i_cache(0));
  add("L2", cpuinfo_get_l2_caches_count(), cpuinfo_get_l2_cache(0));
  add("L3", cpuinfo_get_l3_caches_count(), cpuinfo_get_l3_cache(0));
  return caches;
}

json measure_json() {
  const kernels::IsaTier tier = kernels::active_isa();
  kernels::peak::FmaPeak fma = kernels::peak::measure_fma_peak(tier);
  kernels::peak::Bandwidth bw = kernels::peak::measure_triad_bandwidth();
  return {{"fma_peak", {{"isa", kernels::isa_name(tier)}, {"gflops_per_core", fma.gflops_one_thread},
                        {"gflops_all_threads", fma.gflops_all_threads}, {"threads", fma.threads}}},
          {"memory_bandwidth", {{"buffer_bytes", bw.buffer_bytes}, {"gbps_one_thread", bw.gbps_one_thread},
                                {"gbps_all_threads", bw.gbps_all_threads}, {"threads", bw.threads}}}};
}

void print_text(const json& info) {
  const json& cpu = info["cpu"];
  std::string id;
  if (cpu.contains("family"))
    id = fmt::format(" ({} family {} model {} stepping {})", cpu["vendor"].get<std::string>(),
                     cpu["family"].get<int>(), cpu["model"].get<int>(), cpu["stepping"].get<int>());
  fmt::print("cpu        {}{}: {} package(s), {} cores, {} logical processors\n", cpu["name"].get<std::string>(), id,
             cpu["packages"].get<int>(), cpu["cores"].get<int>(), cpu["logical_processors"].get<int>());
  const json& isa = info["isa"];
  std::string features;
  for (const json& f : isa["features"]) features += (features.empty() ? "" : " ") + f.get<std::string>();
  fmt::print("isa        kernels dispatch to {} (detected {}{}); features: {}\n", isa["active"].get<std::string>(),
             isa["detected"].get<std::string>(),
             isa["kiln_isa_env"].is_null() ? "" : ", KILN_ISA=" + isa["kiln_isa_env"].get<std::string>(), features);
  const json& t = info["threads"];
  fmt::print("threads    a session uses {} by default: {} CPU(s) in this process's affinity of {} online, "
             "cgroup quota {}\n",
             t["usable"].get<int>(), t["affinity"].get<int>(), t["online"].get<int>(),
             t["cgroup_quota"].is_null() ? "none" : std::to_string(t["cgroup_quota"].get<int>()) + " CPU(s)");
  std::string caches;
  for (const json& c : info["caches"])
    caches += fmt::format("{}{} {} x{}", caches.empty() ? "" : ", ", c["level"].get<std::string>(),
                          human_bytes(c["size_bytes"].get<double>()), c["count"].get<int>()) +
              (c["shared_by"].get<int>() > 1 ? fmt::format(" (each shared by {})", c["shared_by"].get<int>()) : "");
  fmt::print("caches     {}\n", caches.empty() ? "unknown" : caches);
  fmt::print("load       {:.2f} (1-minute average; above the CPU count, other work shares the cores)\n",
             info["load_average"].get<double>());
  if (!info.contains("measured")) return;
  const json& fma = info["measured"]["fma_peak"];
  fmt::print("fma peak   {:.1f} GFLOP/s per core, {:.1f} GFLOP/s on {} threads (FP32, {} loop)\n",
             fma["gflops_per_core"].get<double>(), fma["gflops_all_threads"].get<double>(), fma["threads"].get<int>(),
             fma["isa"].get<std::string>());
  const json& bw = info["measured"]["memory_bandwidth"];
  fmt::print("memory     {:.1f} GB/s on 1 thread, {:.1f} GB/s on {} threads (triad over {})\n",
             bw["gbps_one_thread"].get<double>(), bw["gbps_all_threads"].get<double>(), bw["threads"].get<int>(),
             human_bytes(bw["buffer_bytes"].get<double>()));
}

int info_command(const InfoArgs& args) {
  double load[1] = {-1};
  getloadavg(load, 1);
  json info = {{"cpu", cpu_json()},         {"isa", isa_json()},   {"threads", threads_json()},
               {"caches", caches_json()}, {"load_average", load[0]}};
  if (args.measure) info["measured"] = measure_json();
  if (args.json)
    fmt::print("{}\n", info.dump(2));
  else
    print_text(info);
  return 0;
}

}  // namespace

Runner add_info(CLI::App& app) {
  auto args = std::make_shared<InfoArgs>();
  CLI::App* cmd = app.add_subcommand("info", "The CPU, ISA tier, threads and caches kiln sees on this machine");
  cmd->add_flag("--measure", args->measure,
                "Also measure the FP32 FMA peak and memory bandwidth (takes a few seconds)");
  cmd->add_flag("--json", args->json, "Print JSON (keys documented in README.md)");
  return [args]() { return info_command(*args); };
}

}  // namespace kiln::cli

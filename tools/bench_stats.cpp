#include "bench_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace kiln::cli {

namespace {

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(rank));
  size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - static_cast<double>(lo));
}

}  // namespace

LatencySummary summarize_latencies(std::vector<double> ms) {
  LatencySummary s;
  if (ms.empty()) return s;
  std::sort(ms.begin(), ms.end());
  const double n = static_cast<double>(ms.size());
  s.min = ms.front();
  s.max = ms.back();
  s.mean = std::accumulate(ms.begin(), ms.end(), 0.0) / n;
  s.median = percentile(ms, 50);
  s.p90 = percentile(ms, 90);
  s.p99 = percentile(ms, 99);
  double var = 0;
  for (double v : ms) var += (v - s.mean) * (v - s.mean);
  s.stddev = std::sqrt(var / n);
  // Interpolation can land a hair outside [min, max] by rounding; the relations are documented, keep them.
  s.mean = std::clamp(s.mean, s.min, s.max);
  return s;
}

void ProfileCollector::add(const StepProfile& step) {
  if (step.depth != 0) return;  // inside an If/Loop/Scan: already counted in the enclosing node's time
  Entry& e = by_index_[step.index];
  if (e.node.empty()) {
    e.node = step.node;
    e.op_type = step.op_type;
    e.kernel = step.kernel;
  }
  e.ms += step.milliseconds;
  e.each.push_back(step.milliseconds);
}

ProfileTable ProfileCollector::table(size_t runs, bool median) const {
  ProfileTable t;
  t.runs = runs;
  t.median = median;
  const double per_run = 1.0 / static_cast<double>(std::max<size_t>(runs, 1));
  std::map<std::string, ProfileTable::OpType> types;
  for (const auto& [index, e] : by_index_) {
    double ms = e.ms * per_run;
    if (median && !e.each.empty()) {
      std::vector<double> sorted = e.each;
      std::sort(sorted.begin(), sorted.end());
      const size_t n = sorted.size();
      ms = n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }
    t.nodes.push_back({e.node, e.op_type, e.kernel, ms, 0});
    ProfileTable::OpType& ty = types[e.op_type];
    ty.op_type = e.op_type;
    ty.nodes += 1;
    ty.ms += ms;
    t.total_ms += ms;
  }
  for (auto& [name, ty] : types) t.op_types.push_back(ty);
  auto share = [&](double ms) { return t.total_ms > 0 ? 100.0 * ms / t.total_ms : 0.0; };
  for (auto& n : t.nodes) n.share = share(n.ms);
  for (auto& ty : t.op_types) ty.share = share(ty.ms);
  std::stable_sort(t.nodes.begin(), t.nodes.end(), [](const auto& a, const auto& b) { return a.ms > b.ms; });
  std::stable_sort(t.op_types.begin(), t.op_types.end(), [](const auto& a, const auto& b) { return a.ms > b.ms; });
  return t;
}

}  // namespace kiln::cli

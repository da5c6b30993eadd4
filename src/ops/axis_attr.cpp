#include "ops/axis_attr.h"

namespace kiln::ops {

namespace {

const char* what_each(AxisSpan span) {
  switch (span) {
    case AxisSpan::kAxes: return "one per axis";
    case AxisSpan::kAxesTwice: return "a begin and an end per axis";
    case AxisSpan::kSpatial: return "one per spatial dim";
    case AxisSpan::kSpatialTwice: return "a begin and an end per spatial dim";
  }
  return "";
}

std::string mismatch(std::string_view list, size_t length, AxisSpan span, const RankOf& of) {
  return fmt::format("{} has {} value{}, but {} has rank {}, so it needs {} ({})", list, length,
                     length == 1 ? "" : "s", of.what, of.rank, axis_count(span, of.rank), what_each(span));
}

}  // namespace

RankOf rank_of(std::string_view role, const Shape& shape) {
  return {shape.rank(), fmt::format("{} {}", role, shape.str())};
}

RankOf rank_of(std::string_view role, const std::vector<int64_t>& dims) { return rank_of(role, Shape::from(dims)); }

size_t axis_count(AxisSpan span, size_t rank) {
  const size_t spatial = rank >= 2 ? rank - 2 : 0;
  switch (span) {
    case AxisSpan::kAxes: return rank;
    case AxisSpan::kAxesTwice: return 2 * rank;
    case AxisSpan::kSpatial: return spatial;
    case AxisSpan::kSpatialTwice: return 2 * spatial;
  }
  return 0;
}

void check_axis_attr(const NodeContext& ctx, std::string_view name, size_t length, AxisSpan span, const RankOf& of) {
  if (length != axis_count(span, of.rank))
    ctx.fail("{}", mismatch(fmt::format("attribute '{}'", name), length, span, of));
}

void check_axis_input(const NodeContext& ctx, std::string_view name, size_t length, AxisSpan span, const RankOf& of) {
  if (length != axis_count(span, of.rank))
    ctx.bad_input("{}", mismatch(fmt::format("input '{}'", name), length, span, of));
}

}  // namespace kiln::ops

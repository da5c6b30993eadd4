// String ops: StringConcat (20), StringSplit (20), StringNormalizer (10), RegexFullMatch (20).
//
// Strings are bytes (UTF-8 by convention). Case changes decode UTF-8 and map each code point through a
// UTF-8 C++ locale (the `locale` attribute when the system has it, else C.UTF-8); bytes that are not valid
// UTF-8 pass through unchanged. Whitespace splitting uses ASCII whitespace (and \x1c-\x1f, as Python's
// str.split does), not the other Unicode spaces.
//
// RegexFullMatch: ONNX specifies RE2 syntax; kiln uses std::regex (ECMAScript grammar) in its polynomial,
// non-backtracking mode, whose run time and stack depth do not grow with the input's length. Differences
// from RE2: `.` and character classes see bytes, not UTF-8 code points; RE2-only syntax is refused by the
// compiler (\p{..} classes, (?P<name>..), \A, \z, \Q..\E, flags other than a leading (?i), which kiln
// translates); ECMAScript-only syntax RE2 would refuse (lookarounds) is accepted. Patterns are limited to
// 4096 bytes and a group nesting depth of 256 because std::regex's compiler recurses on the pattern.

#include <locale>
#include <regex>
#include <string>
#include <unordered_set>

#include "ops/elementwise.h"
#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

void require_string_input(const InferContext& ctx, size_t i) {
  if (ctx.input_type(i) != DType::kString)
    ctx.fail("input {} must be a string tensor, not {}", i, dtype_name(ctx.input_type(i)));
}

// ---- StringConcat ----

void infer_string_concat(InferContext& ctx) { infer_broadcast(ctx, kStringType); }

void compute_string_concat(KernelContext& ctx) {
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  Tensor& y = ctx.output(0);
  const std::string *pa = a.data<std::string>(), *pb = b.data<std::string>();
  std::string* out = y.data<std::string>();
  BroadcastLoop<2>(y.dims(), {&a.dims(), &b.dims()}).for_each_run([&](int64_t o, auto in, int64_t n, auto step) {
    for (int64_t i = 0; i < n; ++i) out[o + i] = pa[in[0] + i * step[0]] + pb[in[1] + i * step[1]];
  });
}

// ---- StringSplit ----

bool is_split_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f); }

/// Python's str.split(sep, maxsplit): with an empty `sep`, runs of whitespace separate and leading/trailing
/// whitespace yields no empty pieces; otherwise every occurrence of sep separates. maxsplit < 0: no limit.
std::vector<std::string> split_string(const std::string& s, const std::string& sep, int64_t maxsplit) {
  std::vector<std::string> parts;
  if (sep.empty()) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && is_split_space(static_cast<unsigned char>(s[i]))) ++i;
      if (i == s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.push_back(s.substr(i));  // the rest, trailing whitespace included
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_split_space(static_cast<unsigned char>(s[j]))) ++j;
      parts.push_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    const size_t at = s.find(sep, start);
    if (at == std::string::npos) break;
    parts.push_back(s.substr(start, at - start));
    start = at + sep.size();
  }
  parts.push_back(s.substr(start));
  return parts;
}

void infer_string_split(InferContext& ctx) {
  require_string_input(ctx, 0);
  const Shape& x = ctx.input_shape(0);
  Shape y = x;
  if (y.rank_known) y.dims.push_back(Dim());
  ctx.set_output(0, DType::kString, y);
  ctx.set_output(1, DType::kInt64, x);
}

void compute_string_split(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::string sep = ctx.attr_string("delimiter", "");
  const int64_t maxsplit = ctx.has_attr("maxsplit") ? ctx.attr_int("maxsplit") : -1;
  std::vector<std::vector<std::string>> parts(static_cast<size_t>(x.numel()));
  size_t width = 0;
  for (int64_t i = 0; i < x.numel(); ++i) {
    parts[static_cast<size_t>(i)] = split_string(x.data<std::string>()[i], sep, maxsplit);
    width = std::max(width, parts[static_cast<size_t>(i)].size());
  }
  std::vector<int64_t> dims = x.dims();
  dims.push_back(static_cast<int64_t>(width));
  std::string* y = ctx.allocate_output(0, DType::kString, dims).data<std::string>();
  int64_t* counts = ctx.num_outputs() > 1 ? ctx.output(1).data<int64_t>() : nullptr;
  for (size_t i = 0; i < parts.size(); ++i) {
    for (size_t k = 0; k < parts[i].size(); ++k) y[i * width + k] = std::move(parts[i][k]);  // the rest stay ""
    if (counts) counts[i] = static_cast<int64_t>(parts[i].size());
  }
}

// ---- case mapping (StringNormalizer) ----

/// A UTF-8 locale's wide-character case tables; the classic ("C") locale when the system has no UTF-8 one.
std::locale case_locale(const std::string& name) {
  std::vector<std::string> tries;
  if (!name.empty()) {
    if (name.find('.') == std::string::npos) tries.push_back(name + ".UTF-8");
    tries.push_back(name);
  }
  tries.push_back("C.UTF-8");
  tries.push_back("en_US.UTF-8");
  for (const std::string& n : tries) {
    try {
      return std::locale(n.c_str());
    } catch (const std::runtime_error&) {
    }
  }
  return std::locale::classic();
}

/// Decodes one UTF-8 sequence at s[i]; returns the code point and advances i, or -1 (i advanced by one byte)
/// when the bytes there are not valid UTF-8.
int32_t decode_utf8(const std::string& s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  int len = b0 < 0x80 ? 1 : (b0 >> 5) == 0x6 ? 2 : (b0 >> 4) == 0xe ? 3 : (b0 >> 3) == 0x1e ? 4 : 0;
  if (len == 0 || i + static_cast<size_t>(len) > s.size()) {
    ++i;
    return -1;
  }
  int32_t cp = len == 1 ? b0 : len == 2 ? (b0 & 0x1f) : len == 3 ? (b0 & 0x0f) : (b0 & 0x07);
  for (int k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + static_cast<size_t>(k)]);
    if ((b >> 6) != 0x2) {
      ++i;
      return -1;
    }
    cp = (cp << 6) | (b & 0x3f);
  }
  static constexpr int32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {  // overlong, too large, surrogate
    ++i;
    return -1;
  }
  i += static_cast<size_t>(len);
  return cp;
}

void encode_utf8(int32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

enum class CaseChange { kNone, kLower, kUpper };

std::string change_case(const std::string& s, CaseChange how, const std::ctype<wchar_t>& ct) {
  if (how == CaseChange::kNone) return s;
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t start = i;
    const int32_t cp = decode_utf8(s, i);
    if (cp < 0) {
      out += s[start];
      continue;
    }
    const wchar_t w = how == CaseChange::kLower ? ct.tolower(static_cast<wchar_t>(cp)) : ct.toupper(static_cast<wchar_t>(cp));
    const auto mapped = static_cast<int32_t>(w);
    encode_utf8(mapped >= 0 && mapped <= 0x10ffff && !(mapped >= 0xd800 && mapped <= 0xdfff) ? mapped : cp, out);
  }
  return out;
}

CaseChange case_change_attr(const NodeContext& ctx) {
  const std::string a = ctx.attr_string("case_change_action", "NONE");
  if (a == "NONE") return CaseChange::kNone;
  if (a == "LOWER") return CaseChange::kLower;
  if (a == "UPPER") return CaseChange::kUpper;
  ctx.fail("case_change_action must be NONE, LOWER or UPPER, not '{}'", a);
}

// ---- StringNormalizer ----
// Removes the elements of X ([C] or [1, C]) that are stopwords, then changes case. When nothing is left the
// output holds one empty string ([1] or [1, 1]).

void infer_string_normalizer(InferContext& ctx) {
  require_string_input(ctx, 0);
  case_change_attr(ctx);
  const Shape& x = ctx.input_shape(0);
  if (x.rank_known && x.rank() != 1 && !(x.rank() == 2 && (!x.dims[0].is_known() || x.dims[0].value() == 1)))
    ctx.fail("input must be [C] or [1, C], but it is {}", x.str());
  if (!x.rank_known) ctx.set_output(0, DType::kString, Shape::unknown_rank());
  else if (x.rank() == 1) ctx.set_output(0, DType::kString, Shape({Dim()}));
  else ctx.set_output(0, DType::kString, Shape({Dim(1), Dim()}));
}

void compute_string_normalizer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 1 && !(x.rank() == 2 && x.dim(0) == 1))
    ctx.bad_input("input must be [C] or [1, C], but it is {}", dims_str(x.dims()));
  const CaseChange how = case_change_attr(ctx);
  const bool case_sensitive = ctx.attr_int("is_case_sensitive", 0) != 0;
  const std::locale loc = case_locale(ctx.attr_string("locale", ""));
  const auto& ct = std::use_facet<std::ctype<wchar_t>>(loc);
  // Case-insensitive matching compares lowercased forms.
  const auto key = [&](const std::string& s) { return case_sensitive ? s : change_case(s, CaseChange::kLower, ct); };
  std::unordered_set<std::string> stops;
  for (const std::string& w : ctx.attr_strings("stopwords")) stops.insert(key(w));
  std::vector<std::string> kept;
  for (const std::string& s : x.span<std::string>())
    if (!stops.count(key(s))) kept.push_back(change_case(s, how, ct));
  if (kept.empty()) kept.emplace_back();
  const auto n = static_cast<int64_t>(kept.size());
  Tensor& y = ctx.allocate_output(0, DType::kString, x.rank() == 1 ? std::vector<int64_t>{n} : std::vector<int64_t>{1, n});
  std::move(kept.begin(), kept.end(), y.data<std::string>());
}

// ---- RegexFullMatch ----

constexpr size_t kMaxPatternBytes = 4096;
constexpr int kMaxPatternNesting = 256;

std::regex compile_pattern(const NodeContext& ctx) {
  std::string p = ctx.attr_string("pattern");
  if (p.size() > kMaxPatternBytes) ctx.unsupported("patterns longer than {} bytes are not supported ({} given)", kMaxPatternBytes, p.size());
  int depth = 0, deepest = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') ++i;
    else if (p[i] == '(') deepest = std::max(deepest, ++depth);
    else if (p[i] == ')') --depth;
  }
  if (deepest > kMaxPatternNesting) ctx.unsupported("patterns nested deeper than {} groups are not supported", kMaxPatternNesting);
  auto flags = std::regex::ECMAScript | std::regex_constants::__polynomial;
  if (p.rfind("(?i)", 0) == 0) {  // RE2's leading case-insensitive flag; ECMAScript spells it as an option
    p.erase(0, 4);
    flags |= std::regex::icase;
  }
  try {
    return std::regex(p, flags);
  } catch (const std::regex_error& e) {
    ctx.fail("pattern '{}' is not a regular expression kiln can compile: {}", p, e.what());
  }
}

void infer_regex_full_match(InferContext& ctx) {
  require_string_input(ctx, 0);
  compile_pattern(ctx);
  ctx.set_output(0, DType::kBool, ctx.input_shape(0));
}

void compute_regex_full_match(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::regex re = compile_pattern(ctx);
  bool* out = ctx.output(0).data<bool>();
  const std::string* in = x.data<std::string>();
  try {
    for (int64_t i = 0; i < x.numel(); ++i) out[i] = std::regex_match(in[i], re);
  } catch (const std::regex_error& e) {
    ctx.bad_input("matching pattern '{}' failed: {}", ctx.attr_string("pattern"), e.what());
  }
}

}  // namespace

KILN_REGISTER_OP(string_concat, {"", "StringConcat", {20}, 0, infer_string_concat, compute_string_concat});
KILN_REGISTER_OP(string_split, {"", "StringSplit", {20}, 0, infer_string_split, compute_string_split});
KILN_REGISTER_OP(string_normalizer, {"", "StringNormalizer", {10}, 0, infer_string_normalizer, compute_string_normalizer});
KILN_REGISTER_OP(regex_full_match, {"", "RegexFullMatch", {20}, 0, infer_regex_full_match, compute_regex_full_match});

}  // namespace kiln::ops

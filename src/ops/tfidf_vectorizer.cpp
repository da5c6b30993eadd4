// TfIdfVectorizer (opset 9): counts, per row of X ([C] or [N, C], int32/int64/string), how often each n-gram
// of a fixed pool occurs, with n-grams allowed to skip up to max_skip_count items between their elements.
//
// The pool (pool_int64s or pool_strings) lists all 1-grams, then all 2-grams, ...; ngram_counts[k] is where
// the (k+1)-grams start. The i-th n-gram of the pool is counted at output coordinate ngram_indexes[i] and
// weighted by weights[i]. Only n-gram lengths in [min_gram_length, max_gram_length] are counted; 1-grams
// count once, longer n-grams once per skip distance at which they occur.

#include <algorithm>
#include <map>

#include "ops/op.h"
#include "ops/shape_util.h"

namespace kiln::ops {
namespace {

enum class Weighting { kTf, kIdf, kTfIdf };

/// The attributes, checked, with the pool's n-grams as (first item, length, output coordinate) records.
struct TfIdfModel {
  Weighting mode = Weighting::kTf;
  int64_t min_n = 1, max_n = 1, max_skip = 0, out_size = 0;
  std::vector<float> weight_at;  ///< per output coordinate (1 where no weight is given)
  struct Gram {
    int64_t first, n, coordinate;
  };
  std::vector<Gram> grams;
  bool strings = false;
};

TfIdfModel read_model(const NodeContext& ctx) {
  TfIdfModel m;
  const std::string mode = ctx.attr_string("mode");
  if (mode == "TF") m.mode = Weighting::kTf;
  else if (mode == "IDF") m.mode = Weighting::kIdf;
  else if (mode == "TFIDF") m.mode = Weighting::kTfIdf;
  else ctx.fail("mode must be TF, IDF or TFIDF, not '{}'", mode);
  m.min_n = ctx.attr_int("min_gram_length");
  m.max_n = ctx.attr_int("max_gram_length");
  m.max_skip = ctx.attr_int("max_skip_count");
  if (m.min_n < 1 || m.max_n < m.min_n || m.max_skip < 0)
    ctx.fail("need 1 <= min_gram_length <= max_gram_length and max_skip_count >= 0 (got {}, {}, {})", m.min_n,
             m.max_n, m.max_skip);
  m.strings = ctx.has_attr("pool_strings");
  if (m.strings == ctx.has_attr("pool_int64s")) ctx.fail("exactly one of pool_strings and pool_int64s must be set");
  const int64_t pool = static_cast<int64_t>(m.strings ? ctx.attr_strings("pool_strings").size()
                                                      : ctx.attr_ints("pool_int64s").size());
  const std::vector<int64_t> starts = ctx.attr_ints("ngram_counts");
  const std::vector<int64_t> indexes = ctx.attr_ints("ngram_indexes");
  for (size_t k = 0; k < starts.size(); ++k) {
    const int64_t begin = starts[k], end = k + 1 < starts.size() ? starts[k + 1] : pool, n = int64_t(k) + 1;
    if (begin < 0 || end < begin || end > pool || (end - begin) % n != 0)
      ctx.fail("ngram_counts {} do not split the pool of {} items into whole {}-grams", dims_str(starts), pool, n);
    for (int64_t first = begin; first < end; first += n) m.grams.push_back({first, n, -1});
  }
  if (indexes.size() != m.grams.size())
    ctx.fail("ngram_indexes has {} entries but the pool holds {} n-grams", indexes.size(), m.grams.size());
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (indexes[i] < 0) ctx.fail("ngram_indexes must not be negative, got {}", indexes[i]);
    m.grams[i].coordinate = indexes[i];
    m.out_size = std::max(m.out_size, indexes[i] + 1);
  }
  const std::vector<float> weights = ctx.attr_floats("weights");
  if (!weights.empty() && weights.size() != indexes.size())
    ctx.fail("weights has {} entries but there are {} n-grams", weights.size(), indexes.size());
  m.weight_at.assign(static_cast<size_t>(m.out_size), 1.0f);
  for (size_t i = 0; i < weights.size(); ++i) m.weight_at[static_cast<size_t>(indexes[i])] = weights[i];
  return m;
}

void infer_tfidf(InferContext& ctx) {
  const TfIdfModel m = read_model(ctx);
  const DType t = ctx.input_type(0);
  if (m.strings ? t != DType::kString : (t != DType::kInt32 && t != DType::kInt64))
    ctx.fail("input is {} but the pool holds {}", dtype_name(t), m.strings ? "strings" : "integers");
  const Shape& x = ctx.input_shape(0);
  if (!x.rank_known) ctx.set_output(0, DType::kFloat32, Shape::unknown_rank());
  else if (x.rank() <= 1) ctx.set_output(0, DType::kFloat32, Shape({Dim(m.out_size)}));
  else if (x.rank() == 2) ctx.set_output(0, DType::kFloat32, Shape({x.dims[0], Dim(m.out_size)}));
  else ctx.fail("input must be [C] or [N, C], but it is {}", x.str());
}

/// Counts n-grams in rows of items of type K (int64 or string) against the pool `pool`.
template <typename K>
void count_rows(const TfIdfModel& m, const std::vector<K>& pool, const std::vector<K>& items, int64_t rows,
                int64_t cols, float* out) {
  // n-gram (as its items) -> output coordinate; a later duplicate in the pool wins.
  std::map<std::vector<K>, int64_t> index;
  for (const TfIdfModel::Gram& g : m.grams)
    if (g.n >= m.min_n && g.n <= m.max_n)
      index[std::vector<K>(pool.begin() + g.first, pool.begin() + g.first + g.n)] = g.coordinate;
  std::vector<int64_t> counts(static_cast<size_t>(m.out_size));
  std::vector<K> key;
  for (int64_t r = 0; r < rows; ++r) {
    std::fill(counts.begin(), counts.end(), 0);
    const K* row = items.data() + r * cols;
    for (int64_t skip = 0; skip <= m.max_skip && skip < std::max<int64_t>(cols, 1); ++skip) {
      const int64_t step = skip + 1;
      for (int64_t start = 0; start < cols; ++start) {
        key.clear();
        for (int64_t n = 1, at = start; n <= m.max_n && at < cols; ++n, at += step) {
          key.push_back(row[at]);
          if (n < m.min_n || (n == 1 && skip > 0)) continue;  // 1-grams do not depend on the skip
          auto hit = index.find(key);
          if (hit != index.end()) ++counts[static_cast<size_t>(hit->second)];
        }
      }
    }
    for (int64_t c = 0; c < m.out_size; ++c) {
      const int64_t n = counts[static_cast<size_t>(c)];
      const float w = m.weight_at[static_cast<size_t>(c)];
      out[r * m.out_size + c] = m.mode == Weighting::kTf ? static_cast<float>(n)
                                : m.mode == Weighting::kIdf ? (n > 0 ? w : 0.0f)
                                                            : static_cast<float>(n) * w;
    }
  }
}

void compute_tfidf(KernelContext& ctx) {
  const TfIdfModel m = read_model(ctx);
  const Tensor& x = ctx.input(0);
  if (x.rank() > 2) ctx.bad_input("input must be [C] or [N, C], but it is {}", dims_str(x.dims()));
  const int64_t rows = x.rank() == 2 ? x.dim(0) : 1, cols = x.rank() == 0 ? 1 : x.dims().back();
  float* out = ctx.output(0).data<float>();
  if (m.strings) {
    if (x.dtype() != DType::kString) ctx.bad_input("input must be strings for pool_strings, not {}", dtype_name(x.dtype()));
    const std::vector<std::string> items(x.data<std::string>(), x.data<std::string>() + x.numel());
    count_rows<std::string>(m, ctx.attr_strings("pool_strings"), items, rows, cols, out);
  } else {
    if (x.dtype() != DType::kInt32 && x.dtype() != DType::kInt64)
      ctx.bad_input("input must be int32 or int64 for pool_int64s, not {}", dtype_name(x.dtype()));
    count_rows<int64_t>(m, ctx.attr_ints("pool_int64s"), x.to_int64_vector(), rows, cols, out);
  }
}

}  // namespace

KILN_REGISTER_OP(tfidf_vectorizer, {"", "TfIdfVectorizer", {9}, 0, infer_tfidf, compute_tfidf});

}  // namespace kiln::ops

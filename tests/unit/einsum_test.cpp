// Einsum against a brute-force evaluator written here: every assignment of every label, the product of the
// operands' elements added into the output element (numpy's definition of einsum).

#include <gtest/gtest.h>

#include <map>

#include "nn_test_util.h"
#include "op_test_util.h"

using namespace kiln;
using kiln::testing::OpCall;

namespace {

// terms: one label string per operand (one letter per dim, no ellipsis); out: output labels.
// A dim of size 1 broadcasts against the label's size elsewhere.
Tensor brute_einsum(const std::vector<std::string>& terms, const std::string& out, const std::vector<Tensor>& in) {
  std::map<char, int64_t> size;
  for (size_t i = 0; i < terms.size(); ++i)
    for (size_t d = 0; d < terms[i].size(); ++d) {
      int64_t& s = size[terms[i][d]];
      s = std::max(s, in[i].dim(d));
    }
  std::vector<char> labels;
  for (auto& [l, s] : size) labels.push_back(l);
  std::vector<int64_t> odims;
  for (char c : out) odims.push_back(size[c]);
  Tensor y(DType::kFloat64, odims);
  std::map<char, int64_t> idx;
  for (char l : labels) idx[l] = 0;
  int64_t total = 1;
  for (char l : labels) total *= size[l];
  for (int64_t it = 0; it < total; ++it) {
    int64_t rem = it;
    for (size_t j = labels.size(); j-- > 0;) {
      idx[labels[j]] = rem % size[labels[j]];
      rem /= size[labels[j]];
    }
    double prod = 1;
    for (size_t i = 0; i < terms.size(); ++i) {
      int64_t off = 0;
      for (size_t d = 0; d < terms[i].size(); ++d) off = off * in[i].dim(d) + (in[i].dim(d) == 1 ? 0 : idx[terms[i][d]]);
      prod *= in[i].double_at(off);
    }
    int64_t o = 0;
    for (char c : out) o = o * size[c] + idx[c];
    y.data<double>()[o] += prod;
  }
  return y;
}

void check(const std::string& eq, const std::vector<std::vector<int64_t>>& shapes, const std::vector<std::string>& terms,
           const std::string& out, DType t = DType::kFloat32) {
  SCOPED_TRACE(eq);
  std::mt19937 rng(static_cast<unsigned>(eq.size() * 31 + shapes.size()));
  std::vector<Tensor> in;
  for (const auto& s : shapes) in.push_back(kiln::testing::random_tensor(s, rng, t));
  Tensor y = OpCall("Einsum", 12).attr("equation", eq).run1(in);
  Tensor want = brute_einsum(terms, out, in);
  ASSERT_EQ(y.dims(), want.dims());
  ASSERT_EQ(y.dtype(), t);
  const double tol = t == DType::kFloat32 ? 1e-4 : t == DType::kFloat64 ? 1e-12 : 3e-2;
  for (int64_t i = 0; i < y.numel(); ++i)
    ASSERT_NEAR(y.double_at(i), want.double_at(i), tol * (1 + std::abs(want.double_at(i)))) << "element " << i;
}

TEST(Einsum, MatmulFamily) {
  check("ij,jk->ik", {{7, 65}, {65, 3}}, {"ij", "jk"}, "ik");
  check("ij,jk", {{4, 5}, {5, 6}}, {"ij", "jk"}, "ik");  // implicit output
  check("bij,bjk->bik", {{3, 4, 5}, {3, 5, 2}}, {"bij", "bjk"}, "bik");
  check("bhqd,bhkd->bhqk", {{2, 3, 4, 8}, {2, 3, 5, 8}}, {"bhqd", "bhkd"}, "bhqk");
  check("ij,kj->ki", {{3, 4}, {5, 4}}, {"ij", "kj"}, "ki");
  check("i,i", {{9}, {9}}, {"i", "i"}, "");
  check("i,j->ij", {{3}, {4}}, {"i", "j"}, "ij");
  check("ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}, {"ij", "jk", "kl"}, "il");
  check("abc,cd,de->abe", {{2, 3, 4}, {4, 2}, {2, 3}}, {"abc", "cd", "de"}, "abe");
}

TEST(Einsum, SingleOperandTransposeSumDiagonal) {
  check("ij->ji", {{3, 5}}, {"ij"}, "ji");
  check("ij->", {{3, 5}}, {"ij"}, "");
  check("ijk->ki", {{2, 3, 4}}, {"ijk"}, "ki");
  check("ii->i", {{4, 4}}, {"ii"}, "i");
  check("ii", {{4, 4}}, {"ii"}, "");  // implicit: trace
  check("iij->ji", {{3, 3, 2}}, {"iij"}, "ji");
  check("bii->b", {{2, 5, 5}}, {"bii"}, "b");
  check("ji", {{3, 4}}, {"ji"}, "ij");  // implicit output is alphabetical: a transpose
}

TEST(Einsum, LabelsSummedInOneOperandOnly) {
  check("ij,k->i", {{3, 4}, {5}}, {"ij", "k"}, "i");
  check("ij,jk->j", {{3, 4}, {4, 2}}, {"ij", "jk"}, "j");
  check("ii,ij->j", {{3, 3}, {3, 2}}, {"ii", "ij"}, "j");
}

TEST(Einsum, EllipsisBroadcasts) {
  // "...ij,...jk->...ik" with batch dims [2,3] and [3] (right-aligned): x and y stand for the batch dims.
  check("...ij,...jk->...ik", {{2, 3, 4, 5}, {3, 5, 2}}, {"xyij", "yjk"}, "xyik");
  check("...ij,...jk->...ik", {{2, 1, 4, 5}, {3, 5, 2}}, {"xyij", "yjk"}, "xyik");  // size-1 broadcast
  check("i...->...", {{3, 2, 4}}, {"ixy"}, "xy");
  check("...ii->...i", {{2, 3, 3}}, {"xii"}, "xi");
  check("...,...", {{2, 3}, {2, 3}}, {"xy", "xy"}, "xy");  // implicit with ellipsis: elementwise product
}

TEST(Einsum, Types) {
  check("ij,jk->ik", {{3, 4}, {4, 2}}, {"ij", "jk"}, "ik", DType::kFloat64);
  check("bij,bjk->bik", {{2, 3, 4}, {2, 4, 2}}, {"bij", "bjk"}, "bik", DType::kFloat16);
  check("ij->i", {{3, 4}}, {"ij"}, "i", DType::kBFloat16);
  Tensor a = Tensor::from_vector<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor y = OpCall("Einsum", 12).attr("equation", std::string("ii->")).run1({a});
  EXPECT_EQ(y.data<int64_t>()[0], 5);
  Tensor b = Tensor::from_vector<int32_t>({2}, {3, -4});
  EXPECT_EQ(OpCall("Einsum", 12).attr("equation", std::string("i,i->")).run1({b, b}).data<int32_t>()[0], 25);
}

TEST(Einsum, ErrorsAndInference) {
  std::mt19937 rng(41);
  Tensor a = kiln::testing::random_tensor({3, 4}, rng), b = kiln::testing::random_tensor({5, 6}, rng);
  auto eq = [](const std::string& e) { return OpCall("Einsum", 12).attr("equation", e); };
  const std::string msg = kiln::testing::error_of([&] { eq("ij,jk->ik").run1({a, b}); });
  EXPECT_NE(msg.find("4"), std::string::npos);
  EXPECT_NE(msg.find("5"), std::string::npos);
  EXPECT_THROW(eq("ij->ik").run1({a}), Error);    // k in no input
  EXPECT_THROW(eq("ijk->i").run1({a}), Error);    // rank mismatch
  EXPECT_THROW(eq("ij,jk->ik").run1({a}), Error); // two terms, one input
  EXPECT_THROW(eq("i1->i").run1({a}), Error);     // bad character
  EXPECT_THROW(eq("ij->ii").run1({a}), Error);    // repeated output label
  kiln::testing::InferNode call("Einsum", 12);
  call.str("equation", "bsh,hd->bsd");
  auto out = call.run({{DType::kFloat32, Shape({Dim::symbol("batch"), Dim::symbol("seq"), Dim(64)})},
                       {DType::kFloat32, Shape::from({64, 16})}});
  EXPECT_EQ(out[0].shape.str(), "[batch,seq,16]");
}

}  // namespace

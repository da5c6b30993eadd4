// LSTM and GRU through their prepared (fast) kernels against the ops' reference compute: every direction,
// sequence_lens (with ended and empty sequences), initial states, biases, peepholes, input_forget, clip,
// linear_before_reset, both layouts; 1 and 2 threads identical; every ISA tier this CPU has. Activations other
// than the defaults, and weights fed at run time, have no fast path.

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "../unit/nn_test_util.h"
#include "ops/rnn_prepared.h"
#include "prepared_compare.h"

namespace kiln::testing {
namespace {

namespace rnn = ops::rnn;

using prep::float_attr;
using prep::int_attr;
using prep::string_attr;
using prep::strings_attr;

class RnnPrepared : public prep::TierTest {};
KILN_TIER_TESTS(RnnPrepared);

struct RnnCase {
  bool lstm = true;
  std::string direction = "forward";
  int64_t seq = 4, batch = 2, input = 3, hidden = 5;
  int layout = 0;
  bool bias = true, lens = false, init_h = false, init_c = false, peepholes = false, input_forget = false;
  bool lbr = true;
  float clip = 0;  // 0: none
  int64_t len0 = -1;  // with lens: row 0's length (-1: the full sequence)

  std::string str() const {
    std::string s = std::string(lstm ? "LSTM" : "GRU") + " " + direction + " seq " + std::to_string(seq) + " batch " +
                    std::to_string(batch) + " in " + std::to_string(input) + " hidden " + std::to_string(hidden) +
                    " layout " + std::to_string(layout);
    if (bias) s += " +B";
    if (lens) s += " +lens";
    if (init_h) s += " +h0";
    if (init_c) s += " +c0";
    if (peepholes) s += " +P";
    if (input_forget) s += " input_forget";
    if (!lstm) s += lbr ? " lbr" : " no-lbr";
    if (clip > 0) s += " clip " + std::to_string(clip);
    return s;
  }
};

void run_case(const RnnCase& c, std::mt19937& rng) {
  const int64_t dirs = c.direction == "bidirectional" ? 2 : 1, gates = c.lstm ? 4 : 3;
  PreparedNode n(c.lstm ? "LSTM" : "GRU", 22);
  n.attr(string_attr("direction", c.direction)).attr(int_attr("hidden_size", c.hidden));
  n.attr(int_attr("layout", c.layout));
  if (c.clip > 0) n.attr(float_attr("clip", c.clip));
  if (c.lstm && c.input_forget) n.attr(int_attr("input_forget", 1));
  if (!c.lstm) n.attr(int_attr("linear_before_reset", c.lbr));
  const std::vector<int64_t> x_dims = c.layout == 0 ? std::vector<int64_t>{c.seq, c.batch, c.input}
                                                    : std::vector<int64_t>{c.batch, c.seq, c.input};
  const std::vector<int64_t> state = c.layout == 0 ? std::vector<int64_t>{dirs, c.batch, c.hidden}
                                                   : std::vector<int64_t>{c.batch, dirs, c.hidden};
  // Weights of PyTorch's initial scale, 1/sqrt(hidden), times 2 so gates leave the linear range of sigmoid/tanh
  // and clip has work to do; much larger weights make a long recurrence chaotic, amplifying the last-bit
  // differences of any two summation orders past any tolerance.
  const float scale = 2.0f / std::sqrt(static_cast<float>(c.hidden));
  auto weights = [&](std::vector<int64_t> d) {
    Tensor t = random_tensor(std::move(d), rng);
    for (float& v : t.span<float>()) v *= scale;
    return t;
  };
  n.input(random_tensor(x_dims, rng), false);
  n.constant(weights({dirs, gates * c.hidden, c.input})).constant(weights({dirs, gates * c.hidden, c.hidden}));
  if (c.bias) n.constant(random_tensor({dirs, 2 * gates * c.hidden}, rng)); else n.absent();
  if (c.lens) {
    std::vector<int32_t> lens(static_cast<size_t>(c.batch));
    for (int64_t b = 0; b < c.batch; ++b)  // row 1 empty, even rows full, odd rows shorter
      lens[static_cast<size_t>(b)] =
          static_cast<int32_t>(b == 0 && c.len0 >= 0 ? c.len0
                               : b == 1             ? 0
                               : b % 2 == 0         ? c.seq
                                                    : std::max<int64_t>(1, c.seq - b));
    n.input(Tensor::from_vector<int32_t>({c.batch}, lens));
  } else {
    n.absent();
  }
  if (c.init_h) n.input(random_tensor(state, rng)); else n.absent();
  if (c.lstm) {
    if (c.init_c) n.input(random_tensor(state, rng)); else n.absent();
    if (c.peepholes) n.constant(random_tensor({dirs, 3 * c.hidden}, rng));
  }
  prep::expect_prepared_matches(n, c.lstm ? 3 : 2, 2e-5, c.str());
}

TEST_P(RnnPrepared, RandomConfigurationsMatchTheReference) {
  std::mt19937 rng(2024);
  auto pick = [&](int lo, int hi) { return static_cast<int64_t>(std::uniform_int_distribution<int>(lo, hi)(rng)); };
  const char* dirs[] = {"forward", "reverse", "bidirectional"};
  for (int i = 0; i < 96; ++i) {
    RnnCase c;
    c.lstm = i % 2 == 0;
    c.direction = dirs[i / 2 % 3];
    c.seq = pick(1, 6);
    c.batch = std::vector<int64_t>{1, 1, 2, 4}[static_cast<size_t>(pick(0, 3))];
    c.input = pick(1, 9);
    c.hidden = std::vector<int64_t>{1, 4, 8, 17, 32}[static_cast<size_t>(pick(0, 4))];
    c.layout = static_cast<int>(pick(0, 1));
    c.bias = pick(0, 3) != 0;
    c.lens = c.batch > 1 && pick(0, 1) == 1;
    c.init_h = pick(0, 1) == 1;
    c.init_c = c.lstm && pick(0, 1) == 1;
    c.peepholes = c.lstm && pick(0, 2) == 0;
    c.input_forget = c.lstm && pick(0, 4) == 0;
    c.lbr = pick(0, 1) == 1;
    c.clip = pick(0, 2) == 0 ? 0.7f : 0.0f;
    run_case(c, rng);
  }
}

TEST_P(RnnPrepared, TaggerSizedSequences) {
  std::mt19937 rng(11);
  RnnCase lstm;
  lstm.direction = "bidirectional", lstm.seq = 40, lstm.batch = 1, lstm.input = 64, lstm.hidden = 96;
  run_case(lstm, rng);
  RnnCase gru = lstm;
  gru.lstm = false, gru.batch = 3, gru.lens = true, gru.layout = 1;
  run_case(gru, rng);
  // A batch of one multiplies the state by R as a matrix-vector product (kernels/gemv): R's 3 x 70 = 210 rows
  // are three full 64-row panels and a ragged one; forward and reverse.
  RnnCase one = lstm;
  one.lstm = false, one.hidden = 70, one.direction = "reverse";
  run_case(one, rng);
  one.lstm = true, one.direction = "forward";
  run_case(one, rng);
}

// A batch of 2 to 8 multiplies its states by R in one pass over R's gemv panels (kernels::gemv_batch_f32, tiles of
// 4 or 8 states: batches past a tile, a short last group); 9 takes the GEMM. Ragged R (hidden 70: 210 or 280 rows),
// sequences of different lengths, both GRU forms.
TEST_P(RnnPrepared, SmallBatchesMultiplyTheStatesInOnePass) {
  std::mt19937 rng(13);
  for (int64_t batch = 2; batch <= 9; ++batch)
    for (bool lstm : {true, false}) {
      RnnCase c;
      c.lstm = lstm, c.direction = batch % 2 ? "bidirectional" : "forward", c.batch = batch, c.seq = 5;
      c.input = 7, c.hidden = 70, c.lens = true, c.init_h = true, c.lbr = batch % 3 != 0, c.layout = batch % 2;
      run_case(c, rng);
    }
}

// A batch of one alternates the order of R's panels from step to step (kernels/gemv's descending), so a step starts
// where the last one ended: ragged hidden sizes (17 -> 68 rows of R for LSTM, 2 panels; 33 -> 99 for GRU; 100 ->
// 400, 7 panels), both directions on their own threads at 2 threads, and one direction whose R (520 x 130) is split
// over the pool at 2 threads; every step count from 1 to 5 ends on either order.
TEST_P(RnnPrepared, BatchOfOneAlternatesThePanelOrder) {
  std::mt19937 rng(14);
  for (int64_t hidden : {17, 33, 100}) {
    for (bool lstm : {true, false}) {
      RnnCase c;
      c.lstm = lstm, c.direction = "bidirectional", c.batch = 1, c.input = 24, c.hidden = hidden;
      c.seq = 12 + hidden % 5, c.init_h = true, c.init_c = lstm;
      run_case(c, rng);
    }
  }
  for (int64_t seq = 1; seq <= 5; ++seq) {
    RnnCase c;
    c.direction = seq % 2 ? "forward" : "reverse", c.batch = 1, c.input = 8, c.hidden = 130, c.seq = seq;
    c.clip = seq == 3 ? 0.7f : 0.0f;
    run_case(c, rng);
  }
}

// A batch of one computes its input product 8 steps ahead, along each step's R·h (kernels::GemvSide): sequences of
// 1 to 20 steps (a short or full last block), a sequence_lens shorter than the sequence (0 included: nothing computed),
// gate counts whose columns end inside a 32-column tile (hidden 5, 17), input sizes below, at and above the
// product's K (one or two side terms per product term, or the tiles after the product).
TEST_P(RnnPrepared, BatchOfOneComputesTheInputProductAhead) {
  std::mt19937 rng(15);
  const int64_t seqs[] = {1, 7, 8, 9, 16, 20}, inputs[] = {5, 40, 64, 130};
  for (size_t i = 0; i < std::size(seqs); ++i) {
    for (bool lstm : {true, false}) {
      const int64_t seq = seqs[i];
      RnnCase c;
      c.lstm = lstm, c.direction = "bidirectional", c.batch = 1, c.seq = seq;
      c.hidden = seq == 7 || seq == 9 ? 17 : 64, c.input = inputs[(i + (lstm ? 0 : 2)) % 4];
      c.lbr = seq % 3 != 0;
      run_case(c, rng);
      c.lens = true, c.len0 = seq / 2, c.direction = "reverse";
      run_case(c, rng);
      c.len0 = 0, c.direction = "bidirectional", c.hidden = 5;
      run_case(c, rng);
    }
  }
}

TEST_P(RnnPrepared, StepByStepInputProductPastTheScratchLimit) {
  std::mt19937 rng(13);
  rnn::set_all_steps_input_limit(0);
  for (int i = 0; i < 4; ++i) {
    RnnCase c;
    c.lstm = i % 2 == 0;
    c.direction = i < 2 ? "bidirectional" : "reverse";
    c.batch = 3, c.lens = true, c.init_h = true, c.layout = i % 2, c.seq = 5;
    run_case(c, rng);
  }
  rnn::set_all_steps_input_limit(int64_t{8} << 20);
}

TEST_P(RnnPrepared, OtherActivationsAndRunTimeWeightsHaveNoFastPath) {
  std::mt19937 rng(12);
  PreparedNode a("GRU", 22);
  a.attr(int_attr("hidden_size", 2)).attr(strings_attr("activations", {"Sigmoid", "Relu"}));
  a.input(random_tensor({2, 1, 3}, rng)).constant(random_tensor({1, 6, 3}, rng));
  a.constant(random_tensor({1, 6, 2}, rng));
  EXPECT_EQ(a.prepare(2), nullptr);
  PreparedNode b("LSTM", 22);
  b.attr(int_attr("hidden_size", 2));
  b.input(random_tensor({2, 1, 3}, rng)).input(random_tensor({1, 8, 3}, rng)).constant(random_tensor({1, 8, 2}, rng));
  EXPECT_EQ(b.prepare(3), nullptr);
}

}  // namespace
}  // namespace kiln::testing

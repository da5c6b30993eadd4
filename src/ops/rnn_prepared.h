#pragma once
// What the prepared (fast) LSTM and GRU share, float32: W and R of every direction packed once per session;
// per run, the input-to-hidden product of ALL time steps as one GEMM (X·Wᵀ + bias, rows in X's own layout; a batch
// of one instead computes it 8 steps ahead, along the steps' R·h);
// per step, one GEMM of the states by the packed R (kernels/gemv instead for a batch of one, a matrix-vector product,
// and for 2 to 8 states, gemv_batch_f32)
// and the op's fused gate math (the `cell`), with the
// vectorised activations of kernels::apply_activation_f32. Directions run on their own threads when the pool
// has two; sequence_lens, initial states, clip and both layouts are handled here, so an op supplies only its
// biases and its cell. Only the default activations are prepared (others run the reference).

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "kernels/activation.h"
#include "kernels/gemm/gemm.h"
#include "ops/op.h"
#include "ops/rnn_common.h"

namespace kiln::ops::rnn {

class PreparedRecurrent : public PreparedKernel {
 public:
  void run(KernelContext& ctx) const final;
  size_t packed_bytes() const final;

  /// What a cell sees at one time step of direction d. g holds, for every row of the batch, the states times
  /// the packed R (columns [0, rec_cols)) plus rec_bias; xw[b] is the row of X·Wᵀ + x_bias that row b reads at
  /// this step (gates * hidden), or nullptr when its sequence has ended (the cell must then leave its states).
  struct Step {
    int64_t d = 0, batch = 0, hidden = 0;
    const float* const* xw = nullptr;
    float* g = nullptr;
    float* h = nullptr;  ///< [batch, hidden], updated in place
    float* c = nullptr;  ///< [batch, hidden] (LSTM only)
    float* extra = nullptr;  ///< extra_floats() floats of scratch
    kernels::ThreadPool* pool = nullptr;  ///< for a GEMM inside the cell (null: the calling thread)
    bool xw_added = false;  ///< g already holds xw[0] added (a batch of one, xw_into_state_product)
  };

  // Filled by prepare_recurrent and the op.
  RnnConfig cfg;
  RnnOpSpec spec;
  int64_t hidden = 0, input = 0, gh = 0;  ///< gh = gates * hidden
  int64_t rec_cols = 0;                   ///< columns of R multiplied per step (gh, or GRU's 2 * hidden)
  std::vector<kernels::PackedGemmOperand> w, r;  ///< per direction: Wᵀ [input, gh], Rᵀ [hidden, rec_cols]
  /// Per direction, R's first rec_cols rows packed for kernels::gemv_f32: a batch of one multiplies its state
  /// by R as a matrix-vector product (R streamed once per step, rows split over the pool in fixed blocks). Packed
  /// through PrepareContext::packed: 64-byte aligned, and saved in an engine.
  std::vector<PackedBytes> r_rows;
  /// Per direction, W [gh, input] packed in 32-row tiles (kernels::gemv_side_pack): a batch of one computes its
  /// input product 8 steps ahead, as side work of the step's R·h (kernels::GemvSide), instead of one GEMM over all
  /// steps before the first.
  std::vector<PackedBytes> w_rows;
  std::vector<float> x_bias;    ///< [dirs, gh], added to X·Wᵀ
  std::vector<float> rec_bias;  ///< [dirs, rec_cols] added to the states times R, or empty
  std::vector<int64_t> w_dims, r_dims;
  /// The cell adds xw to every column of g first (LSTM): a batch of one adds it in the gemv's epilogue instead
  /// (its residual: the same sum, one pass over g fewer).
  bool xw_into_state_product = false;
  ComputeFn reference = nullptr;

 protected:
  virtual void cell(const Step& s) const = 0;
  /// Scratch floats a cell needs beyond g (batch rows).
  virtual int64_t extra_floats(int64_t batch) const { return 0; }
  /// Further packed bytes an op holds.
  virtual size_t extra_packed_bytes() const { return 0; }

 private:
  struct Run;
  bool read_run(const KernelContext& ctx, Run& run) const;
  void run_direction(const Run& run, int64_t d, kernels::ThreadPool* pool) const;
};

/// Fills the shared part of `k` for an LSTM or GRU node, or returns false when the node has no fast path
/// (a dtype other than float32, W or R not constant, B or P not constant, activations other than the
/// defaults). Packs W fully and the first `rec_cols` rows of each direction's R; the biases are the op's to set.
bool prepare_recurrent(PrepareContext& ctx, const RnnOpSpec& spec, int64_t rec_cols_per_hidden,
                       PreparedRecurrent& k);

/// The node's B input as [dirs, 2 * gh] (zeros when absent), for an op to build its biases from.
std::vector<float> recurrent_bias(const PrepareContext& ctx, const PreparedRecurrent& k);

/// Past this many floats (seq * batch * gates * hidden) the input product is computed step by step instead of for
/// all steps at once (default 8 Mi floats, 32 MiB). For tests, which reach the step-by-step path on small sizes.
void set_all_steps_input_limit(int64_t floats);

/// x[j] = kind(x[j]) for j < n, in place (the gates' sigmoid and tanh).
void activate_f32(kernels::Activation kind, float* x, int64_t n);

/// x[j] = min(max(x[j], -clip), clip) for j < n when clip is set.
void clip_f32(float* x, int64_t n, const std::optional<float>& clip);

}  // namespace kiln::ops::rnn

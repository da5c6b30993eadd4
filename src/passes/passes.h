#pragma once
// Each pass object, defined in its own file. pipeline.cpp puts them in order; tests run them one at a time.

#include "passes/pass.h"

namespace kiln::passes {

const Pass& remove_identity_pass();         // remove_identity.cpp
const Pass& remove_dropout_pass();          // remove_dropout.cpp
const Pass& fold_constants_pass();          // fold_constants.cpp
const Pass& eliminate_dead_nodes_pass();    // eliminate_dead_nodes.cpp
const Pass& fold_conv_batchnorm_pass();     // fold_conv_batchnorm.cpp
const Pass& fuse_attention_pass();          // fuse_attention.cpp
const Pass& fold_attention_transposes_pass();  // fold_attention_transposes.cpp
const Pass& fuse_layer_norm_pass();         // fuse_layer_norm.cpp
const Pass& fuse_gemm_pass();               // fuse_gemm.cpp
const Pass& fuse_matmul_add_pass();         // fuse_matmul_add.cpp
const Pass& fuse_matmul_activation_pass();  // fuse_matmul_activation.cpp
const Pass& fuse_matmul_split_pass();       // fuse_matmul_split.cpp
const Pass& fuse_conv_pass();               // fuse_conv.cpp
const Pass& fuse_gelu_pass();               // fuse_gelu.cpp
const Pass& to_channels_last_pass();        // to_channels_last.cpp
const Pass& fuse_inverted_residual_pass();  // fuse_inverted_residual.cpp
const Pass& fuse_channel_scale_pass();      // fuse_channel_scale.cpp
const Pass& fold_reshape_targets_pass();    // fold_reshape_targets.cpp
const Pass& remove_no_ops_pass();           // remove_no_ops.cpp
const Pass& transpose_to_reshape_pass();    // transpose_to_reshape.cpp
const Pass& scalarize_constant_fills_pass();  // scalarize_constant_fills.cpp
const Pass& merge_reshapes_pass();          // merge_reshapes.cpp
const Pass& shorten_shape_chains_pass();    // shorten_shape_chains.cpp
const Pass& remove_zero_rnn_state_pass();   // remove_zero_rnn_state.cpp
const Pass& eliminate_common_subexpressions_pass();  // eliminate_common_subexpressions.cpp

}  // namespace kiln::passes

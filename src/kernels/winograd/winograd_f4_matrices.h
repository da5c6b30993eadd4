#pragma once
// The matrices of Winograd F(4x4, 3x3) with the interpolation points 0, 1, -1, 1/2, -2 and infinity (Toom-Cook;
// derived and checked exact in rational arithmetic): y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d Bᵀᵀ)] A for a 6x6 input patch d, the
// 3x3 filter g and the 4x4 output y (a correlation, as Conv computes). Bᵀ and Aᵀ hold only dyadic rationals
// (exact in float); G's thirds and fifteenths apply to the weights once, in double. Shared by the reference
// (winograd_f4_ref.cpp) and the tiered transforms (winograd_f4_impl.h).

namespace kiln::kernels::winograd_f4 {

inline constexpr float kBt[6][6] = {
    {1, -1.5f, -2, 1.5f, 1, 0}, {0, -1, 0.5f, 2.5f, 1, 0}, {0, 1, -2.5f, 0.5f, 1, 0},
    {0, -2, -1, 2, 1, 0},       {0, 0.5f, -1, -0.5f, 1, 0}, {0, 1, -1.5f, -2, 1.5f, 1}};
inline constexpr double kG[6][3] = {{1, 0, 0},
                                    {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                    {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                    {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                    {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                    {0, 0, 1}};
inline constexpr float kAt[4][6] = {
    {1, 1, 1, 1, 1, 0}, {0, 1, -1, 0.5f, -2, 0}, {0, 1, 1, 0.25f, 4, 0}, {0, 1, -1, 0.125f, -8, 1}};

}  // namespace kiln::kernels::winograd_f4

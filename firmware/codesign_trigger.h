// codesign: the hand-written trigger blocks around a network (HLS C++, Vitis HLS / Vivado HLS).
//
//   raw hardware inputs --scale_inputs--> network --sum_of_squares (or output_score)--> score --compare--> pass bits
//
// Every block is bit-exact with codesign.fixed.trigger (the emulator); the types come from the
// generated trigger_parameters.h of each project, never from here.
#ifndef CODESIGN_TRIGGER_H_
#define CODESIGN_TRIGGER_H_

#include "ap_fixed.h"

namespace codesign {

// x_nn[i] = (nn_t)((raw[i] - offset[i]) >> shift[i]), without multipliers; a negative shift[i] is
// the left shift << -shift[i].
// diff_t holds raw - offset exactly, and its left shifts (one more integer bit per bit of the
// largest left shift); a right shift keeps diff_t (bits below its LSB are dropped, i.e. floor);
// the final assignment rounds and saturates as nn_t says.
template <class raw_t, class diff_t, class nn_t, int N>
void scale_inputs(const raw_t raw[N], const int offset[N], const int shift[N], nn_t out[N]) {
#pragma HLS INLINE
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        diff_t difference = diff_t(raw[i]) - diff_t(offset[i]);
        if (shift[i] >= 0) {
            difference = difference >> shift[i];
        } else {
            difference = difference << -shift[i];
        }
        out[i] = difference;
    }
}

// score = (score_t)((sum_i mu[i]^2) >> SHIFT): squares and sum exact in sum_t, the right shift inside sum_t
// (bits below its LSB dropped: on the integer counts, sum >> SHIFT), one cast at the end.
template <class mu_t, class sum_t, class score_t, int N, int SHIFT>
void sum_of_squares(const mu_t mu[N], score_t &score) {
#pragma HLS INLINE
    sum_t sum = 0;
    for (int i = 0; i < N; i++) {
#pragma HLS UNROLL
        sum += mu[i] * mu[i];
    }
    score = sum >> SHIFT;
}

// score = (score_t)(out[0]): a network that regresses its score (CICADA), one cast.
template <class out_t, class score_t>
void output_score(const out_t out[1], score_t &score) {
#pragma HLS INLINE
    score = out[0];
}

// pass[w] = score > threshold[w]: one comparator per working point.
template <class score_t, int N_WP>
void compare(const score_t &score, const score_t threshold[N_WP], bool pass[N_WP]) {
#pragma HLS INLINE
    for (int w = 0; w < N_WP; w++) {
#pragma HLS UNROLL
        pass[w] = score > threshold[w];
    }
}

}  // namespace codesign

#endif

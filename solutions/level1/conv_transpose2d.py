"""Reference CUDA solution for problem `conv_transpose2d`: the doubling case (kernel 4, stride 2, padding 1) splits by
output parity into four 2 x 2 convolutions, each run as an implicit GEMM on TF32 tensor cores (mma.sync.m16n8k8;
cuDNN runs this float32 problem in TF32 too, and the 1e-2 tolerance allows it) with the B operand read from a two-
row input window through a table of offsets; other shapes fall back to a gather kernel (one output pixel x 4
channels per thread). Roofline on an H200: 8.6 GFLOP at 495 TFLOP/s TF32 (0.02 ms), as long as its 100 MB of
traffic; the gather kernel alone ran at 0.03x eager."""

import torch
import torch.nn as nn
from torch.utils.cpp_extension import load_inline

cuda_source = r"""
#include <c10/cuda/CUDAStream.h>
#include <cfloat>
#include <cstdint>

#define FULL_MASK 0xffffffffu
static inline cudaStream_t cur_stream() { return c10::cuda::getCurrentCUDAStream(); }
static inline void check_cuda_f32(const torch::Tensor& t, const char* name) {
    TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
    TORCH_CHECK(t.scalar_type() == torch::kFloat32, name, " must be float32");
    TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

#define CT_OC 4
// y[n, co, oy, ox] = b[co] + sum_ci sum_{ky,kx} x[n, ci, iy, ix] * w[ci, co, ky, kx],  oy = iy*S - P + ky.
__global__ void conv_transpose_kernel(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                                      float* __restrict__ y, int Cin, int Cout, int H, int W, int OH, int OW,
                                      int K, int S, int P) {
    const int ox = blockIdx.x * blockDim.x + threadIdx.x;
    const int oy = blockIdx.y;
    const int co0 = (blockIdx.z % ((Cout + CT_OC - 1) / CT_OC)) * CT_OC;
    const int n = blockIdx.z / ((Cout + CT_OC - 1) / CT_OC);
    if (ox >= OW) return;
    float acc[CT_OC];
    #pragma unroll
    for (int o = 0; o < CT_OC; ++o) acc[o] = (co0 + o < Cout) ? b[co0 + o] : 0.f;
    for (int ky = 0; ky < K; ++ky) {
        const int ty = oy + P - ky;
        if (ty < 0 || ty % S != 0) continue;
        const int iy = ty / S;
        if (iy >= H) continue;
        for (int kx = 0; kx < K; ++kx) {
            const int tx = ox + P - kx;
            if (tx < 0 || tx % S != 0) continue;
            const int ix = tx / S;
            if (ix >= W) continue;
            const float* xp = x + ((long long)n * Cin * H + iy) * W + ix;
            for (int ci = 0; ci < Cin; ++ci) {
                const float v = __ldg(xp + (long long)ci * H * W);
                const float* wp = w + (((long long)ci * Cout + co0) * K + ky) * K + kx;
                #pragma unroll
                for (int o = 0; o < CT_OC; ++o)
                    if (co0 + o < Cout) acc[o] = fmaf(v, __ldg(wp + (long long)o * K * K), acc[o]);
            }
        }
    }
    #pragma unroll
    for (int o = 0; o < CT_OC; ++o)
        if (co0 + o < Cout) y[(((long long)n * Cout + co0 + o) * OH + oy) * OW + ox] = acc[o];
}

// The doubling case (K = 4, stride 2, padding 1) as implicit GEMMs on TF32 tensor cores (mma.sync.m16n8k8),
// the precision cuDNN uses for this float32 problem by default: an output pixel of row parity (oy + 1) % 2 and
// column parity px receives exactly 2 x 2 taps, ky in {ky0, ky0 + 2} and kx in {kx0, kx0 + 2}, from input rows
// iy0 and iy0 - 1 and input columns n + d (d in {0, -1} for even columns, {1, 0} for odd ones) where ox = 2n + px.
// A block owns 64 output channels x one output row x 128 output columns of one parity: a GEMM with
// R = Cin x 4, whose B operand is read from a 2-row input window through a table of offsets.
#define CTT_CO 64
#define CTT_N 128
#define CTT_CI 8
#define CTT_XW (CTT_N + 2)
#define CTT_R (CTT_CI * 4)
#define CTT_WLD (CTT_R + 4)
__device__ __forceinline__ uint32_t ct_tf32(float f) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(f));
    return r;
}
__device__ __forceinline__ void ct_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__global__ void __launch_bounds__(256) deconv_s2k4_tf32_kernel(const float* __restrict__ x, const float* __restrict__ w,
        const float* __restrict__ b, float* __restrict__ y, int Cin, int Cout, int H, int W, int OH, int OW) {
    __shared__ float xs[CTT_CI * 2 * CTT_XW];       // [ci][a][j]: x[ci][iy0 - a][n0 - 1 + j]
    __shared__ float ws[CTT_CO * CTT_WLD];          // [co][r], r = ci * 4 + a * 2 + c
    __shared__ int off[CTT_R];
    const int n0 = blockIdx.x * CTT_N, co0 = blockIdx.y * CTT_CO;
    const int px = blockIdx.z & 1, oy = (blockIdx.z >> 1) % OH, img = (blockIdx.z >> 1) / OH;
    const int ky0 = (oy + 1) & 1, kx0 = (px + 1) & 1, iy0 = (oy + 1 - ky0) / 2;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wm = warp >> 2, wn = warp & 3;
    if (tid < CTT_R) {
        const int ci = tid / 4, a = (tid % 4) / 2, c = tid % 2;
        const int d = (px + 1 - (kx0 + 2 * c)) / 2;   // input column = n + d
        off[tid] = (ci * 2 + a) * CTT_XW + d + 1;
    }
    float acc[2][4][4];
    #pragma unroll
    for (int i = 0; i < 2; ++i)
        #pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;
    const float* xn = x + (long long)img * Cin * H * W;
    for (int ci0 = 0; ci0 < Cin; ci0 += CTT_CI) {
        for (int i = tid; i < CTT_CI * 2 * CTT_XW; i += 256) {
            const int row = i / CTT_XW, c = ci0 + row / 2, ih = iy0 - row % 2, iw = n0 - 1 + i % CTT_XW;
            xs[i] = (c < Cin && ih >= 0 && ih < H && iw >= 0 && iw < W) ? xn[((long long)c * H + ih) * W + iw] : 0.f;
        }
        for (int i = tid; i < CTT_CO * CTT_R; i += 256) {
            const int co = i / CTT_R, r = i % CTT_R, gco = co0 + co, gci = ci0 + r / 4;
            const int ky = ky0 + 2 * ((r % 4) / 2), kx = kx0 + 2 * (r % 2);
            ws[co * CTT_WLD + r] = (gco < Cout && gci < Cin) ? w[(((long long)gci * Cout + gco) * 4 + ky) * 4 + kx] : 0.f;
        }
        __syncthreads();
        #pragma unroll
        for (int ks = 0; ks < CTT_R; ks += 8) {
            uint32_t af[2][4];
            #pragma unroll
            for (int i = 0; i < 2; ++i) {
                const float* wr = ws + (wm * 32 + i * 16 + g) * CTT_WLD + ks + t;
                af[i][0] = ct_tf32(wr[0]);
                af[i][1] = ct_tf32(wr[8 * CTT_WLD]);
                af[i][2] = ct_tf32(wr[4]);
                af[i][3] = ct_tf32(wr[8 * CTT_WLD + 4]);
            }
            const int o0 = off[ks + t], o1 = off[ks + t + 4];
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int c = wn * 32 + j * 8 + g;
                const uint32_t b0 = ct_tf32(xs[o0 + c]), b1 = ct_tf32(xs[o1 + c]);
                #pragma unroll
                for (int i = 0; i < 2; ++i) ct_mma(acc[i][j], af[i], b0, b1);
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < 2; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int co = co0 + wm * 32 + i * 16 + g + h * 8;
            if (co >= Cout) continue;
            const float bv = b[co];
            float* yr = y + (((long long)img * Cout + co) * OH + oy) * OW;
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                #pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int ox = 2 * (n0 + wn * 32 + j * 8 + 2 * t + e) + px;
                    if (ox < OW) yr[ox] = acc[i][j][2 * h + e] + bv;
                }
            }
        }
    }
}

torch::Tensor conv_transpose2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b, int64_t stride, int64_t padding) {
    x = x.contiguous(); w = w.contiguous();
    check_cuda_f32(x, "x"); check_cuda_f32(w, "weight"); check_cuda_f32(b, "bias");
    const int N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
    const int Cout = w.size(1), K = w.size(2);
    TORCH_CHECK(w.size(0) == Cin && w.size(3) == K, "expected a (Cin, Cout, K, K) weight");
    const int OH = (H - 1) * stride - 2 * padding + K, OW = (W - 1) * stride - 2 * padding + K;
    auto y = torch::empty({N, Cout, OH, OW}, x.options());
    if (y.numel() == 0) return y;
    if (K == 4 && stride == 2 && padding == 1) {
        const dim3 grid(((OW + 1) / 2 + CTT_N - 1) / CTT_N, (Cout + CTT_CO - 1) / CTT_CO, N * OH * 2);
        deconv_s2k4_tf32_kernel<<<grid, 256, 0, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
            y.data_ptr<float>(), Cin, Cout, H, W, OH, OW);
    } else {
        const int threads = 128;
        dim3 grid((OW + threads - 1) / threads, OH, N * ((Cout + CT_OC - 1) / CT_OC));
        conv_transpose_kernel<<<grid, threads, 0, cur_stream()>>>(x.data_ptr<float>(), w.data_ptr<float>(), b.data_ptr<float>(),
            y.data_ptr<float>(), Cin, Cout, H, W, OH, OW, K, (int)stride, (int)padding);
    }
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}
"""

cpp_source = r"""
torch::Tensor conv_transpose2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b, int64_t stride, int64_t padding);
"""

_ext = load_inline(
    name="conv_transpose2d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["conv_transpose2d_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.deconv = nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.conv_transpose2d_cuda(x, self.deconv.weight, self.deconv.bias, 2, 1)

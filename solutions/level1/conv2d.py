"""Reference CUDA solution for problem `conv2d`: an implicit GEMM on TF32 tensor cores (mma.sync.m16n8k8), the
precision cuDNN uses for this float32 problem by default (its tolerance of 1e-2 allows it): a block computes 64
output channels x one output row x 128 columns, input channels stream through shared memory 8 at a time, and the B
operand is gathered from the input window through a table of offsets (no im2col copy); bias in the epilogue.
Roofline on an H200: 19.3 GFLOP at 495 TFLOP/s TF32 is 0.04 ms (the 100 MB of traffic take 0.02 ms at 4.8 TB/s); the
first version, direct FP32 FMAs, ran at 0.12x eager."""

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

// 2-D convolution, stride 1, "same" padding (K/2), square odd kernel K <= 7, as an implicit GEMM on TF32
// tensor cores (mma.sync.m16n8k8), the precision cuDNN uses for this float32 problem by default.
// out[co][oh][ow] = sum over r = (ci, kh, kw) of W[co][r] * X[ci][oh + kh - pad][ow + kw - pad]. A block owns
// 64 output channels x one output row x 128 columns of one image; input channels stream through shared memory
// 8 at a time (K input rows of 128 + K - 1 values each, and the 64 x 8K^2 weights). B[r][ow] is read straight
// from that window through a table of row offsets, so no im2col copy exists. 8 warps in a 2 x 4 grid, each
// 32 channels x 32 columns as 2 x 4 mma tiles. Epilogue: + bias (optional), then inference batch norm
// (optional, from running statistics), then ReLU (optional).
#define CV_CO 64
#define CV_W 128
#define CV_CI 8
#define CV_MAXK 7
__device__ __forceinline__ uint32_t cv_tf32(float f) {
    uint32_t r;
    asm("cvt.rna.tf32.f32 %0, %1;\n" : "=r"(r) : "f"(f));
    return r;
}
__device__ __forceinline__ void cv_mma(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
static inline int cv_rp(int K) { return (CV_CI * K * K + 7) / 8 * 8; }
static inline size_t cv_smem_bytes(int K) {
    return (size_t)(CV_CI * K * (CV_W + K - 1) + CV_CO * (cv_rp(K) + 4)) * sizeof(float) + cv_rp(K) * sizeof(int);
}

__global__ void __launch_bounds__(256) conv2d_tf32_kernel(
        const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ bias,
        const float* __restrict__ bn_w, const float* __restrict__ bn_b, const float* __restrict__ bn_mean,
        const float* __restrict__ bn_var, float bn_eps, bool relu,
        float* __restrict__ y, int Cin, int Cout, int H, int W, int K) {
    extern __shared__ float smem[];
    const int XW = CV_W + K - 1, KK = K * K;
    const int R = CV_CI * KK, RP = (R + 7) / 8 * 8, WLD = RP + 4;   // WLD: conflict-free A-fragment reads
    float* xs = smem;                          // [CV_CI][K][XW]
    float* ws = xs + CV_CI * K * XW;           // [CV_CO][WLD]
    int* off = (int*)(ws + CV_CO * WLD);       // [RP]: where row r of B starts in xs
    const int ow0 = blockIdx.x * CV_W, co0 = blockIdx.y * CV_CO;
    const int n = blockIdx.z / H, oh = blockIdx.z % H, pad = K / 2;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
    const int wm = warp >> 2, wn = warp & 3;
    for (int r = tid; r < RP; r += 256) off[r] = r < R ? ((r / KK) * K + (r % KK) / K) * XW + r % K : 0;
    float acc[2][4][4];
    #pragma unroll
    for (int i = 0; i < 2; ++i)
        #pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j][0] = acc[i][j][1] = acc[i][j][2] = acc[i][j][3] = 0.f;
    const float* xn = x + (long long)n * Cin * H * W;
    for (int ci0 = 0; ci0 < Cin; ci0 += CV_CI) {
        for (int i = tid; i < CV_CI * K * XW; i += 256) {
            const int row = i / XW, c = ci0 + row / K, ih = oh - pad + row % K, iw = ow0 - pad + i % XW;
            xs[i] = (c < Cin && ih >= 0 && ih < H && iw >= 0 && iw < W) ? xn[((long long)c * H + ih) * W + iw] : 0.f;
        }
        for (int i = tid; i < CV_CO * RP; i += 256) {
            const int co = i / RP, r = i % RP, gco = co0 + co, gci = ci0 + r / KK;
            ws[co * WLD + r] = (r < R && gco < Cout && gci < Cin) ? w[((long long)gco * Cin + gci) * KK + r % KK] : 0.f;
        }
        __syncthreads();
        for (int ks = 0; ks < RP; ks += 8) {
            uint32_t af[2][4];
            #pragma unroll
            for (int i = 0; i < 2; ++i) {
                const float* wr = ws + (wm * 32 + i * 16 + g) * WLD + ks + t;
                af[i][0] = cv_tf32(wr[0]);
                af[i][1] = cv_tf32(wr[8 * WLD]);
                af[i][2] = cv_tf32(wr[4]);
                af[i][3] = cv_tf32(wr[8 * WLD + 4]);
            }
            const int o0 = off[ks + t], o1 = off[ks + t + 4];
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                const int c = wn * 32 + j * 8 + g;
                const uint32_t b0 = cv_tf32(xs[o0 + c]), b1 = cv_tf32(xs[o1 + c]);
                #pragma unroll
                for (int i = 0; i < 2; ++i) cv_mma(acc[i][j], af[i], b0, b1);
            }
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < 2; ++i) {
        #pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int oc = co0 + wm * 32 + i * 16 + g + h * 8;
            if (oc >= Cout) continue;
            float scale = 1.f, shift = bias != nullptr ? bias[oc] : 0.f;
            if (bn_w != nullptr) {   // (v + shift - mean) * s + beta, folded
                scale = bn_w[oc] * rsqrtf(bn_var[oc] + bn_eps);
                shift = (shift - bn_mean[oc]) * scale + bn_b[oc];
            }
            float* yr = y + (((long long)n * Cout + oc) * H + oh) * W;
            #pragma unroll
            for (int j = 0; j < 4; ++j) {
                #pragma unroll
                for (int e = 0; e < 2; ++e) {
                    const int ow = ow0 + wn * 32 + j * 8 + 2 * t + e;
                    if (ow >= W) continue;
                    float v = acc[i][j][2 * h + e] * scale + shift;
                    if (relu) v = fmaxf(v, 0.f);
                    yr[ow] = v;
                }
            }
        }
    }
}

static torch::Tensor conv2d_same(const torch::Tensor& x, const torch::Tensor& w, const float* bias,
                                 const float* bn_w, const float* bn_b, const float* bn_mean, const float* bn_var,
                                 float bn_eps, bool relu) {
    check_cuda_f32(x, "x");
    check_cuda_f32(w, "weight");
    const int N = x.size(0), Cin = x.size(1), H = x.size(2), W = x.size(3);
    const int Cout = w.size(0), K = w.size(2);
    TORCH_CHECK(w.size(1) == Cin && w.size(3) == K && K % 2 == 1 && K <= CV_MAXK, "unsupported conv weight shape");
    TORCH_CHECK((long long)N * H <= 2147483647LL, "too many output rows");
    auto y = torch::empty({N, Cout, H, W}, x.options());
    if (y.numel() == 0) return y;
    const size_t smem = cv_smem_bytes(K);
    C10_CUDA_CHECK(cudaFuncSetAttribute(conv2d_tf32_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    dim3 grid((W + CV_W - 1) / CV_W, (Cout + CV_CO - 1) / CV_CO, N * H);
    conv2d_tf32_kernel<<<grid, 256, smem, cur_stream()>>>(
        x.data_ptr<float>(), w.data_ptr<float>(), bias, bn_w, bn_b, bn_mean, bn_var, bn_eps, relu,
        y.data_ptr<float>(), Cin, Cout, H, W, K);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return y;
}

torch::Tensor conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b) {
    x = x.contiguous(); w = w.contiguous();
    check_cuda_f32(b, "bias");
    return conv2d_same(x, w, b.data_ptr<float>(), nullptr, nullptr, nullptr, nullptr, 0.f, false);
}
"""

cpp_source = r"""
torch::Tensor conv2d_cuda(torch::Tensor x, torch::Tensor w, torch::Tensor b);
"""

_ext = load_inline(
    name="conv2d_ref_ext",
    cpp_sources=cpp_source,
    cuda_sources=cuda_source,
    functions=["conv2d_cuda"],
    extra_cuda_cflags=["-O3", "-arch=sm_90"],
    verbose=False,
)


class ModelNew(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ext.conv2d_cuda(x, self.conv.weight, self.conv.bias)

// The bf16 kernels of smm_qk, smm_av and smm_scatter (fp32 accumulation; see the .cuh templates). Only the
// narrowing conversion differs by architecture (smm_half.cuh): PTX cvt on sm_80+, portable code below.
#include "smm_half.cuh"
#include "smm_qk.cuh"
#include "smm_av.cuh"
#include "smm_scatter.cuh"

SMM_QK(smm_qk_bf16, bf16, false)
SMM_QK(smm_qk_bf16_v16, bf16, true)
SMM_AV_ALL_C(smm_av_bf16, bf16)
SMM_SCATTER_ALL_C(bf16, bf16)

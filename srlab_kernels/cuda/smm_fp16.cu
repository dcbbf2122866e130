// The fp16 kernels of smm_qk, smm_av and smm_scatter (fp32 accumulation; see the .cuh templates).
#include "smm_half.cuh"
#include "smm_qk.cuh"
#include "smm_av.cuh"
#include "smm_scatter.cuh"

SMM_QK(smm_qk_f16, f16, false)
SMM_QK(smm_qk_f16_v16, f16, true)
SMM_AV_ALL_C(smm_av_f16, f16)
SMM_SCATTER_ALL_C(f16, f16)

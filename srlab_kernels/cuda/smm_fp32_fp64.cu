// The fp32 and fp64 kernels of smm_qk, smm_av and smm_scatter (see the .cuh templates): no 16-bit code,
// so this module builds and runs on every GPU CuPy supports, whatever happens to the 16-bit modules.
#include "smm_qk.cuh"
#include "smm_av.cuh"
#include "smm_scatter.cuh"

SMM_QK(smm_qk_f32, float, false)
SMM_QK(smm_qk_f32_v16, float, true)
SMM_QK(smm_qk_f64, double, false)
SMM_QK(smm_qk_f64_v16, double, true)
SMM_AV_ALL_C(smm_av_f32, float)
SMM_AV_ALL_C(smm_av_f64, double)
SMM_SCATTER_ALL_C(f32, float)
SMM_SCATTER_ALL_C(f64, double)

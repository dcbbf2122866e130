"""Reference data computed with the official code, and the helpers that reproduce it
(the protocol: ``docs/official_models.md#fingerprints``).

- :func:`manifest`: sha256 of the sorted ``key\\tdim1,dim2,…`` lines of a state dict (``#manifest``);
- :func:`deterministic_fill`: the crc32-seeded fill of every floating-point entry (``#fill``);
- :func:`fingerprint_input` / :func:`fingerprint`: the float64 input and the five numbers (``#fingerprint-input``).

The SwinIR manifests were computed the same way from the official SwinIR code (JingyunLiang/SwinIR
``network_swinir.py``, img_size 64, window 8).
"""

from __future__ import annotations

import hashlib
import math
import os
import zlib
from collections.abc import Mapping
from pathlib import Path

import torch

P = 1_000_003

MANIFESTS = {
    "pft": ("708d8ee80289e0e9053a7ec1c04fb530196ff6ca981d686ab2bcec3502035806",
            "052d6b3dd9e9d44b9829494b9e46c98ca317477df82a10a089b440c018f0e032",
            "6cc3c331d6735f23ec8618e6041d2dee6b25b88bbc1da5764a977a4fe9257a19"),
    "pft_light": ("ac9a10842a5ec534e7b6bb0ea27374230e7634fb8974de208fca6b396d5481f5",
                  "82cf1bb4eed9a5d0ba4497c20ad3d8f2dc2aa456770374ffd23c7224fc62b7e6",
                  "bd0b7c958c763e59d953cc6028b16fe8724da20794eac7adbc7cd6ca507d4c28"),
    "hat": ("4edd6c71897acfbc221cbea140e1f8e2c9e9cb8bccd2a1ebaf90c01c1de6c229",
            "162de5cdca644ee0aab38f24f26d7f628824d02a6ecd226c8ab5b74bd35c14fb",
            "f15f03d313cda5fecf30ff641236268232343fdb0a2c990f41f11777a7316d52"),
    "hat_s": ("830450048eb0cfd67a7fa538ad1f407e91393c4585b9a7126ae997c64ba493c0",
              "5ae9da621ce5583e4ebe87297da6da898eb3323d64ca0ef10167aa11ab9d8f77",
              "4d699c2f11a0be04d2dc660aec9ddd5e9d9788da1179c307ed6d09acf19d3099"),
    "hat_l": ("6f1f320f61f20629c9a5db208d7a1a3d421117b2b4c80bf6b00c0fc1ebdddbc6",
              "8f5c7b09e85c9283837e2cda4fcf26bc8de17535eb1f70e20f6ab96db7993e44",
              "c682fb6e43c6ee218450190e05f417b488b345d5f44ad7e75e728d131346171c"),
    "swinir": ("8c1fe8b4ae942b34fb66e4348aeff675e40bc1f86de4041826b8f7e7d7b3325e",
               "1411f2b8c8c04e49b5842af84ecc63f6a5f44619ee0cea95b9d0319927374f9b",
               "f37e109d0299b40e5b57ef16972088e7a62002cb59b8fbbfa24788071bdbb04e"),
    "swinir_light": ("b457e23c8bba8a7067d04b78dcbebeca706869a769eeef6224dad0678f523c67",
                     "3562ca8159e7b4ff03d20e634a8cf07b52287213d921efa2bfa61610912813bd",
                     "4a21b2fe8bba1782865a246f1eea517dcb6267ec6e9feeee9e771b4b69ad3efe"),
}  # fmt: skip
"""Manifest sha256 at ×2, ×3, ×4."""

PLAINUSR_MANIFESTS = {
    "plainusr_u": ("b05cdc4f61960e859133ed5802b5822c166c39f64dc0074770d3d662484f1202",
                   "8aea4244cc63813771e633bbf8e635cb2368580b474afc16e840f13f5ee20aa6"),
    "plainusr_t": ("a02122d1453dd8a335ffa809c2caada9b54bee83e41a0cc42784efff513f5480",
                   "be072aa2f325e63c8a39651aad4af554d6e592cb6f1f1884ebffe078c13dd00d"),
    "plainusr_s": ("b5aa6258a76a61e487ce7c6db9adbf493ca929c972076fdf5f49dfba8bdbfe8a",
                   "18608ea86f0c73ddbbcf0b82aa83057362f8e1638a92468175e0bfbfa188ab52"),
    "plainusr_m": ("5ce00efe967ca4aa71ba42f768c7ac2777293a16401939de568789654f283bba",
                   "20c2adf4805381b2f9d31b4fce998df3280942108e980cdc6ce93470cd5d972a"),
    "plainusr_base": ("df562c03130cf806e8b41a0d20aac24813754e2d3d48946e1f00d3316a94bc62",
                      "66ba5a699b7fac2e48cd6f0c54c673c01ea6d7664999179c89be98e30b217a51"),
    "plainusr_l": ("6cf47781bd4afcd1ed4cdc6ffe990c7df7ec53a37f0e5ae800a6f76e66e6d35c",
                   "e4159f69b2e5b745ea4dc1533e7e4efa972158edb9ef25737f86eed623e63dfb"),
}  # fmt: skip
"""Deploy-graph manifest sha256 at ×2, ×4."""

PLAINUSR_TRAIN_MANIFESTS = {
    "plainusr_u": ("d7611c2ab2fa8dfd05e7f211f339cd0beed4e119237ff7540f9581ab869fb3de",
                   "ac1a020a2ba91a176d8fb8a01f00373ef859bd53dcb542085028da625bf7c53c"),
    "plainusr_t": ("5b521c90ab19258ad8502ffee49ef51f1961a30b2b84a27aa910ac43e3675e4d",
                   "fb6e5575ce031fe3cba2310628be64a56b92adef05b0e0f2ca48eb613083939f"),
    "plainusr_s": ("20fdb6175de840e1fcf9fea07ea33ac131214bf8a6dd21c16d21d11b1660a31f",
                   "3fc12bcba4b767140c581ecbf590de345ee81f7fb7b9a90ccd1f93c29f859fa9"),
    "plainusr_m": ("4ff3536b6060c187db7ea95873fdc33ee4f354fcd3fe49e8bcd8dc3e2e496200",
                   "e9c041a7760db9ae987f02b71d2cd31ad97de93444b8de54a979b46277dbbb86"),
    "plainusr_base": ("fc3fefd6550d1a523fcd8f4e5ea51497208553f19d35bcd1a951fbf8e7c80199",
                      "fb138b79484a09ed83528c39bbd79d559246595cdccd7b9e0e44274e1643600c"),
    "plainusr_l": ("9241f20a080e1170e7396be367be78e19d03c79c56469ac709483001be2be76b",
                   "7a0148afd2e7c98118e4c20dc8e5551af70e8bfb2c5ffdd42e315f94f8d7e931"),
}  # fmt: skip
"""Training-graph manifest sha256 at ×2, ×4, computed from the official ``PlainUSR_train_arch.py`` classes."""

FILLED = {
    ("pft", 2): (17035.890980627002, 0.6665002781750358, -0.18552240037736678, 0.21051261054891768, 0.8527983670132527),
    ("pft", 3): (23534.33137881528, 0.45846083358095635, 0.3714375573016235, 0.33319441408655814, 0.6420732835085654),
    ("pft", 4): (38803.96484305721, 0.48397935265748093, 0.377797761645738, 1.2201185453754448, 0.5485305089474296),
    ("pft_light", 2): (13407.417655322632, 0.5839918894017796, 1.313322405538222, 0.710458203255377, 0.6735471156981055),
    ("pft_light", 3): (26677.708043649727, 0.6082953434908798, 1.313322405538222, 0.805337088446619, -0.47371616733460864),
    ("pft_light", 4): (44758.51710272241, 0.5920274782496886, 1.313322405538222, 0.9884145925160439, 0.01962600003581999),
    ("hat", 2): (8773.156362619182, 0.4866744808910768, 0.3120326512916475, 0.5633182121849875, 0.24872010490092583),
    ("hat", 3): (16087.356404696262, 0.3955619693677812, 0.15210790200735286, 0.4140826316456569, 0.25774694597090925),
    ("hat", 4): (27618.324190270556, 0.38925770138800736, 0.4078905021351005, 0.412589216920804, 0.38247249556525437),
    ("hat_s", 2): (8245.346650591435, 0.46696586564692844, 0.31704730765796807, 0.5862655206636533, 0.4194464956975778),
    ("hat_s", 3): (16282.204623861919, 0.39657756312874004, 0.23720544282223893, 0.23516453727661202, 0.27374430550485307),
    ("hat_s", 4): (28455.869435533838, 0.4052403319257466, 0.3299048923592624, 0.44869081636740865, 0.23317439115502564),
    ("hat_l", 2): (7802.583951986509, 0.44123285979243865, 0.3719495445276985, 0.4184400170185532, 0.5051824516936109),
    ("hat_l", 3): (16584.78251700895, 0.41096619049076927, 0.10917035872372005, 0.03577543645801928, 0.16701450045785113),
    ("hat_l", 4): (27542.795324611125, 0.40415838572761964, 0.465776250662283, 0.7479013383474127, 0.3990955767119412),
}  # fmt: skip
"""(sum, mean|y|, y[0], y[1000], y[last]) of the filled official models in float64 (docs/official_models.md#fill)."""
FILLED_INPUT = {"pft": (40, 56), "pft_light": (40, 56), "hat": (32, 48), "hat_s": (32, 48), "hat_l": (32, 48)}

MINIS = {
    "pft_mini": ("pft", {"scale": 3, "embed_dim": 104, "depths": [2, 2, 2], "num_heads": 4, "window_size": 8,
                         "attn": {"name": "pfa"}, "keep": [64, 64, 16, 16, 8, 8], "ffn": "convffn", "lepe": True,
                         "pad_mode": "symmetric"},
                 (13, 21), "f13a41a65fbc99daa2984ef66ee89ec27d824878a9847b270d9d88b49d5391bf",
                 (2790.8846754665615, 0.43922514434366694, 0.2647649539053214, -0.00286041107631152, 0.5632824907744726)),
    "hat_mini": ("hat", {"scale": 4, "embed_dim": 24, "depths": [2, 2], "num_heads": [2, 3], "window_size": 8,
                         "ca_weight": 0.01, "compress_ratio": 3, "squeeze_factor": 8, "overlap": 0.5},
                 (16, 24), "53603a7d043de36641f93429b61e6c1384e277b7a95530a3ab4a0a99f456d79b",
                 (6813.391751061457, 0.6838974999699816, 0.22259905975730626, -0.1844156043360171, 0.6640852862280838)),
    "swinir_light": ("swinir_light", {"scale": 2, "embed_dim": 60, "depths": [6] * 4, "num_heads": [6] * 4,
                                      "window_size": 8, "upsampler": "pixelshuffledirect"},
                     (37, 53), "b457e23c8bba8a7067d04b78dcbebeca706869a769eeef6224dad0678f523c67",
                     (9793.973874288626, 0.7654111320197052, -0.5924987340042351, 0.569290936798033, 0.947754774007647)),
    "swinir_mini": ("swinir", {"scale": 4, "embed_dim": 36, "depths": [2, 2], "num_heads": [2, 3], "window_size": 8},
                    (16, 24), "fe4145ff3d8f5d12bac4fccb381a467c53a335caa18a70eb7428f20382477b23",
                    (6938.302530538222, 0.6316283016457588, 0.47911795081301856, 0.016135585698954236, 0.4429394079649961)),
}  # fmt: skip
"""Small configurations: (family, window_sr spec, LR input, official manifest, float64 fingerprint), computed by
running the official arch files (PFT-SR@7d4a687 ``pft_arch.py`` with a gather stand-in for ``smm_cuda``,
HAT@1638a9a ``hat_arch.py``, SwinIR ``network_swinir.py``) on the same fill and input. ``swinir_light`` is the
released SwinIR-light ×2; the input sizes make PFT and SwinIR pad."""

REAL = {
    ("PlainUSRU", 2): (13412.473541323337, 0.4989962747112196, 0.48222474516792385, 0.6029311185821491, 0.1815753537469689),
    ("PlainUSRU", 4): (53645.425539679105, 0.4989869305576798, 0.4787338173315758, 0.9702482630830412, 0.21610422056887582),
    ("PlainUSRT", 2): (13414.354283661618, 0.49907001457793054, 0.47743175209109323, 0.6056326978725791, 0.19734335979480996),
    ("PlainUSRT", 4): (53668.44123168159, 0.4991984858830859, 0.48849189457296, 0.9696030615264806, 0.2124994894867225),
    ("PlainUSRS", 2): (13414.791928186147, 0.4990993397168122, 0.4781557181856103, 0.6030508936808847, 0.1805366531925933),
    ("PlainUSRS", 4): (53619.49136151599, 0.4987598173464212, 0.44750632681717634, 0.9776087480782821, 0.23691087642890565),
    ("PlainUSRM", 2): (13415.718344194867, 0.49911177641708754, 0.46747253105739767, 0.6083178024043745, 0.19721651331590145),
    ("PlainUSRM", 4): (53649.713831332134, 0.49905432073536166, 0.46872671264038257, 0.9710821521160165, 0.24844062548956825),
    ("PlainUSR", 2): (13416.823576456698, 0.4991841504641136, 0.4725552562114951, 0.6083400815321928, 0.19395031008268795),
    ("PlainUSR", 4): (53657.31220030103, 0.49913508269740353, 0.4710318352163376, 0.968535804478778, 0.2101447509669229),
    ("PlainUSRL", 2): (13415.345267715533, 0.4991141874454103, 0.47847976030521433, 0.6063075701782623, 0.18725326394978664),
    ("PlainUSRL", 4): (53670.447748015664, 0.49922166125527223, 0.4840606957625789, 0.9695843210947676, 0.20425387166304793),
}  # fmt: skip
"""Fingerprints of the real PlainUSR weights (``{prefix}_Rep_x{s}.pth``) on the 40×56 input."""
PLAINUSR_FILES = {"plainusr_u": "PlainUSRU", "plainusr_t": "PlainUSRT", "plainusr_s": "PlainUSRS",
                  "plainusr_m": "PlainUSRM", "plainusr_base": "PlainUSR", "plainusr_l": "PlainUSRL"}  # fmt: skip
WEIGHTS = Path(
    os.environ.get("SRLAB_PLAINUSR_WEIGHTS")
    or Path(__file__).resolve().parents[2] / "../shared/weights/plainusr"
).resolve()
"""The official PlainUSR weights: ``$SRLAB_PLAINUSR_WEIGHTS``, else the ``shared/`` folder beside the checkout."""


def manifest(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 over the sorted ``key\\tdim1,dim2,…`` lines joined by newlines, UTF-8."""
    lines = sorted(f"{k}\t{','.join(str(d) for d in v.shape)}" for k, v in state.items())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def deterministic_fill(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Every floating-point entry replaced by the crc32-seeded rule (float64); integer buffers kept.

    SwinIR's float ``attn_mask`` buffers (no PFT/HAT/PlainUSR entry is one) keep their values too: they are
    constructed, not learned, and srlab checks them on import.
    """
    out = {}
    for key, t in state.items():
        if not t.is_floating_point() or key.endswith("attn_mask"):
            out[key] = t
            continue
        n = t.numel()
        jc = torch.arange(n, dtype=torch.float64) + zlib.crc32(key.encode()) % P
        base = 2.0 * torch.fmod(jc * jc, P) / P - 1.0  # (j + c)² < 2⁵³: exact in float64
        if "relative_position_bias_table" in key:
            value = base
        elif key.endswith(".bias"):
            value = 0.1 * base
        elif t.dim() == 1:
            value = 1.0 + 0.2 * base
        else:
            value = base * math.sqrt(3.0) / math.sqrt(n / t.shape[0])
        out[key] = value.view(t.shape)
    return out


def fingerprint_input(h: int, w: int) -> torch.Tensor:
    """x[0, c, i, j] = 0.5 + 0.5·sin(0.13 i + 0.29 j + 1.7 c), float64, batch 1."""
    i = torch.arange(h, dtype=torch.float64).view(1, 1, h, 1)
    j = torch.arange(w, dtype=torch.float64).view(1, 1, 1, w)
    c = torch.arange(3, dtype=torch.float64).view(1, 3, 1, 1)
    return 0.5 + 0.5 * torch.sin(0.13 * i + 0.29 * j + 1.7 * c)


def fingerprint(y: torch.Tensor) -> tuple[float, float, float, float, float]:
    """(sum, mean|y|, y[0], y[1000], y[last]) of the flattened output."""
    flat = y.flatten()
    return (flat.sum().item(), flat.abs().mean().item(), flat[0].item(), flat[1000].item(), flat[-1].item())


FINGERPRINT_RTOL = 1e-13
"""How closely float64 fingerprints must agree, relative to the magnitudes involved (see :func:`fingerprint_error`).

The recorded values were printed on one CPU; another CPU, or another ``ATEN_CPU_CAPABILITY``, sums in another
order (measured up to 1.7e-14 on an AMD EPYC, AVX2 and ``default``; the official PlainUSR outputs, 0.0
on the recording machine, differ by up to 3.5e-15 there).
"""


def fingerprint_error(got: tuple[float, ...], expected: tuple[float, ...]) -> float:
    """The largest difference of the five numbers, each relative to max(|its expected value|, expected mean|y|).

    A single output value (y[1000] can be −0.003) carries the rounding of sums over values of the output's
    typical magnitude, so it is measured against mean|y|, not against itself.
    """
    scale = abs(expected[1])
    return max(abs(g - e) / max(abs(e), scale) for g, e in zip(got, expected, strict=True))

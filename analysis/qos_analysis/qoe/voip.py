"""VoIP quality from measured network figures: codec table, E-model helper, approximations.

* G.113 Appendix I codec values Ie / Bpl (docs/methods.md §4.8, [S]/[P*] — ``verified=False``).
  Codecs without a published Bpl cannot be scored with loss > 0: we refuse instead of
  inventing a value.  Wideband codecs (G.722, AMR-WB, Opus) belong to G.107.1 and are
  refused too.
* :func:`voip_quality` maps one-way delay, loss and BurstR to R/MOS for a codec, using one
  of the two delay conventions every profile must name (§4.7): ``"echo-path"`` (T = Ta,
  Tr = 2·Ta; flent's and G.114's assumption) or ``"ta-only"`` (T = Tr = 0).
* Cole–Rosenbluth (2001) and the "effective latency" formula (§4.9) are labelled
  approximations, for comparison with tools that use them, never for compliance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qos_analysis.qoe.emodel import EModelParams, EModelResult, emodel, r_to_mos


@dataclass(frozen=True, slots=True)
class Codec:
    """G.113 Appendix I row (ITU-T G.113 Appendix I; docs/methods.md §4.8)."""

    name: str
    description: str
    Ie: float
    Bpl: float | None  # None: not available in the sources seen
    verified: bool = False  # the whole table is [P*]/[S]


CODECS: dict[str, Codec] = {
    c.name: c
    for c in (
        Codec("g711", "G.711 PCM 64 kbit/s, 10 ms packets, no PLC", 0.0, 4.3),
        Codec("g711-plc", "G.711 with PLC per G.711 Appendix I, 10 ms packets", 0.0, 25.1),
        Codec("g729a-vad", "G.729A + VAD 8 kbit/s, 20 ms (2 frames), native PLC", 11.0, 19.0),
        Codec("g723.1-vad-6.3", "G.723.1 + VAD 6.3 kbit/s, 30 ms, native PLC", 15.0, 16.1),
        Codec("g723.1-5.3", "G.723.1 5.3 kbit/s", 19.0, None),
        Codec("g729", "G.729 8 kbit/s", 10.0, None),
        Codec("g726-32", "G.726 / G.727 ADPCM 32 kbit/s", 7.0, None),
        Codec("g728", "G.728 LD-CELP 16 kbit/s", 7.0, None),
        Codec("gsm-efr", "GSM-EFR 12.2 kbit/s, 20 ms", 5.0, 10.0),
        Codec("gsm-fr", "GSM-FR 13 kbit/s", 20.0, None),
    )
}

WIDEBAND = ("g722", "amr-wb", "opus", "g722.1", "g722.2", "silk", "evs")
DELAY_CONVENTIONS = ("echo-path", "ta-only")


def get_codec(name: str) -> Codec:
    key = name.lower()
    if key in WIDEBAND:
        raise ValueError(
            f"{name} is a wideband codec: G.107.1 (Ie,wb) applies, not the "
            "narrowband E-model (docs/methods.md §4.8)"
        )
    if key not in CODECS:
        from qos.suggest import unknown_name_hint

        raise ValueError(f"unknown codec '{name}' ({unknown_name_hint(key, CODECS)})")
    return CODECS[key]


def voip_quality(
    one_way_delay_ms: float,
    loss_percent: float,
    *,
    burst_ratio: float = 1.0,
    codec: str = "g711",
    convention: str = "echo-path",
    params: EModelParams | None = None,
    Ie: float | None = None,
    Bpl: float | None = None,
) -> EModelResult:
    """E-model R/MOS for measured one-way delay, loss (%) and BurstR with a codec's Ie/Bpl.

    G.113 recommends BurstR ≠ 1 only for codecs with efficient PLC (Bpl ≥ 16 in the cited
    summary); the value is applied as given and the caller sees it in ``params``.
    ``Ie``/``Bpl`` given explicitly replace the codec's G.113 values (e.g. a vendor's
    measured Ie); every other G.107 Table 3 parameter (sT, mT, A, …) comes from ``params``.
    """
    for name, value in (
        ("one_way_delay_ms", one_way_delay_ms),
        ("loss_percent", loss_percent),
        ("burst_ratio", burst_ratio),
    ):
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    if convention not in DELAY_CONVENTIONS:
        raise ValueError(f"convention must be one of {DELAY_CONVENTIONS}, not {convention!r}")
    entry = get_codec(codec)
    Ie = entry.Ie if Ie is None else Ie
    Bpl = entry.Bpl if Bpl is None else Bpl
    if Bpl is None and loss_percent > 0:
        raise ValueError(
            f"codec {entry.name} has no published Bpl (G.113 App. I); "
            "cannot rate it with packet loss unless a Bpl is given"
        )
    base = params or EModelParams()
    if convention == "echo-path":
        delays = {
            "T_ms": one_way_delay_ms,
            "Tr_ms": 2 * one_way_delay_ms,
            "Ta_ms": one_way_delay_ms,
        }
    else:
        delays = {"T_ms": 0.0, "Tr_ms": 0.0, "Ta_ms": one_way_delay_ms}
    return emodel(
        base,
        Ie=Ie,
        Bpl=Bpl if Bpl is not None else base.Bpl,
        Ppl_percent=loss_percent,
        BurstR=burst_ratio,
        **delays,
    )


@dataclass(frozen=True, slots=True)
class ApproximateScore:
    """R and MOS from a simplified model, with the terms R is built from.

    R = Ro − Id − Ie for both models below: ``Ro`` is the model's base rating, ``Id`` its
    delay term, ``Ie`` its loss term; ``effective_latency_ms`` is the delay the model
    actually rates (the one-way delay for Cole–Rosenbluth, latency + 2·jitter + 10 ms for
    the effective-latency formula).  Always ``approximation=True``: for comparison with
    tools that use these models, never for compliance.
    """

    R: float
    mos: float
    model: str
    Ro: float
    Id: float
    Ie: float
    effective_latency_ms: float
    approximation: bool = True

    def as_dict(self) -> dict[str, float | str | bool]:
        return {name: getattr(self, name) for name in self.__slots__}


COLE_ROSENBLUTH_IE: dict[str, tuple[float, float, float]] = {
    "g711": (0.0, 30.0, 15.0),
    "g729a": (11.0, 40.0, 10.0),
}


def cole_rosenbluth(
    one_way_delay_ms: float, loss_fraction: float, codec: str = "g711"
) -> ApproximateScore:
    """Cole & Rosenbluth, "Voice over IP performance monitoring", ACM SIGCOMM CCR 31(2), 2001.

    R = 94.2 − Id − Ie with Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3) (d = one-way
    mouth-to-ear delay in ms, H the unit step) and Ie = γ1 + γ2·ln(1 + γ3·e), e = loss
    fraction; (γ1, γ2, γ3) = (0, 30, 15) for G.711 and (11, 40, 10) for G.729A.
    """
    if codec not in COLE_ROSENBLUTH_IE:
        raise ValueError(
            f"no Cole–Rosenbluth coefficients for {codec!r}; known: {', '.join(COLE_ROSENBLUTH_IE)}"
        )
    d = one_way_delay_ms
    g1, g2, g3 = COLE_ROSENBLUTH_IE[codec]
    Id = 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)
    Ie = g1 + g2 * math.log(1 + g3 * loss_fraction)
    R = 94.2 - Id - Ie
    return ApproximateScore(R, r_to_mos(R), "cole-rosenbluth-2001", 94.2, Id, Ie, float(d))


def effective_latency_score(
    latency_ms: float, jitter_ms: float, loss_percent: float
) -> ApproximateScore:
    """The "effective latency" simplification of the E-model used by NetBeez and CalSPEED.

    EffLat = latency + 2·jitter + 10 ms; Id = EffLat/40 below 160 ms, else
    (EffLat − 120)/10; Ie = 2.5·loss%; R = 93.2 − Id − Ie; MOS via G.107 Annex B (B-4).
    """
    eff = latency_ms + 2 * jitter_ms + 10
    Id = eff / 40 if eff < 160 else (eff - 120) / 10
    Ie = 2.5 * loss_percent
    R = 93.2 - Id - Ie
    return ApproximateScore(R, r_to_mos(R), "effective-latency", 93.2, Id, Ie, eff)

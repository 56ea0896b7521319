"""ITU-T G.107 (06/2015) narrowband E-model, eq. 7-1 to 7-29 and Annex B (docs/methods.md §4).

Every parameter of the G.107 defaults table (§4.6) is an input; :func:`emodel` returns R,
MOS (Annex B eq. B-4, clamped to [1, 4.5]), the G.109 satisfaction band (classified on R,
never on the rounded MOS — §4.6 pitfall) and every impairment term, so a report can show
why a call scores as it does.

Cross-checks: all defaults give R = 93.2062 (G.107 quotes 93.2), MOS 4.4094 (vector V1);
with Ta = T, Tr = 2T, Bpl = 4.3 and BurstR = 1 the result equals flent 2.3.0's
``flent.util.mos_score`` (vector V2).  Delay-sensitivity classes use the exponent 6·sT
(the ``6 − sT`` typo seen in open source is a bug, §4.4).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

#: Delay-sensitivity classes (sT, mT in ms) — docs/methods.md §4.4 [P*]
DELAY_SENSITIVITY: dict[str, tuple[float, float]] = {
    "default": (1.0, 100.0),
    "low": (0.55, 150.0),
    "very-low": (0.4, 200.0),
}

#: Advantage factor A, provisional maxima (§4.6 [P*]); keep A = 0 for compliance scoring.
ADVANTAGE_FACTORS: dict[str, float] = {
    "conventional": 0.0,
    "mobility-in-building": 5.0,
    "mobility-in-area": 10.0,
    "hard-to-reach": 20.0,
}


@dataclass(frozen=True, slots=True)
class EModelParams:
    """G.107 Table 3 + Table 1 parameters, defaults per docs/methods.md §4.6 (units in names)."""

    SLR: float = 8.0  # send loudness rating, dB
    RLR: float = 2.0  # receive loudness rating, dB
    STMR: float = 15.0  # sidetone masking rating, dB
    LSTR: float = 18.0  # listener sidetone rating, dB
    Ds: float = 3.0  # D-value of telephone, send side
    Dr: float = 3.0  # D-value, receive side: enters only via LSTR = STMR + Dr (§4.2)
    TELR: float = 65.0  # talker echo loudness rating, dB
    WEPL: float = 110.0  # weighted echo path loss, dB
    T_ms: float = 0.0  # mean one-way delay of the echo path
    Tr_ms: float = 0.0  # round-trip delay in a 4-wire loop
    Ta_ms: float = 0.0  # absolute (mouth-to-ear) delay
    qdu: float = 1.0  # quantizing distortion units
    Ie: float = 0.0  # equipment impairment factor
    Bpl: float = 4.3  # packet-loss robustness factor
    Ppl_percent: float = 0.0  # packet-loss probability in percent
    BurstR: float = 1.0  # burst ratio (1 = random loss)
    Nc_dBm0p: float = -70.0  # circuit noise referred to the 0 dBr point
    Nfor_dBmp: float = -64.0  # noise floor at the receive side
    Ps_dBA: float = 35.0  # room noise at the send side
    Pr_dBA: float = 35.0  # room noise at the receive side
    A: float = 0.0  # advantage factor
    mT_ms: float = 100.0  # minimum perceivable delay
    sT: float = 1.0  # delay sensitivity

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not math.isfinite(value):
                raise ValueError(f"E-model parameter {name} must be finite, got {value}")
        if self.Ppl_percent < 0 or self.Ppl_percent > 100:
            raise ValueError("Ppl_percent must lie in [0, 100]")
        if self.BurstR < 1:
            raise ValueError("BurstR must be ≥ 1 (1 = random loss)")
        if min(self.T_ms, self.Tr_ms, self.Ta_ms) < 0:
            raise ValueError("delays must not be negative")
        if self.qdu <= 0 or self.mT_ms <= 0 or self.sT <= 0 or self.Bpl <= 0:
            raise ValueError("qdu, mT, sT and Bpl must be positive")


@dataclass(frozen=True, slots=True)
class EModelResult:
    """R with every term of R = Ro − Is − Id − Ie,eff + A (eq. 7-1)."""

    R: float
    mos: float
    band: str
    Ro: float
    Is: float
    Id: float
    Ie_eff: float
    A: float
    No: float
    Iolr: float
    Ist: float
    Iq: float
    Idte: float
    Idle: float
    Idd: float
    params: EModelParams

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__slots__ if k != "params"}
        out["params"] = asdict(self.params)
        return out


def _lg(x: float) -> float:
    return math.log10(x)


def emodel(params: EModelParams | None = None, **overrides: float) -> EModelResult:
    """Compute the E-model rating R and its terms (docs/methods.md §4.1–4.6)."""
    p = replace(params or EModelParams(), **overrides) if overrides else (params or EModelParams())
    T, Tr, Ta = p.T_ms, p.Tr_ms, p.Ta_ms
    # §4.2 basic signal-to-noise ratio
    OLR = p.SLR + p.RLR
    Pre = p.Pr_dBA + 10 * _lg(1 + 10 ** ((10 - p.LSTR) / 10))
    Nos = p.Ps_dBA - p.SLR - p.Ds - 100 + 0.004 * (p.Ps_dBA - OLR - p.Ds - 14) ** 2
    Nor = p.RLR - 121 + Pre + 0.008 * (Pre - 35) ** 2
    Nfo = p.Nfor_dBmp + p.RLR
    No = 10 * _lg(10 ** (p.Nc_dBm0p / 10) + 10 ** (Nos / 10) + 10 ** (Nor / 10) + 10 ** (Nfo / 10))
    Ro = 15 - 1.5 * (p.SLR + No)
    # §4.3 simultaneous impairment
    Xolr = OLR + 0.2 * (64 + No - p.RLR)
    Iolr = 20 * ((1 + (Xolr / 8) ** 8) ** (1 / 8) - Xolr / 8)
    STMRo = -10 * _lg(10 ** (-p.STMR / 10) + math.exp(-T / 4) * 10 ** (-p.TELR / 10))
    Ist = (
        12 * (1 + ((STMRo - 13) / 6) ** 8) ** (1 / 8)
        - 28 * (1 + ((STMRo + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((STMRo - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )
    Q = 37 - 15 * _lg(p.qdu)
    G = 1.07 + 0.258 * Q + 0.0602 * Q**2
    Y = (Ro - 100) / 15 + 46 / 8.4 - G / 9
    Z = 46 / 30 - G / 40
    Iq = 15 * _lg(1 + 10**Y + 10**Z)
    Is = Iolr + Ist + Iq
    # §4.4 delay impairment: talker echo
    Roe = -1.5 * (No - p.RLR)
    TERV = p.TELR - 40 * _lg((1 + T / 10) / (1 + T / 150)) + 6 * math.exp(-0.3 * T**2)
    if p.STMR < 9:
        TERV += Ist / 2  # TERVs (eq. 7-23)
    Re = 80 + 2.5 * (TERV - 14)
    if T < 1:
        Idte = 0.0
    else:
        Idte = ((Roe - Re) / 2 + math.sqrt((Roe - Re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-T))
    if p.STMR > 20:
        Idte = math.sqrt(Idte**2 + Ist**2)  # eq. 7-24
    # listener echo
    Rle = 10.5 * (p.WEPL + 7) * (Tr + 1) ** (-0.25)
    Idle = (Ro - Rle) / 2 + math.sqrt((Ro - Rle) ** 2 / 4 + 169)
    # absolute delay, delay-sensitivity class: exponent 6·sT (eq. 7-27, 7-28)
    if Ta <= p.mT_ms:
        Idd = 0.0
    else:
        X = _lg(Ta / p.mT_ms) / _lg(2)
        e = 6 * p.sT
        Idd = 25 * ((1 + X**e) ** (1 / e) - 3 * (1 + (X / 3) ** e) ** (1 / e) + 2)
    Id = Idte + Idle + Idd
    # §4.5 effective equipment impairment
    if p.Ppl_percent == 0:
        Ie_eff = p.Ie
    else:
        Ie_eff = p.Ie + (95 - p.Ie) * p.Ppl_percent / (p.Ppl_percent / p.BurstR + p.Bpl)
    R = Ro - Is - Id - Ie_eff + p.A
    return EModelResult(
        R=R,
        mos=r_to_mos(R),
        band=satisfaction_band(R),
        Ro=Ro,
        Is=Is,
        Id=Id,
        Ie_eff=Ie_eff,
        A=p.A,
        No=No,
        Iolr=Iolr,
        Ist=Ist,
        Iq=Iq,
        Idte=Idte,
        Idle=Idle,
        Idd=Idd,
        params=p,
    )


def r_to_mos(R: float, *, clamp: bool = True) -> float:
    """G.107 Annex B eq. B-4, clamped to [1, 4.5] (docs/methods.md §4.6, vector V4).

    The polynomial dips below 1 for 0 < R < 6.515; ``clamp=False`` returns the raw
    polynomial there, which is what flent 2.3.0's ``mos_score`` does.
    """
    if math.isnan(R):
        return math.nan
    if R < 0:
        return 1.0
    if R > 100:
        return 4.5
    mos = 1 + 0.035 * R + R * (R - 60) * (100 - R) * 7e-6
    return min(4.5, max(1.0, mos)) if clamp else mos


def mos_to_r(mos: float) -> float:
    """Inverse of B-4 (G.107 Appendix I form; valid for 1 < MOS < 4.5; vector V5).

    R = (20/3)·(8 − √226·cos(h + π/3)),
    h = (1/3)·atan2(15·√(−903522 + 1113960·MOS − 202500·MOS²), 18566 − 6750·MOS).
    """
    if not 1 < mos < 4.5:
        raise ValueError("MOS must lie strictly between 1 and 4.5 for the inverse")
    h = (
        math.atan2(15 * math.sqrt(-903522 + 1113960 * mos - 202500 * mos**2), 18566 - 6750 * mos)
        / 3
    )
    return (20 / 3) * (8 - math.sqrt(226) * math.cos(h + math.pi / 3))


SATISFACTION_BANDS: tuple[tuple[float, str], ...] = (
    (90.0, "very satisfied"),
    (80.0, "satisfied"),
    (70.0, "some users dissatisfied"),
    (60.0, "many users dissatisfied"),
    (50.0, "nearly all users dissatisfied"),
)


def satisfaction_band(R: float) -> str:
    """G.107 Annex B Table B.1 / G.109 category, classified on R (lower limits inclusive)."""
    if math.isnan(R):
        return "undefined"
    for lower, name in SATISFACTION_BANDS:
        if lower <= R:
            return name
    return "not recommended"

"""G.107 E-model, G.113 codecs, approximations, web bands (docs/methods.md §4, §5).

Vectors V1–V5; oracle flent 2.3.0 ``flent.util.mos_score`` (V2) over a grid of delays and
losses within 1e-6.
"""

from __future__ import annotations

import math

import pytest

from qos_analysis.qoe import (
    CODECS,
    EModelParams,
    cole_rosenbluth,
    effective_latency_score,
    emodel,
    g1010_page_band,
    g1030_web_mos,
    mos_to_r,
    r_to_mos,
    satisfaction_band,
    voip_quality,
)
from qos_analysis.qoe.emodel import DELAY_SENSITIVITY


def test_v1_all_defaults() -> None:
    r = emodel()
    assert pytest.approx(93.2062, abs=5e-5) == r.R
    assert r.mos == pytest.approx(4.4094, abs=5e-5)
    assert r.No == pytest.approx(-61.17921438624169, abs=1e-12)  # flent's constant
    assert r.Is == pytest.approx(1.4135680813438616, abs=1e-6)  # flent's constant
    assert r.Idle == pytest.approx(0.1490, abs=5e-5)
    assert r.Ro == pytest.approx(94.7688, abs=5e-5)
    assert r.Idte == 0 and r.Idd == 0 and r.Ie_eff == 0
    assert r.band == "very satisfied"


def _grid() -> list[tuple[float, float]]:
    delays = [
        0,
        0.5,
        1,
        2,
        5,
        10,
        20,
        50,
        80,
        99.9,
        100,
        100.1,
        120,
        150,
        177.3,
        200,
        250,
        300,
        400,
        500,
        750,
        1000,
        2000,
    ]
    losses = [0, 1e-4, 1e-3, 0.005, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.5, 1.0]
    return [(t, p) for t in delays for p in losses]


def test_v2_matches_flent_mos_score_on_a_grid() -> None:
    flent_util = pytest.importorskip("flent.util")
    import importlib.metadata

    assert importlib.metadata.version("flent") == "2.3.0"  # pinned: older revisions used Bpl 1
    for t, loss in _grid():
        ours = voip_quality(t, loss * 100, codec="g711", convention="echo-path")
        ref = flent_util.mos_score(t, loss)
        # flent does not clamp B-4 below 1 (0 < R < 6.515); compare the raw polynomial ...
        assert r_to_mos(ours.R, clamp=False) == pytest.approx(ref, abs=1e-6), (t, loss)
        # ... and our clamped MOS wherever flent's value is a valid MOS.
        if ref >= 1:
            assert ours.mos == pytest.approx(ref, abs=1e-6), (t, loss)
        else:
            assert ours.mos == 1.0


@pytest.mark.parametrize(
    ("R", "mos"), [(90, 4.3390), (80, 4.0240), (70, 3.5970), (60, 3.1000), (50, 2.5750)]
)
def test_v3_r_to_mos(R: float, mos: float) -> None:
    assert r_to_mos(R) == pytest.approx(mos, abs=5e-5)


def test_v4_mos_floor() -> None:
    assert 1 + 0.035 * 5 + 5 * (5 - 60) * (100 - 5) * 7e-6 < 1
    assert r_to_mos(5) == 1.0
    assert r_to_mos(-3) == 1.0 and r_to_mos(120) == 4.5
    assert r_to_mos(6.6) > 1.0


@pytest.mark.parametrize("R", [10, 30, 50, 60, 70, 80, 90, 93.2, 99])
def test_v5_mos_to_r_round_trip(R: float) -> None:
    assert mos_to_r(r_to_mos(R)) == pytest.approx(R, abs=1e-9)


def test_mos_to_r_refuses_out_of_range() -> None:
    with pytest.raises(ValueError):
        mos_to_r(4.5)


def test_bands_classify_on_r_not_rounded_mos() -> None:
    assert satisfaction_band(80.0) == "satisfied"
    assert satisfaction_band(79.999) == "some users dissatisfied"
    assert satisfaction_band(49.9) == "not recommended"
    # R = 80 has MOS 4.024, below the tabulated "4.03": classifying on MOS would be wrong.
    assert r_to_mos(80) < 4.03


def test_delay_sensitivity_exponent_is_6_times_st() -> None:
    s_t, m_t = DELAY_SENSITIVITY["low"]
    r = emodel(Ta_ms=400, sT=s_t, mT_ms=m_t)
    x = math.log10(400 / m_t) / math.log10(2)
    e = 6 * s_t
    idd = 25 * ((1 + x**e) ** (1 / e) - 3 * (1 + (x / 3) ** e) ** (1 / e) + 2)
    assert r.Idd == pytest.approx(idd)
    wrong = 6 - s_t  # the open-source typo
    idd_wrong = 25 * ((1 + x**wrong) ** (1 / wrong) - 3 * (1 + (x / 3) ** wrong) ** (1 / wrong) + 2)
    assert abs(r.Idd - idd_wrong) > 0.1
    assert emodel(Ta_ms=150, sT=s_t, mT_ms=m_t).Idd == 0  # below mT


def test_every_parameter_is_an_input() -> None:
    defaults = emodel()
    for name, value in (
        ("SLR", 12),
        ("RLR", 6),
        ("STMR", 8),
        ("STMR", 22),
        ("LSTR", 25),
        ("Ds", 5),
        ("TELR", 45),
        ("WEPL", 90),
        ("qdu", 4),
        ("Nc_dBm0p", -60),
        ("Nfor_dBmp", -55),
        ("Ps_dBA", 50),
        ("Pr_dBA", 50),
        ("A", 10),
        ("Ie", 11),
    ):
        assert pytest.approx(defaults.R, abs=1e-6) != emodel(**{name: value}).R, name
    # T is only used together with TELR; with a 20 ms echo path R drops.
    assert emodel(T_ms=20, Tr_ms=40).R < defaults.R
    with pytest.raises(ValueError):
        EModelParams(BurstR=0.5)
    with pytest.raises(ValueError):
        EModelParams(Ppl_percent=float("nan"))


def test_burst_ratio_lowers_r_and_codec_table() -> None:
    random_loss = voip_quality(50, 2, codec="g711-plc", burst_ratio=1.0)
    bursty = voip_quality(50, 2, codec="g711-plc", burst_ratio=2.0)
    assert bursty.R < random_loss.R
    # Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl) by hand:
    assert bursty.Ie_eff == pytest.approx(0 + 95 * 2 / (2 / 2 + 25.1))
    g729 = voip_quality(0, 0, codec="g729a-vad", convention="ta-only")
    assert g729.Ie_eff == CODECS["g729a-vad"].Ie == 11
    with pytest.raises(ValueError, match="no published Bpl"):
        voip_quality(50, 1, codec="g729")
    assert voip_quality(50, 0, codec="g729").Ie_eff == 10  # no loss: Bpl unused
    with pytest.raises(ValueError, match="wideband"):
        voip_quality(50, 1, codec="opus")
    with pytest.raises(ValueError, match="did you mean"):
        voip_quality(50, 1, codec="g7111")


def test_delay_conventions_differ() -> None:
    echo = voip_quality(150, 0, convention="echo-path")
    ta_only = voip_quality(150, 0, convention="ta-only")
    assert ta_only.Idte == 0 and echo.Idte > 0
    assert ta_only.R > echo.R


def test_approximations_are_labelled() -> None:
    cr = cole_rosenbluth(100, 0.0)
    assert cr.approximation and pytest.approx(94.2 - 2.4) == cr.R
    cr2 = cole_rosenbluth(200, 0.01, codec="g729a")
    assert pytest.approx(94.2 - (0.024 * 200 + 0.11 * 22.7) - (11 + 40 * math.log(1.1))) == cr2.R
    eff = effective_latency_score(40, 5, 1)
    assert eff.approximation and pytest.approx(93.2 - 60 / 40 - 2.5) == eff.R
    assert pytest.approx(93.2 - (210 - 120) / 10) == effective_latency_score(200, 0, 0).R


def test_web_models_are_flagged_unverified() -> None:
    score = g1030_web_mos(3.0, 1.0, 10.0)
    assert score.verified is False
    assert score.value == pytest.approx(5 - 4 * math.log(3) / math.log(10))
    assert g1030_web_mos(0.5, 1.0, 10.0).value == 5.0
    assert g1030_web_mos(20, 1.0, 10.0).value == 1.0
    assert g1010_page_band(1.5).value == "preferred"
    assert g1010_page_band(3.0).value == "acceptable"
    assert g1010_page_band(4.0).value == "unacceptable"
    assert g1010_page_band(1.0).verified is False


def test_approximations_return_their_components() -> None:
    cr = cole_rosenbluth(200, 0.01, codec="g729a")
    assert (cr.Ro, cr.effective_latency_ms) == (94.2, 200.0)
    assert cr.Id == pytest.approx(0.024 * 200 + 0.11 * (200 - 177.3))
    assert cr.Ie == pytest.approx(11 + 40 * math.log(1 + 10 * 0.01))
    assert pytest.approx(cr.Ro - cr.Id - cr.Ie) == cr.R
    assert cr.mos == pytest.approx(r_to_mos(cr.R))
    assert cole_rosenbluth(177.3, 0).Id == pytest.approx(0.024 * 177.3)  # step not yet on
    eff = effective_latency_score(40, 5, 1)
    assert eff.effective_latency_ms == 60 and eff.Ro == 93.2
    assert (eff.Id, eff.Ie) == (pytest.approx(60 / 40), pytest.approx(2.5))
    assert pytest.approx(eff.Ro - eff.Id - eff.Ie) == eff.R
    # The delay term switches form at an effective latency of 160 ms.
    assert effective_latency_score(140, 5, 0).Id == pytest.approx((160 - 120) / 10)
    assert effective_latency_score(139.9, 5, 0).Id == pytest.approx(159.9 / 40)
    doc = eff.as_dict()
    assert doc["model"] == "effective-latency" and doc["approximation"] is True
    assert {"R", "mos", "Id", "Ie", "Ro", "effective_latency_ms"} <= set(doc)


def test_explicit_ie_and_bpl_replace_the_codec_values() -> None:
    given = voip_quality(50, 2, codec="g729", Ie=10, Bpl=19)
    assert (given.params.Ie, given.params.Bpl) == (10, 19)
    assert given.Ie_eff == pytest.approx(10 + (95 - 10) * 2 / (2 + 19))
    plc = voip_quality(50, 2, codec="g711-plc")
    assert pytest.approx(plc.R) == voip_quality(50, 2, codec="g711", Bpl=25.1).R

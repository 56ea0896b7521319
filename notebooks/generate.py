"""Write the audience notebooks (``01-…`` to ``04-…``) with nbformat, outputs empty.

``python notebooks/generate.py`` rewrites them; edit the cells here, not in the .ipynb, so
the notebooks stay reviewable as code.  Every notebook reads ``QOS_NOTEBOOK_DATA`` (a store,
an export or a dataset) and falls back to :func:`qos_analysis.panel.synth.example_panel`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import os

import matplotlib

matplotlib.use("Agg")  # headless in CI; remove to plot inline
import matplotlib.pyplot as plt
from IPython.display import Image, display

from qos_analysis import load
from qos_analysis.panel.synth import example_panel

DATA = os.environ.get("QOS_NOTEBOOK_DATA") or str(example_panel())
data = load(DATA)
print(f"{len(data.measurements)} measurements, {len(data.probes)} probes from {DATA}")


def show(fig):
    \"\"\"Render a figure as PNG output (works headless and inline).\"\"\"
    path = os.path.join(os.getcwd(), f"figure-{id(fig)}.png")
    fig.savefig(path, dpi=80)
    plt.close(fig)
    display(Image(filename=path))
"""

MY_CONNECTION = [
    new_markdown_cell(
        "# My connection\n\n"
        "Load your own store (set `QOS_NOTEBOOK_DATA` to the agent's SQLite store or an "
        "export; without it a small synthetic panel is used), then look at latency and loss "
        "over time, the RTT distribution and peak versus off-peak hours.  Formulas: "
        "`docs/methods.md` (percentiles after RFC 2330, loss intervals Clopper–Pearson)."
    ),
    new_code_cell(SETUP),
    new_code_cell(
        "from qos_analysis.aggregates import probe_aggregates\n\n"
        "# one household: the first agent (set QOS_NOTEBOOK_AGENT to choose another)\n"
        "agents = sorted(data.measurements['agent_id'].unique())\n"
        "agent = os.environ.get('QOS_NOTEBOOK_AGENT') or agents[0]\n"
        "data = data.for_agents([agent])\n"
        "mine = probe_aggregates(data, '1h')\n"
        "mine[['window_start', 'tests', 'sent', 'loss_ratio', 'loss_ci_low', 'loss_ci_high',\n"
        "      'rtt_median_s', 'rtt_p95_s']].head()"
    ),
    new_markdown_cell("## Latency and loss over time"),
    new_code_cell(
        "fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5), sharex=True)\n"
        "top.plot(mine['window_start'], mine['rtt_median_s'] * 1e3, label='median')\n"
        "top.plot(mine['window_start'], mine['rtt_p95_s'] * 1e3, label='p95')\n"
        "top.set_ylabel('RTT (ms)')\n"
        "top.legend()\n"
        "bottom.plot(mine['window_start'], mine['loss_ratio'] * 100)\n"
        "bottom.fill_between(mine['window_start'], mine['loss_ci_low'] * 100,\n"
        "                    mine['loss_ci_high'] * 100, alpha=0.3)\n"
        "bottom.set_ylabel('loss (%, 95 % CI)')\n"
        "fig.suptitle(agent)\n"
        "show(fig)"
    ),
    new_markdown_cell(
        "## RTT distribution, peak (19–23 h local) versus off-peak\n\n"
        "Empirical CDFs of every answered probe; lost probes have no RTT."
    ),
    new_code_cell(
        "import numpy as np\n\n"
        "meas = data.measurements\n"
        "local = meas['started_at'].dt.tz_convert(meas['timezone'].iloc[0])\n"
        "peak_ids = set(meas.loc[local.dt.hour.between(19, 22), 'measurement_id'])\n"
        "probes = data.probes.assign(peak=data.probes['measurement_id'].isin(peak_ids))\n"
        "fig, ax = plt.subplots(figsize=(7, 4))\n"
        "for label, part in probes.groupby('peak'):\n"
        "    rtt = np.sort(part['rtt_s'].dropna().to_numpy()) * 1e3\n"
        "    ax.step(rtt, np.arange(1, len(rtt) + 1) / len(rtt),\n"
        "            label='peak' if label else 'off-peak')\n"
        "ax.set_xlabel('RTT (ms)')\n"
        "ax.set_ylabel('share of probes')\n"
        "ax.legend()\n"
        "show(fig)\n"
        "probes.groupby('peak').agg(probes=('lost', 'size'), loss=('lost', 'mean'),\n"
        "                           rtt_median_s=('rtt_s', 'median'))"
    ),
]

REGULATOR = [
    new_markdown_cell(
        "# Regulator audit of a panel\n\n"
        "A panel dataset (`qos synth --agents N --days D --out DIR`, or the default small "
        "synthetic panel) with its `agents.csv` metadata: verdicts per panellist against a "
        "shipped profile, an operator comparison with named significance tests and Holm "
        "correction, and a written report.  Method: `docs/stats.md`, `docs/scale.md`."
    ),
    new_code_cell(SETUP),
    new_code_cell("from qos.profiles import available_profiles\n\nsorted(available_profiles())"),
    new_markdown_cell(
        "## Verdicts per panellist against ITU-T Y.1541 class 1\n\n"
        "Y.1541 states one-way objectives; from RTT data the verdicts use the named RTT/2 "
        "rule and are marked `approximate`."
    ),
    new_code_cell(
        "from qos_analysis import overall, score\n\n"
        "# one verdict per panellist over the whole campaign\n"
        "verdicts = score(data, 'y1541/class1', window='all')\n"
        "print('overall:', overall(verdicts))\n"
        "verdicts.pivot_table(index='objective', columns='outcome', values='scope',\n"
        "                     aggfunc='count', fill_value=0)"
    ),
    new_markdown_cell("## Operator comparison"),
    new_code_cell(
        "from pathlib import Path\n\n"
        "from qos_analysis.engine import panel_units\n"
        "from qos_analysis.panel.compare import compare\n"
        "from qos_analysis.panel.metadata import find_metadata, read_metadata\n"
        "from qos_analysis.panel.panellists import PeakHours\n\n"
        "meta = read_metadata(find_metadata(Path(DATA)))\n"
        "units = panel_units([DATA], meta, PeakHours(19, 23)).merge(meta, on='agent_id')\n"
        "result = compare(units, 'operator')\n"
        "result.pairs[['view', 'group_a', 'group_b', 'statistic', 'a', 'b', 'test', 'p',\n"
        "              'p_holm']]"
    ),
    new_code_cell(
        "latency = result.groups[result.groups['view'] == result.groups['view'].iloc[-1]]\n"
        "fig, ax = plt.subplots(figsize=(7, 3.5))\n"
        "ax.errorbar(latency['group'], latency['value'],\n"
        "            yerr=[latency['value'] - latency['ci_low'],\n"
        "                  latency['ci_high'] - latency['value']], fmt='o', capsize=4)\n"
        "ax.set_title(f\"{latency['view'].iloc[0]}: {latency['statistic'].iloc[0]} (95 % CI)\")\n"
        "show(fig)"
    ),
    new_markdown_cell("## The written report"),
    new_code_cell(
        "from qos_analysis import report\n\n"
        "written = report(data, 'y1541/class1', format='html', window='all', out=os.getcwd())\n"
        "print(written.report.headline)\n"
        "print('written:', written.path)"
    ),
]

VOICE = [
    new_markdown_cell(
        "# Voice quality what-if (ITU-T G.107 E-model)\n\n"
        "How R and MOS respond to one-way delay, packet loss, loss burstiness (BurstR), the "
        "codec (G.113 Ie/Bpl) and the G.107 delay-sensitivity class (sT, mT).  Pure "
        "formulas, no measurements needed.  Details: `docs/methods.md` §4 (classes: §4.4)."
    ),
    new_code_cell(
        "import matplotlib\n\n"
        "matplotlib.use('Agg')\n"
        "import os\n\n"
        "import matplotlib.pyplot as plt\n"
        "import numpy as np\n"
        "from IPython.display import Image, display\n\n"
        "from qos_analysis.qoe import CODECS, DELAY_SENSITIVITY, EModelParams, voip_quality\n\n\n"
        "def show(fig):\n"
        "    path = os.path.join(os.getcwd(), f'figure-{id(fig)}.png')\n"
        "    fig.savefig(path, dpi=80)\n"
        "    plt.close(fig)\n"
        "    display(Image(filename=path))\n\n\n"
        "print(sorted(CODECS), DELAY_SENSITIVITY)"
    ),
    new_markdown_cell("## Delay and codec"),
    new_code_cell(
        "delays = np.linspace(0, 500, 51)\n"
        "fig, ax = plt.subplots(figsize=(7, 4))\n"
        "for codec in sorted(CODECS):\n"
        "    ax.plot(delays, [voip_quality(d, 0.0, codec=codec).R for d in delays], label=codec)\n"
        "ax.set_xlabel('one-way delay (ms)')\n"
        "ax.set_ylabel('R')\n"
        "ax.legend(fontsize='small')\n"
        "show(fig)"
    ),
    new_markdown_cell("## Loss and burstiness (G.711 with PLC, 100 ms)"),
    new_code_cell(
        "losses = np.linspace(0, 10, 41)\n"
        "fig, ax = plt.subplots(figsize=(7, 4))\n"
        "for burst in (1.0, 2.0, 4.0):\n"
        "    ax.plot(losses, [voip_quality(100, p, burst_ratio=burst, codec='g711-plc').mos\n"
        "                     for p in losses], label=f'BurstR {burst:g}')\n"
        "ax.set_xlabel('packet loss (%)')\n"
        "ax.set_ylabel('MOS')\n"
        "ax.legend()\n"
        "show(fig)"
    ),
    new_markdown_cell("## Delay-sensitivity classes (sT, mT)"),
    new_code_cell(
        "fig, ax = plt.subplots(figsize=(7, 4))\n"
        "for name, (sT, mT) in DELAY_SENSITIVITY.items():\n"
        "    params = EModelParams(sT=sT, mT_ms=mT)\n"
        "    ax.plot(delays, [voip_quality(d, 0.0, params=params).R for d in delays], label=name)\n"
        "ax.set_xlabel('one-way delay (ms)')\n"
        "ax.set_ylabel('R')\n"
        "ax.legend()\n"
        "show(fig)\n"
        "[{'class': n, 'R at 300 ms': round(voip_quality(300, 0.0, params=EModelParams(sT=s,\n"
        "  mT_ms=m)).R, 1)} for n, (s, m) in DELAY_SENSITIVITY.items()]"
    ),
]

CONTRACT = [
    new_markdown_cell(
        "# Evidence against my contract\n\n"
        "Score a consumer's campaign against `configs/profiles/contract.example.toml` (copy it "
        "and enter what your contract states), see which objectives still lack samples, and "
        "compute the price per delivered Mbit/s from its `[tariff]` (`docs/methods.md` §8, "
        "§14)."
    ),
    new_code_cell(SETUP),
    new_code_cell(
        "from qos.profiles import get_profile\n"
        "from qos_analysis import overall, score\n\n"
        "profile = get_profile('contract.example')\n"
        "agents = sorted(data.measurements['agent_id'].unique())\n"
        "agent = os.environ.get('QOS_NOTEBOOK_AGENT') or agents[0]\n"
        "data = data.for_agents([agent])\n"
        "# The contract's speeds: here the household's plan from the panel metadata (when\n"
        "# present); for your own line enter what your contract states.\n"
        "from pathlib import Path\n\n"
        "from qos_analysis.panel.metadata import find_metadata, read_metadata\n\n"
        "meta_path = find_metadata(Path(DATA)) if Path(DATA).is_dir() else None\n"
        "plans = read_metadata(meta_path).set_index('agent_id') if meta_path else None\n"
        "if plans is not None and 'advertised_download_bps' in plans and agent in plans.index:\n"
        "    plan = plans.loc[agent]\n"
        "    down, up = plan['advertised_download_bps'], plan['advertised_upload_bps']\n"
        "    profile = profile.with_parameters({\n"
        "        'download_max': f'{down:.0f}bit/s', 'download_normal': f'{0.8 * down:.0f}bit/s',\n"
        "        'download_min': f'{0.5 * down:.0f}bit/s', 'upload_max': f'{up:.0f}bit/s',\n"
        "        'upload_normal': f'{0.8 * up:.0f}bit/s', 'upload_min': f'{0.5 * up:.0f}bit/s'})\n"
        "verdicts = score(data, profile)\n"
        "print(agent, 'overall:', overall(verdicts))\n"
        "verdicts[['objective', 'outcome', 'value', 'limit', 'n_samples', 'min_samples']]"
    ),
    new_markdown_cell(
        "## What is still missing\n\n"
        "Scored after the first day of the campaign: an objective with fewer samples than "
        "`min_samples`, or whose confidence interval still straddles the limit, is "
        "`inconclusive`, and `more` says how many samples it still needs at least."
    ),
    new_code_cell(
        "from datetime import timedelta\n\n"
        "from qos_analysis.report.period import restrict\n\n"
        "# After the first day of the campaign, which objectives still lack evidence?\n"
        "day_one_end = data.measurements['started_at'].min() + timedelta(days=1)\n"
        "first_day = restrict(data, None, day_one_end)\n"
        "early = score(first_day, profile)\n"
        "missing = early[early['outcome'] == 'inconclusive']\n"
        "missing.assign(more=(missing['min_samples'] - missing['n_samples']).clip(lower=0))[\n"
        "    ['objective', 'n_samples', 'min_samples', 'more', 'note']]"
    ),
    new_markdown_cell("## Price per delivered Mbit/s"),
    new_code_cell(
        "from qos_analysis.tariff import tariff_figures, tariff_lines\n\n"
        "figures = tariff_figures(data, profile)\n"
        "print('\\n'.join(tariff_lines(figures)))\n"
        "m = data.measurements\n"
        "down = m[(m['kind'] == 'throughput') & (m['direction'] == 'download')\n"
        "         & (m['status'] == 'ok')]\n"
        "fig, ax = plt.subplots(figsize=(7, 4))\n"
        "ax.hist(down['goodput_bps'] / 1e6, bins=30)\n"
        "ax.axvline(figures.advertised_download_bps / 1e6, color='k', ls='--',\n"
        "           label='advertised')\n"
        "ax.axvline(figures.median_download_bps / 1e6, color='r', label='median delivered')\n"
        "ax.set_xlabel('download (Mbit/s)')\n"
        "ax.legend()\n"
        "show(fig)"
    ),
]

NOTEBOOKS = {
    "01-my-connection.ipynb": MY_CONNECTION,
    "02-regulator-audit.ipynb": REGULATOR,
    "03-voice-quality.ipynb": VOICE,
    "04-contract-evidence.ipynb": CONTRACT,
}


def build(name: str) -> nbformat.NotebookNode:
    """The notebook ``name`` with outputs empty and a python3 kernel spec."""
    nb = new_notebook(cells=NOTEBOOKS[name])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def main() -> None:
    for name in NOTEBOOKS:
        nbformat.write(build(name), HERE / name)


if __name__ == "__main__":
    main()

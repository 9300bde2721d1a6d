"""The fit report: self-contained HTML with figure, metabolite table, ratios, QC and provenance."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "quant"))
from _synthetic import make_result  # noqa: E402

from pmlmrs.errors import WriteError  # noqa: E402
from pmlmrs.qc import QCItem, with_qc  # noqa: E402
from pmlmrs.quant import scale_to_water  # noqa: E402
from pmlmrs.report import Page, fit_figure, fit_figure_plotly, write_fit_report  # noqa: E402
from pmlmrs.report._html import environment, fmt_number, mpl_png, mpl_svg, render  # noqa: E402

EXTERNAL = re.compile(r"""<(script|img|link|iframe)[^>]+(src|href)\s*=\s*["']?(https?:)?//""", re.I)


def _no_external(html: str) -> None:
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert "<link" not in html.lower()


def test_fit_figure_axes(rng):
    r = make_result(rng, noise_sd=50.0)
    fig = fit_figure(r)
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    assert lo > hi  # ppm axis inverted: high ppm on the left
    labels = {line.get_label() for line in ax.get_lines()}
    assert {"data", "fit", "baseline", "residual"} <= labels
    texts = {t.get_text() for t in ax.texts}
    assert {"NAA", "Cr", "Ins"} <= texts  # components labelled
    pfig = fit_figure_plotly(r)
    assert pfig.layout.xaxis.autorange == "reversed"
    assert {"data", "fit", "NAA"} <= {t.name for t in pfig.data}


def test_write_fit_report_contents(tmp_path, rng):
    r = with_qc(scale_to_water(make_result(rng, noise_sd=50.0), 1.0e5), voi="nawm")
    src = tmp_path / "sub-01_svs.nii.gz"
    src.write_bytes(b"x")
    p = write_fit_report(r, tmp_path / "out" / "report.html", name="sub-01_svs", voi="nawm", input_path=src)
    html = p.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "<svg" in html  # inline figure
    for text in ("sub-01_svs", "Metabolites", "CRLB", "tNAA/tCr", "Quality control", "plausibility",
                 "Provenance", "water_scaling", "mM"):
        assert text in html, text
    assert r.names[0] in html
    import hashlib
    assert hashlib.sha256(b"x").hexdigest() in html
    _no_external(html)
    with pytest.raises(WriteError):
        write_fit_report(r, p, force=False)


def test_interactive_report_inlines_plotly_once(tmp_path, rng):
    r = make_result(rng)
    html = write_fit_report(r, tmp_path / "r.html", interactive=True).read_text(encoding="utf-8")
    head, body = html.split("</head>", 1)
    assert head.count("<script type=\"text/javascript\">") == 1  # the bundle, once, in <head>
    assert html.count("plotly.js v") <= 1 and "Plotly.Plots.resize" in body  # bundle once; resize on load
    assert "Plotly.newPlot" in html or "Plotly.react" in html
    _no_external(html)


def test_page_and_helpers(tmp_path, rng):
    from matplotlib.figure import Figure

    fig = Figure()
    fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
    assert str(mpl_svg(fig)).startswith("<svg")
    fig2 = Figure()
    fig2.add_subplot(1, 1, 1).plot([0, 1])
    assert 'src="data:image/png;base64,' in str(mpl_png(fig2))
    page = Page("base.html.jinja", title="T <&>")
    out = page.write(tmp_path / "p.html")
    text = out.read_text()
    assert "T &lt;&amp;&gt;" in text  # autoescaped
    assert "plotly" not in text.lower()
    assert fmt_number(float("nan")) == "n/a" and fmt_number(np.inf) == "∞" and fmt_number(0.12345, ".2f") == "0.12"
    assert "base.html.jinja" in environment().list_templates()
    assert "pmlmrs" in render("base.html.jinja", title="x")


def test_qc_levels_rendered(tmp_path, rng):
    r = make_result(rng).replace(qc=(QCItem("fail", "linewidth", "FWHM 0.12 ppm", "reshim"),))
    html = write_fit_report(r, tmp_path / "r.html").read_text()
    assert 'class="name qc-fail"' in html and "reshim" in html and "nopass" in html


def test_crlb_highlight_follows_the_threshold_used(tmp_path, rng):
    """Rows are highlighted above the QC threshold that was used (recorded or passed), not 20 %."""
    from pmlmrs.qc import QCOptions
    from pmlmrs.quant import fit_to_dict
    from pmlmrs.report.fit_report import fit_context

    qc = QCOptions(crlb_max=5.0)
    r = with_qc(make_result(rng, noise_sd=50.0), options=qc)
    mid = [n for n in r.names if 5.5 < r.crlb_percent(n) < 19.0]  # PCr, GPC, PCho, Lip13a
    assert mid
    flagged = {c["name"] for c in fit_context(r, crlb_max=5.0)["components"] if c["flagged"]}
    assert set(mid) <= flagged
    assert not set(mid) & {c["name"] for c in fit_context(r)["components"] if c["flagged"]}  # default 20 %
    doc = fit_to_dict(r, options={"qc": qc.to_dict()})
    html = write_fit_report(r, tmp_path / "r.html", fit_doc=doc).read_text()
    assert "rows above 5 % (the QC threshold used)" in html and "CRLB ≤ 5 %" in html  # page and QC row agree
    for n in mid:
        assert f'<tr class="flagged"><td class="name">{n}</td>' in html, n


def test_unmeasurable_snr_reads_na(tmp_path, rng):
    r = make_result(rng, noise_sd=50.0)
    html = write_fit_report(r.replace(data=-r.data), tmp_path / "r.html").read_text()
    assert re.search(r"SNR n/a\s", html) and not re.search(r"SNR -\d", html)
    assert "not measurable (n/a in 1 spectrum)" in html  # the MRSinMRS data-quality row


def test_report_states_version_basis_options_and_mrsinmrs(tmp_path, rng):
    """The page says which pmlmrs, basis (name and SHA-256) and key options made it, and its MRSinMRS
    table is filled from the analysis actually run (water scaling, first-order phase, QC levels)."""
    import pmlmrs
    from pmlmrs.basis import bundled_basis
    from pmlmrs.quant.outputs import tree_sha256

    folder = bundled_basis().source
    r = with_qc(scale_to_water(make_result(rng, noise_sd=50.0), 1.0e5), voi="nawm")
    html = write_fit_report(r, tmp_path / "r.html", basis_path=folder,
                            options={"quant": {"gm_fraction": 0.0}}).read_text(encoding="utf-8")
    produced = re.search(r'id="produced-by">(.*?)</p>', html, re.DOTALL).group(1)
    for text in (f"pmlmrs {pmlmrs.__version__}", "ismrm2016_press_3T_30ms", tree_sha256(folder), "spline baseline",
                 "first-order phase", "CRLB &gt; 20 % warn"):
        assert text in produced, text
    mrs = html[html.index('id="mrsinmrs"'):html.index('id="provenance"')]
    assert "water-scaled: water 55.51 M" in mrs and "water T2 110/80/1000 ms" in mrs
    assert "first-order phase" in mrs and f"ismrm2016_press_3T_30ms (SHA-256 {tree_sha256(folder)})" in mrs
    assert "QC warning only (reported): FWHM &gt; 0.07 ppm, SNR &lt; 10, fit quality &gt; 1.5, CRLB &gt; 20 %" in mrs
    assert "not in the header (the file holds one averaged spectrum)" in mrs
    assert str(Path(folder).parent) not in html


def test_lipid_lineshape_line():
    """The report's one line on the lipid lineshape, from fit.json's parameters: the methylene line's own
    width (kept), tried and not supported, not tried (with the reason), or nothing without lipids."""
    from pmlmrs.report.fit_report import lipid_lineshape

    fwhm = {"metabolites": 5.0, "lipids_mm": 21.04, "lipids_ch2": 44.46}
    kept = lipid_lineshape({"fwhm_hz": fwhm, "lipid_methylene": {"own_group": True, "ic_gain": 54.37}})
    assert kept.startswith("1.3 ppm methylene line with its own width")
    assert "lipids_mm 21.0 Hz, lipids_ch2 44.5 Hz" in kept and "gain 54.4" in kept and "metabolites" not in kept
    shared = {"metabolites": 5.0, "lipids_mm": 20.7}
    tried = lipid_lineshape({"fwhm_hz": shared, "lipid_methylene": {"own_group": False, "ic_gain": -10.43}})
    assert tried.startswith("one lipid width (Voigt FWHM lipids_mm 20.7 Hz)") and "not supported" in tried
    assert "gain -10.4" in tried
    reason = "1.3 ppm lipid lines under 5 CRLBs"
    not_tried = lipid_lineshape({"fwhm_hz": shared, "lipid_methylene": {"own_group": False, "ic_gain": None,
                                                                        "not_tried": reason}})
    assert not_tried.endswith("not tried: " + reason)
    assert lipid_lineshape({"fwhm_hz": shared}) is None

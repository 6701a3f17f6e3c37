"""What a demo run found (:class:`DemoReport`): its terminal summary and its ``index.html``."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ._html import Figure, Section, render_page, table_html
from ._tables import ProtocolResult, best_cells, fallback_note, text_table, wide_table

__all__ = ["REAL_DATA_COMMANDS", "DemoReport"]

#: the same job on the GTEx v8 downloads (file names as GTEx publishes them)
REAL_DATA_COMMANDS = """\
# the hybrid's sequence and neighbour features need gene coordinates and promoters:
gex-impute annotate GTEx_Analysis_2017-06-05_v8_RNASeQCv1.1.9_gene_tpm.gct.gz \\
    --sample-attributes GTEx_Analysis_v8_Annotations_SampleAttributesDS.txt \\
    --subject-phenotypes GTEx_Analysis_v8_Annotations_SubjectPhenotypesDS.txt \\
    --annotation gencode.v26.GRCh38.genes.gtf --fasta Homo_sapiens_assembly38_noALT_noHLA_noDecoy.fasta \\
    -o gtex.h5ad
gex-impute complete gtex.h5ad -o completed.h5ad --plot profiles.png
# P3 hides whole donor x tissue profiles (also: --protocol genes, entries)
gex-impute evaluate gtex.h5ad --protocol samples --donor-key donor -o p3.tsv --plot p3.png"""

_PROTOCOL_TEXT = {
    "genes": "P1 (genes): 20% of the measured genes are hidden in every sample; a method must infer a "
    "gene it never saw from its promoter and genomic neighbours.",
    "entries": "P2 (entries): 20% of the observed values are hidden at random; the rest of the matrix "
    "is there to learn from.",
    "samples": "P3 (samples): 20% of the observed donor x tissue profiles are hidden whole (never all "
    "of a donor's), the situation of completing an absent profile.",
}


@dataclass
class DemoReport:
    """The outcome of :func:`gex_impute.datasets.demo`: table, verdict, files, timings.

    Attributes
    ----------
    output_dir
        The report folder.
    table
        One row per protocol x method (``label``, ``protocol``, ``method``, evaluate()'s metrics).
    results
        The hybrid judged under each protocol on its headline metric.
    files
        What the folder holds: key -> path relative to ``output_dir``.
    cohort
        Sizes of the simulated cohort and of the completed one.
    truth_check
        Completed entries against the simulated truth: estimate label -> ``{"r", "mse", "n"}``.
    interval_check
        The completed entries' prediction intervals against the simulated truth: ``level``,
        ``coverage``, ``mean_width`` (log1p), ``n`` and ``by_tissue`` coverage; empty without
        intervals.
    settings
        Simulation, evaluation and hybrid settings, seed.
    seconds
        Wall-clock seconds per step and ``"total"``.
    larger_cohorts
        What the benchmark measured at larger sizes (shown when the hybrid does not win here).
    """

    output_dir: Path
    table: pd.DataFrame
    results: list[ProtocolResult]
    files: dict[str, str]
    cohort: dict[str, int]
    truth_check: dict[str, dict[str, float]] = field(default_factory=dict)
    interval_check: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    larger_cohorts: str = ""

    @property
    def hybrid_wins(self) -> bool:
        """Whether the hybrid is best under every protocol on its headline metric."""
        return bool(self.results) and all(r.wins for r in self.results)

    def verdict(self) -> list[str]:
        """Return the verdict in plain sentences: who wins each protocol, and what that means here."""
        names = ", ".join(r.label for r in self.results)
        if self.hybrid_wins:
            lines = [f"The hybrid is the best method under {names} on this cohort."]
        else:
            behind = [r for r in self.results if not r.wins]
            ahead = [r for r in self.results if r.wins]
            lines = [
                "At this size the hybrid does NOT win every protocol: behind under "
                + ", ".join(f"{r.label} ({r.best_other} is better)" for r in behind)
                + (f"; ahead under {', '.join(r.label for r in ahead)}." if ahead else ".")
            ]
            if self.larger_cohorts:
                lines.append(self.larger_cohorts)
        lines.extend(r.sentence() for r in self.results)
        return lines

    def summary(self) -> str:
        """Return what ``gex-impute demo`` prints: cohort, table, verdict, report path, real-data commands."""
        c = self.cohort
        wide = wide_table(self.table, self._methods())
        out = Path(self.output_dir)
        lines = [
            f"Simulated a GTEx-shaped cohort (seed {self.settings.get('random_state')}): "
            f"{c['n_donors']} donors x {c['n_tissues']} tissues x {c['n_genes']} genes; "
            f"{c['n_samples']} samples observed, {c['n_absent_profiles']} donor x tissue profiles absent, "
            f"{c['n_hidden_genes']} genes never measured.",
            f"Completed it with the hybrid: {c['n_profiles']} profiles, {c['n_absent_profiles']} of them "
            f"estimated -> {out / self.files['completed']}",
            "",
            "Held-out accuracy, hybrid vs baselines (20% hidden per protocol; log1p TPM; * best in column):",
            text_table(wide),
            *([note] if (note := fallback_note(self.table)) else []),
            "",
            *self.verdict(),
        ]
        if self.truth_check:
            lines += ["", self._truth_sentence()]
        if self.interval_check:
            lines += [self._interval_sentence()]
        lines += [
            "",
            f"Report: {out / self.files['index']}  (figures, table, explanations; metrics: "
            f"{out / self.files['metrics']})",
            f"Took {self.seconds.get('total', float('nan')):.0f} s.",
            "",
            "The same on real GTEx v8 files:",
            REAL_DATA_COMMANDS,
        ]
        return "\n".join(lines)

    # -- html ------------------------------------------------------------------------------------
    def html(self) -> str:
        """Return the report page (``index.html``): every figure with a short explanation."""
        c = self.cohort
        wide = wide_table(self.table, self._methods())
        mixed = "" if self.hybrid_wins else " mixed"
        verdict = "".join(f"<p>{html.escape(line)}</p>" for line in self.verdict())
        f = self.files
        sections = [
            Section("Verdict", blocks=[f'<div class="verdict{mixed}">{verdict}</div>'], anchor="verdict"),
            Section(
                "Accuracy: hybrid vs baselines",
                paragraphs=[
                    "Every method is fitted on a copy of the cohort with the held-out values set to missing "
                    "and scored on them (log1p TPM). The protocols:",
                    *(_PROTOCOL_TEXT[p] for p in dict.fromkeys(self.table["protocol"])),
                    "r: Pearson correlation of all held-out values; MSE: mean squared error; sample r: "
                    "per-sample correlation across genes (HYFA's metric). The best value of each column "
                    "is highlighted.",
                ],
                blocks=[
                    table_html(wide, best=best_cells(wide)),
                    *([f"<p>{html.escape(note)}</p>"] if (note := fallback_note(self.table)) else []),
                    f'<p>All columns (Spearman, per-gene r, timings, fallbacks): <a href="{f["metrics"]}">'
                    f"{html.escape(f['metrics'])}</a></p>",
                ],
                figures=[
                    Figure(
                        f["fig_metrics"], "Each protocol's headline metric for every method (hybrid in red)."
                    )
                ],
                anchor="accuracy",
            ),
            Section(
                "Predicted vs observed",
                paragraphs=[
                    "Held-out values against their prediction, per protocol: the hybrid (top) and the "
                    "protocol's best baseline (bottom). Points on the dashed diagonal are exact."
                ],
                figures=[Figure(f["fig_predicted_vs_observed"], "Held-out entries, predicted vs observed.")],
                anchor="predicted",
            ),
            Section(
                "Accuracy per tissue",
                paragraphs=[
                    "Pearson r of the held-out values of each tissue: where a method's accuracy comes "
                    "from, and whether one tissue drags it down."
                ],
                figures=[Figure(f["fig_tissue_r"], "Per-tissue Pearson r of the held-out entries.")],
                anchor="tissues",
            ),
            self._interval_section(),
            Section(
                "The completed cohort",
                paragraphs=[
                    f"The cohort has one profile per donor x tissue: {c['n_profiles']} profiles, of which "
                    f"{c['n_absent_profiles']} were absent and are now estimated (obs['imputed_profile']). "
                    "Observed values are kept bitwise.",
                    "Open it with: import anndata; adata = anndata.read_h5ad('completed.h5ad'). X holds "
                    "TPM (the figures and tables here are log1p TPM); layers: completed_mask (True where "
                    "a value was estimated), completed_lower / completed_upper (the interval bounds, equal "
                    "to the value where observed); uns['completed']: the method, its settings, timings.",
                    *([self._truth_sentence()] if self.truth_check else []),
                ],
                blocks=[f'<p>File: <a href="{f["completed"]}">{html.escape(f["completed"])}</a></p>'],
                figures=[
                    Figure(
                        f["fig_profiles"], "Which donor x tissue profiles were observed and which completed."
                    ),
                    Figure(
                        f["fig_tissue_matrixplot"],
                        "Mean expression per tissue of the most tissue-specific genes, observed vs completed "
                        "profiles (scanpy matrixplot): completed profiles should follow their tissue.",
                    ),
                    *(
                        [Figure(f["fig_completed_vs_truth"], "Completed values against the simulated truth.")]
                        if "fig_completed_vs_truth" in f
                        else []
                    ),
                ],
                anchor="completed",
            ),
            Section(
                "Run it on real GTEx files",
                blocks=[f"<pre>{html.escape(REAL_DATA_COMMANDS)}</pre>"],
                anchor="real",
            ),
            Section(
                "Settings and timing",
                blocks=[f"<pre>{html.escape(json.dumps(self._record(), indent=2, default=str))}</pre>"],
                anchor="settings",
            ),
        ]
        lead = (
            f"A simulated GTEx-shaped cohort ({c['n_donors']} donors x {c['n_tissues']} tissues x "
            f"{c['n_genes']} genes, {c['n_samples']} samples observed), completed with the hybrid model "
            "and evaluated against the baselines."
        )
        footer = f"{self.seconds.get('total', 0):.0f} s before this folder was written"
        return render_page("gex_impute demo", lead, sections, footer=footer)

    def _interval_section(self) -> Section:
        if "fig_calibration" in self.files and self.interval_check:
            return Section(
                "Prediction intervals",
                paragraphs=[
                    self._interval_sentence(),
                    f"A {self.interval_check['level']:.0%} prediction interval is a range that should "
                    "hold the true value that often: every completed value has one (the layers "
                    "completed_lower / completed_upper). Its width is upper minus lower on the log1p "
                    "scale, so a width of 1 spans a factor of about e = 2.7 in TPM. The check covers "
                    "the absent profiles' measured genes; the genes never measured get wider intervals.",
                    "Each bar is one tissue's share of the completed values (absent profiles, measured "
                    "genes) that fall inside their interval; the dashed line is the nominal level. Bars "
                    "near the line: the intervals can be taken at their word.",
                ],
                figures=[
                    Figure(
                        self.files["fig_calibration"],
                        "Interval coverage of the completed profiles per tissue.",
                    )
                ],
                anchor="intervals",
            )
        return Section(
            "Prediction intervals",
            paragraphs=["The completion was run without prediction intervals, so none are checked here."],
            anchor="intervals",
        )

    def _interval_sentence(self) -> str:
        check = self.interval_check
        return (
            f"Prediction intervals ({check['level']:.0%}) of the completed profiles cover "
            f"{check['coverage']:.1%} of the simulated true values ({check['n']} values; mean width "
            f"{check['mean_width']:.2f} log1p TPM)."
        )

    def _truth_sentence(self) -> str:
        check = self.truth_check
        parts = [f"{label} r {v['r']:.3f}, MSE {v['mse']:.3f}" for label, v in check.items()]
        n = next(iter(check.values()))["n"]
        text = (
            "The absent profiles as completed, against the simulated truth (known only because the data "
            f"are simulated; {int(n)} values, log1p): " + "; ".join(parts) + "."
        )
        if "hybrid" in check and "tissue mean" in check:
            if check["hybrid"]["mse"] < check["tissue mean"]["mse"]:
                text += " The completed profiles are closer to the truth than the tissue mean."
            else:
                text += (
                    " The completed profiles are NOT better than the plain tissue mean of the observed "
                    "samples: do not trust them more than that."
                )
        return text

    def _methods(self) -> list[str]:
        return list(dict.fromkeys(self.table["method"]))

    def _record(self) -> dict[str, Any]:
        return {
            "settings": self.settings,
            "cohort": self.cohort,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "files": self.files,
            "hybrid_wins": self.hybrid_wins,
        }

    def to_json(self) -> str:
        """Return settings, cohort sizes, timings, files and verdict as JSON (``report.json``)."""
        record = self._record()
        record["results"] = [r.__dict__ | {"wins": r.wins} for r in self.results]
        record["truth_check"] = self.truth_check
        record["interval_check"] = self.interval_check
        return json.dumps(record, indent=2, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)

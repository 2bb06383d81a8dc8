"""C-peptide per visit (fasting and mixed-meal stimulated) and engraftment."""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day


def c_peptide_by_visit(lab_results: pl.DataFrame, infusions: pl.DataFrame,
                       visit_days: Mapping[str, int],
                       lloq_pmol_l: float) -> pl.DataFrame:
    """One row per participant and visit: fasting and 90-min mixed-meal stimulated C-peptide
    in pmol/L (converted at load from nmol/L x 1000 and ng/mL x 331; 1 ng/mL = 0.331 nmol/L),
    and ``engrafted`` = detectable C-peptide (fasting or stimulated >= the assay's lower limit
    of quantification, ``lloq_pmol_l``) after infusion. Detectable C-peptide as evidence of
    engraftment: Reichman et al., NEJM 2025 (zimislecel); Rickels et al., Transpl Int
    2018;31:343 (Igls criteria, C-peptide > baseline).
    """
    c = with_study_day(lab_results.filter(pl.col("analyte").is_in(["c_peptide_fasting",
                                                                   "c_peptide_stimulated"])),
                       infusions, "collection_date")
    wide = c.group_by("participant_id", "visit").agg(
        collection_date=pl.col("collection_date").min(),
        study_day=pl.col("study_day").min(),
        fasting_pmol_l=pl.col("value").filter(pl.col("analyte") == "c_peptide_fasting").first(),
        stimulated_pmol_l=pl.col("value").filter(pl.col("analyte") == "c_peptide_stimulated")
        .first(),
    )
    detectable = ((pl.col("fasting_pmol_l") >= lloq_pmol_l)
                  | (pl.col("stimulated_pmol_l") >= lloq_pmol_l))
    return wide.with_columns(
        nominal_day=pl.col("visit").replace_strict(dict(visit_days), default=None,
                                                   return_dtype=pl.Int32),
        detectable=detectable.fill_null(False),
    ).with_columns(
        engrafted=pl.when(pl.col("study_day") > infusion_day(infusions))
        .then(pl.col("detectable")).otherwise(None)
    ).sort("participant_id", "collection_date")

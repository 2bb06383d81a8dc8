"""Neutropenia graded by CTCAE v5 from the absolute neutrophil count."""

from __future__ import annotations

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day


def ctcae_neutropenia_grade(anc: pl.Expr, lln: float) -> pl.Expr:
    """CTCAE v5.0 "Neutrophil count decreased" grade from ANC in cells/mm3: grade 1 < LLN to
    1500, grade 2 < 1500 to 1000, grade 3 < 1000 to 500, grade 4 < 500; 0 otherwise
    (Common Terminology Criteria for Adverse Events v5.0, NCI 2017, Investigations)."""
    return (pl.when(anc < 500).then(4).when(anc < 1000).then(3).when(anc < 1500).then(2)
            .when(anc < lln).then(1).otherwise(0).cast(pl.Int8))


def neutropenia(lab_results: pl.DataFrame, adverse_events: pl.DataFrame,
                infusions: pl.DataFrame, lln: float) -> pl.DataFrame:
    """Per participant: worst CTCAE v5 neutropenia grade from the central-lab ANC after
    infusion (from the infusion day on; ``lln``: the central lab's lower limit of normal), the
    day and ANC of the nadir, and whether a serious adverse event of neutropenia (preferred term
    containing "neutropenia" or "neutrophil count decreased") was reported.
    ``serious_neutropenia`` is the reported seriousness (the safety headline counts serious
    AEs); ``worst_grade >= 3`` is the laboratory view.
    """
    anc = with_study_day(lab_results.filter(pl.col("analyte") == "anc"), infusions,
                         "collection_date").filter(pl.col("study_day") >= infusion_day(infusions))
    nadir = anc.sort("value").group_by("participant_id").agg(
        nadir_anc_per_mm3=pl.col("value").first(), nadir_day=pl.col("study_day").first())
    term = pl.col("preferred_term").str.to_lowercase()
    sae = adverse_events.filter(term.str.contains("neutropenia")
                                | term.str.contains("neutrophil count decreased"))
    reported = sae.group_by("participant_id").agg(
        neutropenia_ae=pl.lit(True), serious_neutropenia=pl.col("serious").any())
    return (infusions.select("participant_id", "dose_group")
            .join(nadir, on="participant_id", how="left")
            .join(reported, on="participant_id", how="left")
            .with_columns(worst_grade=ctcae_neutropenia_grade(pl.col("nadir_anc_per_mm3"), lln),
                          neutropenia_ae=pl.col("neutropenia_ae").fill_null(False),
                          serious_neutropenia=pl.col("serious_neutropenia").fill_null(False))
            .sort("participant_id"))

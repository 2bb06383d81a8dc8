"""Igls criteria: beta-cell replacement outcome (optimal / good / marginal / failure)."""

from __future__ import annotations

import polars as pl

from isletflow.endpoints.study_day import infusion_day, with_study_day
from isletflow.trial import Igls


def igls_outcome(hba1c: pl.DataFrame, she_events: pl.DataFrame, diary: pl.DataFrame,
                 c_peptide: pl.DataFrame, participants: pl.DataFrame,
                 infusions: pl.DataFrame, p: Igls,
                 insulin_baseline: tuple[int, int]) -> pl.DataFrame:
    """Igls functional status at day ``p.day`` (Rickels et al., "Defining outcomes for beta-cell
    replacement therapy in the treatment of diabetes: a consensus report on the Igls criteria
    from the IPITA/EPITA opinion leaders workshop", Transpl Int 2018;31:343-352, Table 3):

    ============  ===========  =====================  ======================  ============
    status        HbA1c        severe hypo / year     insulin U/kg/day        C-peptide
    ============  ===========  =====================  ======================  ============
    optimal       <= 6.5 %     none                   none                    > baseline
    good          < 7.0 %      none                   < 50 % of baseline      > baseline
    marginal      baseline     < baseline             >= 50 % of baseline     > baseline
    failure       baseline     baseline               baseline                baseline
    ============  ===========  =====================  ======================  ============

    Footnotes applied: C-peptide > baseline must also be > 0.5 ng/mL (> 0.17 nmol/L, 170
    pmol/L; ``p.c_peptide_min_pmol_l``) fasting or stimulated; "good" insulin must also be
    < 0.5 U/kg/day (``p.insulin_good_u_kg_below``). The table's cut-offs come from the trial
    file's ``endpoints.igls`` (``p``; the sample trial: the values above).
    Operational choices (stated so a reader can check them): HbA1c = the value of the visit
    at ``p.day`` (else the latest from ``p.hba1c_from_day``); severe hypoglycaemia = ADA
    level 3 events after the infusion day up to ``p.day`` against ``p.she_baseline_days``;
    insulin = mean diary dose over the ``p.insulin_days`` days
    ending on ``p.day`` against the days ``insulin_baseline`` (the insulin-independence
    baseline), in U/kg/day
    (weight at enrolment); C-peptide = the higher of fasting and stimulated at the visit of
    ``p.day`` against the last value on or before the infusion day. Classification goes from the
    top: a participant who meets every cell of a row gets it; C-peptide not above baseline is
    failure; anything else that still has fewer severe events than at baseline is marginal.
    Missing inputs give a null status with the reason.
    """
    day, d0 = p.day, infusion_day(infusions)
    h = hba1c.filter(pl.col("nominal_day").is_between(p.hba1c_from_day, day)).sort(
        "nominal_day").group_by(
        "participant_id").agg(hba1c_pct=pl.col("hba1c_pct").last())
    s = with_study_day(she_events.filter(pl.col("third_party_assistance")), infusions,
                       "event_date")
    she = s.group_by("participant_id").agg(
        she_after=pl.col("study_day").is_between(d0 + 1, day).sum().cast(pl.Int32),
        she_before=pl.col("study_day").is_between(*p.she_baseline_days).sum().cast(pl.Int32))
    d = with_study_day(diary, infusions, "diary_date").join(
        participants.select("participant_id", "weight_kg"), on="participant_id", how="left")
    ins = d.group_by("participant_id").agg(
        base_u_kg=(pl.col("total_daily_dose_u") / pl.col("weight_kg"))
        .filter(pl.col("study_day").is_between(*insulin_baseline)).mean(),
        now_u_kg=(pl.col("total_daily_dose_u") / pl.col("weight_kg"))
        .filter(pl.col("study_day").is_between(day - p.insulin_days + 1, day)).mean())
    cp = c_peptide.with_columns(best=pl.max_horizontal("fasting_pmol_l", "stimulated_pmol_l"))
    cpep = cp.group_by("participant_id").agg(
        cpep_baseline=pl.col("best").filter(pl.col("study_day") <= d0).last(),
        cpep_now=pl.col("best").filter(pl.col("nominal_day") == day).last())
    x = (infusions.select("participant_id").unique()
         .join(h, on="participant_id", how="left").join(she, on="participant_id", how="left")
         .join(ins, on="participant_id", how="left").join(cpep, on="participant_id", how="left")
         .with_columns(pl.col("she_after").fill_null(0), pl.col("she_before").fill_null(0)))
    missing = (pl.col("hba1c_pct").is_null() | pl.col("now_u_kg").is_null()
               | pl.col("base_u_kg").is_null() | pl.col("cpep_now").is_null()
               | pl.col("cpep_baseline").is_null())
    c_up = ((pl.col("cpep_now") > pl.col("cpep_baseline"))
            & (pl.col("cpep_now") > p.c_peptide_min_pmol_l))
    ratio = pl.col("now_u_kg") / pl.col("base_u_kg")
    optimal = ((pl.col("hba1c_pct") <= p.hba1c_optimal_max_pct) & (pl.col("she_after") == 0)
               & (pl.col("now_u_kg") == 0) & c_up)
    good = ((pl.col("hba1c_pct") < p.hba1c_good_below_pct) & (pl.col("she_after") == 0)
            & (ratio < p.insulin_good_fraction_below)
            & (pl.col("now_u_kg") < p.insulin_good_u_kg_below) & c_up)
    marginal = c_up & (pl.col("she_after") < pl.col("she_before"))
    return x.with_columns(
        insulin_pct_of_baseline=ratio * 100.0,
        igls_status=pl.when(missing).then(None).when(optimal).then(pl.lit("optimal"))
        .when(good).then(pl.lit("good")).when(marginal).then(pl.lit("marginal"))
        .otherwise(pl.lit("failure")),
        reason=pl.when(missing).then(pl.lit(f"not evaluable: HbA1c, insulin diary or C-peptide "
                                            f"missing at day {day} or baseline"))
        .when(~c_up).then(pl.lit(f"C-peptide not above baseline and "
                                 f"{p.c_peptide_min_pmol_l:g} pmol/L"))
        .otherwise(pl.format("HbA1c {} %, {} severe events (baseline {}), insulin {} % of "
                             "baseline", pl.col("hba1c_pct").round(1), pl.col("she_after"),
                             pl.col("she_before"), (ratio * 100).round(0))),
        treatment_success=pl.when(missing).then(None).otherwise(optimal | good),
    ).sort("participant_id")

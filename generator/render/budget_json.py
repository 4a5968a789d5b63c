"""budget.json: every figure of the report, for other tools (output-spec.md)."""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from generator.model import LineItem, Plan, QuoteAnalysis, QuoteResult, Range, ScenarioPlan

if TYPE_CHECKING:
    from generator.settings import Settings

SCHEMA_VERSION = 1


def rng(r: Range) -> dict[str, int]:
    return {"low": r.low, "expected": r.expected, "high": r.high}


def pair(values: tuple[int, ...]) -> dict[str, int]:
    return {"low": values[0], "high": values[-1]}


def _component(li: LineItem) -> dict[str, Any]:
    return {"name": li.name, "kind": li.kind, "category": li.category, "phase": li.phase, **rng(li.cost),
            "source": li.source, "note": li.note}


def scenario_dict(sp: ScenarioPlan) -> dict[str, Any]:
    own, run, labor, clinic = sp.ownership, sp.run, sp.labor, sp.scenario.clinic
    return {
        "name": sp.name,
        "tier": sp.tier,
        "build": rng(sp.build),
        "components": [_component(li) for li in sp.components],
        "phases": [{"phase": p, **rng(r)} for p, r in sp.phases],
        "labor": {"team": labor.team, "hours": labor.hours, "rate": labor.rate, "raw_cost": labor.raw_cost,
                  "overhead_rate": labor.overhead_rate, "overhead": labor.overhead, "cost": labor.cost,
                  "hours_source": labor.hours_source},
        "teams": [{"team": t.team, "rate": t.rate, "overhead_rate": t.overhead_rate,
                   "effective_rate": round(t.effective_rate, 2), "build": rng(t.build)} for t in sp.teams],
        "annual": {
            "maintenance": {**pair(run.maintenance), "expected": run.maintenance_expected},
            "support": {**pair(run.support), "expected": run.support_expected,
                        "staff_users_beyond": run.staff_beyond},
            "hosting": {**pair(run.hosting), "expected": run.hosting_expected},
            "training_updates": {**pair(run.training_updates), "expected": run.training_updates_expected},
            "total": rng(run.annual),
            "underestimate": pair(run.underestimate),
            "allowance": rng(run.allowance),
            "fees": [{"key": f.key, "name": f.name, "count": f.count, "basis": f.basis, **rng(f.cost),
                      "starts": f.start, "both_paths": f.both_paths, "source": f.source} for f in run.fees],
            "fees_total": rng(run.fees_total),
            "all_in": rng(run.total),
        },
        "going_live": {"dip": rng(run.golive), "go_lives": run.golive_count,
                       "legacy_per_year": run.legacy, "legacy_quarters": run.legacy_quarters},
        "servers_replaced": {"every_years": run.refresh_years, "times": run.refreshes},
        "onprem_upfront": {"low": run.onprem_upfront[0], "expected": run.onprem_upfront[1],
                           "high": run.onprem_upfront[2]},
        "off_the_shelf": [
            {"product": p.product, "monthly_per_provider": p.monthly_per_provider,
             "annual_subscription": p.annual_subscription, "annual_extras": p.annual_extras,
             "annual_increase": p.annual_increase, "customization_surcharge": p.customization_surcharge,
             "switching_cost": p.switching_cost, "fees": p.fees, "going_live": p.golive, "legacy": p.legacy,
             "yearly": list(p.yearly)}
            for p in own.off_the_shelf
        ],
        "tco": {
            "years": own.years,
            "custom": list(own.custom_cumulative),
            "custom_yearly": list(own.custom_yearly),
            "off_the_shelf": {p.product: list(p.cumulative) for p in own.off_the_shelf},
            "cheapest_product": own.cheapest_product,
            "break_even_year": own.break_even_year,
            "break_even_by_product": dict(own.break_even_by_product),
        },
        "cash_flow": [{"quarter": q.label, "build": q.build, "run": q.run, "launch": q.launch, "total": q.total}
                      for q in own.cash_flow],
        "capital": {"year_one": own.year_one_capital, "all_at_once": own.all_at_once_capital},
        "budget_phases": [{"name": b.name, "title": b.title, "total": b.total,
                           "items": [{"name": n, "amount": v} for n, v in b.items]} for b in own.budget_phases],
        "certified_saving": sp.certified_saving,
        "recommendation": {"path": own.recommendation.path, "product": own.recommendation.product,
                           "probability_custom_cheaper": own.recommendation.probability_custom_cheaper,
                           "payback_year": own.recommendation.payback_year,
                           "headline": own.recommendation.headline,
                           "reasons": list(own.recommendation.reasons),
                           "workflow_need": own.recommendation.workflow_need,
                           "budget": dict(zip(("amount", "basis"), sp.what_to_budget, strict=True))},
        "inputs": {"physicians": clinic.physicians, "hosting": clinic.hosting.value, "team": clinic.team.value,
                   "workflow_specificity": clinic.workflow_specificity.value,
                   "certified_components": clinic.certified_components},
        "warnings": [{"code": w.code, "message": w.message} for w in sp.warnings],
        **risk_dict(sp),
    }


def risk_dict(sp: ScenarioPlan) -> dict[str, Any]:
    """`risk` and `sensitivity`, from the risk stage when it ran."""
    return sp.risk.to_dict() if sp.risk is not None else {"risk": None, "sensitivity": []}


def quote_dict(r: QuoteResult) -> dict[str, Any]:
    """One `quotes[]` entry (output-spec.md): the quote, where it falls, the five answers, and the
    cost of ownership with it."""
    q, own = r.quote, r.ownership
    return {
        "vendor": q.vendor, "price": q.price, "percentile": r.percentile, "position": r.position,
        "unanswered": [{"column": a.column, "answer": a.answer or None, "strong_answer": a.strong_answer,
                        "reason": a.reason} for a in r.unanswered],
        "maintenance": {"annual": own.maintenance, "source": own.maintenance_source},
        "hours": q.hours, "hourly_rate": q.hourly_rate, "notes": q.notes,
        "advice": list(r.advice),
        "checks": [{"code": c.code, "message": c.message, "flag": c.flag} for c in r.checks],
        "answers": [{"column": a.column, "question": a.question, "answer": a.answer or None, "strong": a.strong}
                    for a in r.answers],
        "tco": {"custom_yearly": list(own.custom_yearly), "custom": list(own.custom_cumulative),
                "product": own.product, "product_cumulative": list(own.product_cumulative),
                "break_even_year": own.break_even_year, "path": own.path, "headline": own.headline,
                "sentence": own.sentence},
        "estimate_class": r.estimate_class,
        "accuracy": {"low": r.accuracy[0], "high": r.accuracy[1], "range": {"low": r.band[0], "high": r.band[1]}},
    }


def quotes_summary(analysis: QuoteAnalysis | None) -> dict[str, Any] | None:
    if analysis is None:
        return None
    return {"p10": analysis.p10, "p90": analysis.p90, "point": analysis.point, "draws": analysis.draws,
            "intake_class": analysis.intake_class, "estimate_class": analysis.estimate_class,
            "note": analysis.note}


def budget_dict(plan: Plan) -> dict[str, Any]:
    base = plan.intake.base
    clinic = base.clinic
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "clinic-budget", "version": plan.version},
        "source": plan.intake.source,
        "report_date": plan.generated.isoformat(),
        "clinic": {
            "name": clinic.name, "type": clinic.clinic_type.value, "specialty": clinic.specialty,
            "physicians": clinic.physicians, "records": clinic.records.value,
            "prepared_for": clinic.prepared_for, "prepared_by": clinic.prepared_by,
        },
        "scenarios": [scenario_dict(sp) for sp in plan.scenarios],
        "assumptions": [
            {"key": e.key, "value": e.value, "source": e.cited, "assumption": e.is_assumption,
             "override": e.is_override, "note": e.note}
            for e in base.card
        ],
        "overrides": {sp.name: list(sp.scenario.card.overridden) for sp in plan.scenarios},
        "contradictions": list(plan.contradictions),
        "intake_warnings": list(plan.intake.warnings),
        "quotes": [quote_dict(r) for r in plan.quotes.results] if plan.quotes else [],
        "quote_analysis": quotes_summary(plan.quotes),
    }


def render(plan: Plan, settings: Settings | None = None) -> bytes:
    """budget.json's bytes (the writers' signature; no setting changes them)."""
    # json.dump writes its pieces as it goes; json.dumps would hold every piece and the text as
    # well as the bytes (some 200 MB more for the largest workbook within the limits)
    out = io.BytesIO()
    with io.TextIOWrapper(out, encoding="utf-8", newline="\n", write_through=False) as text:
        json.dump(budget_dict(plan), text, indent=2, ensure_ascii=False)
        text.write("\n")
        text.flush()
        return out.getvalue()

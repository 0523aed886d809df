"""The analytics report over a scope, as JSON, Markdown or a standalone HTML page."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from bot.analytics import metrics, process
from bot.analytics.scope import Scope

FORMATS = ("json", "markdown", "html")
KPI_LABELS = (  # (key, label, kind)
    ("conversations", "Conversations", "count"), ("containment_rate", "Containment", "rate"),
    ("escalation_rate", "Escalation", "rate"), ("abandonment_rate", "Abandonment", "rate"),
    ("fallback_rate", "Fallback (messages)", "rate"), ("avg_turns", "Avg turns", "number"),
    ("avg_duration_s", "Avg duration (s)", "number"),
    ("avg_time_to_escalation_s", "Avg time to escalation (s)", "number"),
    ("improved_share", "Ended better than started", "rate"), ("nps", "NPS estimate", "number"),
    ("csat", "CSAT (4-5 of 5)", "rate"), ("csat_responses", "CSAT responses", "count"),
)


def build(engine: Engine, scope: Scope) -> dict[str, Any]:
    """Every metric and the process analysis for the scope, as JSON-ready data (read-only)."""
    with engine.connect() as conn:
        return {
            "scope": {"since": scope.since and scope.since.isoformat(),
                      "until": scope.until and scope.until.isoformat(), "channel": scope.channel},
            "kpis": metrics.kpis(conn, scope),
            "escalation_reasons": metrics.escalation_reasons(conn, scope),
            "intents": metrics.intents(conn, scope),
            "process": {"graph": process.graph(conn, scope), "bottlenecks": process.bottlenecks(conn, scope),
                        "loops": process.common_loops(conn, scope)},
        }


def render(report: dict[str, Any], fmt: str) -> str:
    """The report in one of FORMATS."""
    if fmt == "json":
        return json.dumps(report, indent=2)
    markdown = _markdown(report)
    if fmt == "markdown":
        return markdown
    if fmt == "html":
        return _html(report)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")


def value(number: Any, kind: str) -> str:
    """A KPI for people: rates as percentages, None as a dash."""
    if number is None:
        return "–"
    if kind == "rate":
        return f"{100 * number:.1f} %"
    if kind == "count":
        return f"{int(number):,}"
    return f"{number:,.1f}"


def _sections(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table in the report, shared by Markdown and HTML."""
    totals = report["kpis"]["totals"]
    proc = report["process"]
    return [
        ("Key figures", ["metric", "value"],
         [[label, value(totals[key], kind)] for key, label, kind in KPI_LABELS]),
        ("Daily", ["day", "conversations", "containment", "escalation", "abandonment", "NPS"],
         [[d["day"], value(d["conversations"], "count"), value(d["containment_rate"], "rate"),
           value(d["escalation_rate"], "rate"), value(d["abandonment_rate"], "rate"),
           value(d["nps"], "number")]
          for d in report["kpis"]["daily"]]),
        ("Escalation reasons", ["reason", "conversations", "rate"],
         [[r["reason"], value(r["conversations"], "count"), value(r["rate"], "rate")]
          for r in report["escalation_reasons"]]),
        ("Intents", ["intent", "messages", "conversations", "containment", "escalation"],
         [[i["intent"], value(i["messages"], "count"), value(i["conversations"], "count"),
           value(i["containment_rate"], "rate"), value(i["escalation_rate"], "rate")]
          for i in report["intents"]]),
        ("Bottlenecks", ["step", "conversations", "lost", "escalated", "abandoned", "fallback", "examples"],
         [[b["step"], value(b["conversations"], "count"), value(b["lost"], "count"),
           value(b["escalated_after"], "count"), value(b["abandoned_after"], "count"),
           value(b["fallback_after"], "count"), " ".join(map(str, b["examples"]))]
          for b in proc["bottlenecks"]]),
        ("Loops", ["loop", "conversations", "max repeats", "example"],
         [[" → ".join(lp["loop"]), value(lp["conversations"], "count"), str(lp["max_repeats"]),
           str(lp["example"])]
          for lp in proc["loops"]]),
        ("Process (most frequent transitions)", ["from", "to", "count"],
         [[e["source"], e["target"], value(e["count"], "count")] for e in proc["graph"]["edges"][:30]]),
    ]


def _title(report: dict[str, Any]) -> str:
    scope = report["scope"]
    return (f"Tandem analytics: {scope['since'] or 'start'} to {scope['until'] or 'now'}"
            f"{', channel ' + scope['channel'] if scope['channel'] else ''}")


def _markdown(report: dict[str, Any]) -> str:
    lines = [f"# {_title(report)}"]
    for title, header, rows in _sections(report):
        lines += ["", f"## {title}", "", _md_row(header), _md_row(["---"] * len(header))]
        lines += [_md_row(row) for row in rows] or ["(none)"]
    return "\n".join(lines) + "\n"


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _html(report: dict[str, Any]) -> str:
    body = []
    for title, header, rows in _sections(report):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        body.append(f"<h2>{html.escape(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody>"
                    "</table>")
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>{html.escape(_title(report))}</title>"
            "<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:70em}"
            "table{border-collapse:collapse;margin-bottom:1em}"
            "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}</style>"
            f"<h1>{html.escape(_title(report))}</h1>{''.join(body)}</html>\n")

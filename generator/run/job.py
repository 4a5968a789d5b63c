"""The whole job for one workbook, bounded in time and memory (issue 17, item 1).

Reading is bounded on its own (`intake.sandbox`: 600 MB, 9 s). Everything after it, planning,
the risk analysis, Jinja, Markdown, the XLSX writer, WeasyPrint, runs in a forked child process
limited to `MEMORY_MB`, and the whole job, read included, ends by `SECONDS` after it started:
Chromium (a browser process of its own, shared by every workbook of a process) prints the PDF
from the child's HTML with what is left of that time. A job that runs over is stopped and
reported as that workbook's error, so one workbook can never stall a batch, the watcher or the
web page.

The child stays (`JOBS`, a `served.Served`): forked on first use, it plans and renders
workbook after workbook, so templates are compiled and modules' first-run work is done once per
process, not once per workbook (a child forked per workbook paid ~8,600 page faults, 143 ms
against 73 ms in process). A job that runs out of memory in it is tried again in a child of its
own; one that runs over or kills it ends it, and the next job starts another.
CLINIC_BUDGET_SANDBOX=0 runs the job in process, unbounded (as the read).
"""

from __future__ import annotations

import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, cast

from generator.intake.served import Served
from generator.model import Intake, Plan

if TYPE_CHECKING:
    from generator.settings import Settings

SECONDS = 85.0  # the whole job, read included; with start-up and writing, under 90 s
MEMORY_MB = 1024
TIMEOUT = ("took more than {seconds:g} seconds to plan and render, the bound for one workbook, and was "
           "stopped; it may be hostile, or larger than this machine can handle in time")
MEMORY = ("needed more than {mb} MB to plan and render, the bound for one workbook, and was stopped; "
          "it may be hostile")
CRASHED = ("stopped while planning and rendering ({how}), most likely at the {mb} MB memory limit; "
           "it may be hostile")


def plan_and_render(path: str | Path, settings: Settings) -> tuple[Plan, dict[str, bytes]]:
    """Read, plan, simulate and render one untrusted workbook, within the job's bounds."""
    from generator.intake import sandbox
    from generator.intake.sandbox import Messages, read_untrusted

    started = time.monotonic()
    deadline = started + SECONDS
    intake = read_untrusted(path)
    if not sandbox.enabled():
        plan, files, _ = _work(intake, settings)
        return plan, files
    chromium_pdf = "pdf" in settings.formats and settings.pdf_engine == "chromium"
    in_child = replace(settings, formats=tuple(f for f in settings.formats if f != "pdf")) if chromium_pdf \
        else settings
    name = os.path.basename(path)
    messages = Messages(SECONDS, MEMORY_MB, TIMEOUT, MEMORY, CRASHED)

    def alone(deadline: float) -> tuple[Plan, dict[str, bytes], bytes]:
        return sandbox.run_bounded(lambda: _work(intake, in_child, chromium_pdf), name, memory_mb=MEMORY_MB,
                                   deadline=deadline, messages=messages)

    answer = JOBS((intake, in_child, chromium_pdf), name, memory_mb=MEMORY_MB, deadline=deadline,
                  messages=messages, alone=alone)
    plan, files, html = cast(tuple[Plan, dict[str, bytes], bytes], answer)
    if chromium_pdf:
        files = {**files, "budget.pdf": _chromium_pdf(plan, html, name, deadline, messages)}
    return plan, files


def _work(intake: Intake, settings: Settings, keep_html: bool = False) -> tuple[Plan, dict[str, bytes], bytes]:
    """(plan, files, html): the HTML only with `keep_html`, for Chromium to print (else b"")."""
    from generator.plan import quotes, risk
    from generator.plan.pricing import plan_intake
    from generator.render import writers

    plan = quotes.apply(risk.apply(plan_intake(intake)))
    files = writers.render_all(plan, settings)
    if not keep_html:
        return plan, files, b""
    html = files.get("budget.html")
    if html is None:
        from generator.render import document

        html = document.client_html(plan, settings).encode("utf-8")
    return plan, files, html


def _chromium_pdf(plan: Plan, html: bytes, name: str, deadline: float, messages: Messages) -> bytes:
    from generator.errors import IntakeError
    from generator.render import chromium

    if time.monotonic() >= deadline:
        raise IntakeError.single(name, messages.timed_out())
    try:
        return chromium.html_to_pdf(html.decode("utf-8"), chromium.require(), plan.generated.strftime("%Y%m%d000000"),
                                    deadline=deadline)
    except chromium.BrowserError:
        if time.monotonic() >= deadline - 0.5:
            raise IntakeError.single(name, messages.timed_out()) from None
        raise


def _served(argument: tuple[Intake, Settings, bool]) -> tuple[Plan, dict[str, bytes], bytes]:
    """One job, in the served child."""
    return _work(*argument)


JOBS = Served(_served)  # this process's job child


if TYPE_CHECKING:
    from generator.intake.sandbox import Messages

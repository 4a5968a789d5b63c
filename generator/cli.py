"""The thin command line: parse arguments, call the library, report errors once.

The only module that talks to the terminal: every line, the batch's progress bar and the
watcher's flushed log are written here; the library yields events and raises errors.

Heavy imports (openpyxl, jinja2, numpy, weasyprint) happen inside the commands so that
`clinic-budget --help` answers at once.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from generator import __version__
from generator.errors import BudgetError
from generator.render.writers import FORMATS

if TYPE_CHECKING:
    from generator.run.batch import BatchEvent, Ignored, Outcome
    from generator.run.watch import WatchEvent
    from generator.serve.web import ServeEvent
    from generator.settings import Settings

EPILOG = {
    "run": "example: clinic-budget run inputs/ridgeview.xlsx --out output --formats html,json",
    "batch": "example: clinic-budget batch inputs --out output --workers 2 --quiet",
    "watch": "example: clinic-budget watch inputs --out output",
    "validate": "example: clinic-budget validate inputs/*.xlsx",
    "new": "example: clinic-budget new ridgeview.xlsx --example family-practice",
    "assumptions": "example: clinic-budget assumptions --format csv > ratecard.csv",
    "serve": "example: clinic-budget serve --out output   (then open http://127.0.0.1:8400/ in a browser)",
}


class Terminated(BaseException):
    """SIGTERM arrived (cron's timeout, `systemctl stop`, `kill`): unwind like Ctrl-C, so that
    workers, reader processes, browsers and their temporary folders are cleaned up."""


@contextlib.contextmanager
def _terminate_like_interrupt(enabled: bool) -> Iterator[None]:
    """While a command runs, turn SIGTERM into `Terminated` (only in the main thread, and only
    where nobody has set a handler of their own)."""
    import signal
    import threading

    if not enabled or threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def on_term(signum: int, frame: object) -> None:
        raise Terminated

    signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _out(text: str = "") -> None:
    """Print to stdout; control characters other than newlines are escaped (`one_line`)."""
    from generator.errors import one_line

    sys.stdout.write("\n".join(map(one_line, text.split("\n"))) + "\n")


def _err(text: str) -> None:
    """Print one line to stderr, whatever names or values it quotes (`one_line`)."""
    from generator.errors import one_line

    sys.stderr.write(one_line(text) + "\n")


def parse_formats(value: str) -> tuple[str, ...]:
    from generator.errors import UsageError

    wanted = tuple(dict.fromkeys(f.strip().lower() for f in value.split(",") if f.strip()))
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown or not wanted:
        raise UsageError(
            f"--formats: unknown format {', '.join(map(repr, unknown)) or 'none given'}; "
            f"choose from {','.join(FORMATS)}"
        )
    return wanted


def _add_generation_options(p: argparse.ArgumentParser, out_default: str = "output") -> None:
    p.add_argument("--out", default=out_default, help=f"output folder (default: {out_default})")
    p.add_argument(
        "--formats",
        default=None,
        help=f"comma list of {','.join(FORMATS)} (default: all this installation can make)",
    )
    p.add_argument("--templates", default=None, help="folder whose templates override the shipped ones")
    p.add_argument("--brand", default=None, help="branding file (TOML with the keys firm, logo, color)")
    p.add_argument("--firm", default=None, help="firm name shown on the documents")
    p.add_argument("--logo", default=None, help="logo image (PNG, JPEG or SVG) for the documents")
    p.add_argument("--color", default=None, help="accent colour, e.g. '#1f5f8b'")
    p.add_argument("--pdf-engine", default="auto", choices=("auto", "chromium", "weasyprint"),
                   help="what prints budget.pdf: Chromium (fast, when installed) or WeasyPrint "
                        "(the pdf extra); default auto, Chromium first")


Command = Callable[[str, str], argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clinic-budget",
        description="Turn a clinic's intake workbook into a custom-EHR budget: build cost, "
        "phases, run costs and a five-year comparison with off-the-shelf subscriptions.",
    )
    parser.add_argument("--version", action="version", version=f"clinic-budget {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    # --debug after the command too (`clinic-budget run x.xlsx --debug`); SUPPRESS keeps the
    # subcommand from resetting a --debug given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show tracebacks for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help_text, description=help_text, epilog=EPILOG[name], parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    _generation_commands(command)
    _other_commands(command)
    return parser


def _generation_commands(command: Command) -> None:
    p = command("run", "one or more intake workbooks to their documents")
    p.add_argument("files", nargs="+", metavar="FILE", help="intake workbook(s) (.xlsx) to turn into documents")
    _add_generation_options(p)

    p = command("batch", "every workbook in a folder, skipping unchanged ones")
    p.add_argument("input_dir", nargs="?", default="inputs", metavar="INPUT_DIR",
                   help="folder of intake workbooks (default: inputs)")
    _add_generation_options(p)
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="regenerate even unchanged workbooks")
    p.add_argument("--quiet", action="store_true", help="print only failures")

    p = command("watch", "the drop folder: generate whenever a workbook appears or changes")
    p.add_argument("input_dir", nargs="?", default="inputs", metavar="INPUT_DIR",
                   help="drop folder to watch for intake workbooks (default: inputs)")
    _add_generation_options(p)
    p.add_argument("--poll", action="store_true", help="poll instead of native events (network folders)")
    p.add_argument("--settle", type=float, default=0.5, help="seconds a file must stay unchanged (default 0.5)")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--quiet", action="store_true", help="print only failures")

    p = command("serve", "a local web page: upload a workbook, see its errors by cell or download its documents")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this computer only; there is no login)")
    p.add_argument("--port", type=int, default=8400, help="port to listen on (default 8400; 0: any free port)")
    _add_generation_options(p)
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: all cores)")
    p.add_argument("--queue", type=int, default=16,
                   help="uploads taken at once, being worked on or waiting (default 16; more get 'busy')")


def _other_commands(command: Command) -> None:
    p = command("validate", "check workbooks and list every problem, writing nothing")
    p.add_argument("files", nargs="+", metavar="FILE", help="intake workbook(s) (.xlsx) to check")

    p = command("new", "write a blank (or example) intake workbook with dropdowns and instructions")
    p.add_argument("file", nargs="?", metavar="FILE", help="the workbook to write (.xlsx)")
    p.add_argument("--example", default=None, metavar="NAME", help="write a filled example (see --list)")
    p.add_argument("--list", action="store_true", help="list the examples")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = command("assumptions", "print the rate card: every key, its default, its range and its source")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler: Callable[[argparse.Namespace], int] = COMMANDS[args.command]
    try:
        with _terminate_like_interrupt(args.command != "watch"):  # the watcher stops on SIGTERM itself
            return handler(args)
    except BudgetError as exc:
        for line in exc.lines():
            _err(f"error: {line}")
        if args.debug:
            traceback.print_exc()
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Terminated:
        _err("terminated")
        return 143
    except BrokenPipeError:  # `clinic-budget assumptions | head`: the reader left; not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


# ------------------------------------------------------------------ commands


def cmd_validate(args: argparse.Namespace) -> int:
    from generator.errors import IntakeError
    from generator.intake.sandbox import read_untrusted

    status = 0
    for name in args.files:
        try:
            intake = read_untrusted(Path(name))
        except IntakeError as exc:
            for line in exc.lines():
                _err(f"error: {line}")
            status = 2
            continue
        for warning in intake.warnings:
            _err(f"warning: {warning}")
        n, q = len(intake.scenarios), len(intake.quotes)
        quotes = f", {q} vendor quote{'s' if q != 1 else ''}" if q else ""
        _out(f"{name}: ok ({n} scenario{'s' if n != 1 else ''}{quotes})")
    return status


def _generation_settings(args: argparse.Namespace) -> Settings:
    from generator.settings import Settings

    return Settings.from_options(
        out=Path(args.out),
        formats=parse_formats(args.formats) if args.formats is not None else None,
        templates=Path(args.templates) if args.templates else None,
        brand_file=Path(args.brand) if args.brand else None,
        firm=args.firm,
        logo=Path(args.logo) if args.logo else None,
        color=args.color,
        pdf_engine=args.pdf_engine,
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Exit 0 when every workbook was generated, 1 when some were and others failed, 2 when none
    was (output-spec.md); every error names its workbook. Each workbook goes the way a batch's
    does (`batch.run_files`): under the output lock, through the manifest."""
    from generator.run.batch import Waiting, run_files

    settings = _generation_settings(args)
    failed = 0
    for event in run_files(args.files, settings):
        if isinstance(event, Waiting):
            _err(f"waiting for another clinic-budget run on {event.out} to finish...")
            continue
        if event.failed:
            failed += 1
            for line in event.errors:
                _err(f"error: {line}")
            continue
        for warning in event.warnings:
            _err(f"warning: {warning}")
        files = event.record.files if event.record is not None else ()
        kept = event.record.kept if event.record is not None else ()
        _out(f"{event.source} -> {event.folder} ({', '.join(files)})"
             + (f"; kept from an earlier run of this workbook: {', '.join(kept)}" if kept else "")
             + (f"; removed, from an older version: {', '.join(event.removed)}" if event.removed else ""))
    if not failed:
        return 0
    return 2 if failed == len(args.files) else 1


def _check_workers(args: argparse.Namespace) -> None:
    from generator.errors import UsageError

    if args.workers is not None and args.workers < 1:
        raise UsageError("--workers must be 1 or more")


def not_read(event: Ignored) -> str:
    """The log line for a file in the input folder that is not a workbook."""
    name = os.path.basename(event.source)
    return f"not read {event.source}: {event.message.removeprefix(name + ': ')}"


def describe(outcome: Outcome) -> str:
    """The log line for one workbook."""
    if outcome.failed:
        first = outcome.errors[0] if outcome.errors else "failed"
        return f"FAIL {outcome.source}: {first}"
    if outcome.status == "unchanged":
        return f"skip {outcome.source} (unchanged)"
    return f"ok   {outcome.source} -> {outcome.folder}"


class Progress:
    """The batch's progress: a bar on a terminal (tqdm, on stderr), plain log lines otherwise."""

    def __init__(self, quiet: bool, bar: bool) -> None:
        self.quiet, self.use_bar = quiet, bar and not quiet
        self.bar = None

    def start(self, total: int) -> None:
        if self.use_bar and total:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="workbook", file=sys.stderr, leave=False)

    def outcome(self, outcome: Outcome) -> None:
        line = describe(outcome)
        if outcome.failed:
            if self.bar is not None:
                self.bar.write(line, file=sys.stderr)
            else:
                _err(line)
        elif not self.quiet and self.bar is None:
            _out(line)
        if self.bar is not None:
            self.bar.update(1)

    def note(self, line: str) -> None:
        """A line on stderr that is not a workbook's outcome (a file that is not read)."""
        if self.bar is not None:
            self.bar.write(line, file=sys.stderr)
        else:
            _err(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_batch(args: argparse.Namespace) -> int:
    """Print the events of `run_batch`; exit 0, 1 (some failed) or 2."""
    from generator.run.batch import Ignored, Outcome, Started, Summary, Waiting, run_batch

    settings = _generation_settings(args)
    _check_workers(args)
    progress = Progress(args.quiet, sys.stderr.isatty())
    summary: Summary | None = None
    events: Iterator[BatchEvent] = run_batch(Path(args.input_dir), settings, args.workers, args.force)
    try:
        for event in events:
            if isinstance(event, Waiting) and not args.quiet:
                _err(f"waiting for another clinic-budget run on {event.out} to finish...")
            elif isinstance(event, Started):
                progress.start(event.total)
            elif isinstance(event, Outcome):
                progress.outcome(event)
            elif isinstance(event, Ignored):
                progress.note(not_read(event))
            elif isinstance(event, Summary):
                summary = event
    finally:
        progress.close()
    assert summary is not None
    if summary.failed:
        (_err if args.quiet else _out)(summary.line)
        _err(f"error reports: {summary.errors_dir}/ (listed in {summary.index})")
    elif not args.quiet:
        _out(summary.line)
    if not args.quiet and summary.index is not None:
        _out(f"portfolio: {summary.index}")
    return summary.exit_code


def cmd_watch(args: argparse.Namespace) -> int:
    """Print the events of `watch`, each line flushed at once (a long-running process whose log
    is read as it grows), until SIGINT or SIGTERM; exit 0."""
    import math
    import signal
    import threading
    from types import FrameType

    from generator.errors import UsageError
    from generator.run.watch import watch

    settings = _generation_settings(args)
    if not math.isfinite(args.settle) or args.settle < 0:  # nan would disable settling, inf never settle
        raise UsageError(f"--settle must be a number of seconds, 0 or more (got {args.settle:g})")
    _check_workers(args)
    input_dir = Path(args.input_dir)
    if not input_dir.is_dir():
        raise UsageError(f"{input_dir}: no such folder")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for event in watch(input_dir, settings, stop, args.settle, args.poll, args.workers):
            _report_watch(event, args.quiet)
            sys.stdout.flush()
            sys.stderr.flush()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return 0


def _report_watch(event: WatchEvent, quiet: bool) -> None:
    from generator.run.batch import Ignored, Outcome, Waiting
    from generator.run.watch import FolderGone, Stopped, Watching

    if isinstance(event, Ignored):
        _err(not_read(event))
    elif isinstance(event, Outcome):
        if event.failed:
            _err(describe(event) + (f" (report: {event.report})" if event.report else ""))
        elif not quiet:
            _out(describe(event))
    elif isinstance(event, Stopped):
        _out("stopped")
    elif isinstance(event, FolderGone):
        _err(f"{event.input_dir}: the folder is gone; watching again when it is back")
    elif quiet:
        return
    elif isinstance(event, Watching):
        how = "polling" if event.polling else "watching"
        _out(f"{how} {event.input_dir} -> {event.out} (Ctrl-C to stop)")
    elif isinstance(event, Waiting):
        _err(f"waiting for another clinic-budget run on {event.out} to finish...")


def cmd_serve(args: argparse.Namespace) -> int:
    """The web page until SIGINT or SIGTERM, each line flushed at once; exit 0."""
    from generator.serve.web import serve

    settings = _generation_settings(args)
    _check_workers(args)
    serve(settings, args.host, args.port, _report_serve, args.workers, args.queue)
    return 0


NO_LOGIN = ("warning: listening on {host}, not only on this computer: there is no login, so anyone who "
            "can reach {url} can upload workbooks and read every budget in {out}")


def _report_serve(event: ServeEvent) -> None:
    from generator.run.batch import Outcome
    from generator.serve.web import Serving, Stopped

    if isinstance(event, Serving):
        if not event.loopback:
            _err(NO_LOGIN.format(host=event.host, url=event.url, out=event.out))
        _out(f"serving {event.url} -> {event.out} (Ctrl-C to stop)")
    elif isinstance(event, Outcome):
        (_err if event.failed else _out)(describe(event))
    elif isinstance(event, Stopped):
        _out("stopped")
    sys.stdout.flush()
    sys.stderr.flush()


def cmd_new(args: argparse.Namespace) -> int:
    from generator.errors import UsageError
    from generator.intake.blank import EXAMPLES, write_blank, write_example

    if args.list:
        for name, example in EXAMPLES.items():
            _out(f"{name:18} {example.description}")
        return 0
    if args.file is None:
        raise UsageError("new: give the FILE to write, e.g. clinic-budget new ridgeview.xlsx")
    path = Path(args.file)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise UsageError(f"{path}: the intake workbook must end in .xlsx")
    if path.exists() and not args.force:
        raise UsageError(f"{path}: already exists; pass --force to overwrite it")
    if args.example:
        write_example(path, args.example)
        _out(f"wrote example '{args.example}' to {path}")
    else:
        write_blank(path)
        _out(f"wrote a blank intake workbook to {path}")
    return 0


def cmd_assumptions(args: argparse.Namespace) -> int:
    import csv
    import json

    from generator.ratecard import default_card

    card = default_card()
    if args.format == "json":
        rows = [
            {"key": e.key, "value": e.value, "unit": e.unit, "source": e.source, "assumption": e.is_assumption,
             "note": e.note, "min": e.minimum, "max": e.maximum}
            for e in card
        ]
        _out(json.dumps(rows, indent=2))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["key", "value", "unit", "source", "note", "min", "max"])
        for e in card:
            writer.writerow([e.key, f"{e.value:g}", e.unit, e.source, e.note, f"{e.minimum:g}", f"{e.maximum:g}"])
    else:
        width = max(len(e.key) for e in card)
        shown = [e.formatted() for e in card]
        value_width = max(map(len, shown))
        ranges = [f"({e.range_text})" for e in card]
        range_width = max(map(len, ranges))
        for e, value, allowed in zip(card, shown, ranges, strict=True):
            _out(f"{e.key:<{width}}  {value:>{value_width}}  {allowed:<{range_width}}  {e.source}")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "batch": cmd_batch,
    "watch": cmd_watch,
    "serve": cmd_serve,
    "validate": cmd_validate,
    "new": cmd_new,
    "assumptions": cmd_assumptions,
}

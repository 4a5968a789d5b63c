"""Rendering: the plan to Markdown through layered Jinja templates, and that Markdown to HTML.

Template search path: `--templates DIR` (file by file) -> the shipped templates
(`generator.templates`). A `default:` prefix always names the shipped template, so an override
can extend one block: `{% extends "default:budget.md.j2" %}{% block summary %}...{% endblock %}`.

Every user string reaching Markdown is escaped (HTML and Markdown-significant characters) by the
Markdown environment's `finalize`; the HTML environment autoescapes.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from functools import cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from generator.errors import BudgetError, TemplateError
from generator.model import Integration, LineItem, Plan, ScenarioPlan
from generator.money import share_text, usd
from generator.questions import vendor_questions
from generator.ratecard import Entry

if TYPE_CHECKING:
    from generator.settings import Settings

MAIN_MD = "budget.md.j2"
CLIENT_MD = "client.md.j2"
EDITIONS = {"report": MAIN_MD, "client": CLIENT_MD}
MAIN_HTML = "budget.html.j2"
STYLESHEET = "style.css"
MD_EXTENSIONS = ("tables", "attr_list", "toc")
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
CHART_MARK = re.compile(r"<!-- chart:(\w+):(\d+) -->")

# ------------------------------------------------------------------ template loading


def shipped_templates() -> Traversable:
    """The shipped templates: the installed package `generator.templates`, or the repository's
    `templates/` folder in a source checkout."""
    try:
        root = resources.files("generator.templates")
        if root.joinpath(MAIN_MD).is_file():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "templates"


class ResourceLoader(jinja2.BaseLoader):
    """Templates from a Traversable (a folder, or package data inside a wheel or zip)."""

    def __init__(self, root: Traversable) -> None:
        self.root = root

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        node = self.root
        for part in template.split("/"):
            if part in ("", ".", ".."):
                raise jinja2.TemplateNotFound(template)
            node = node.joinpath(part)
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        return node.read_text(encoding="utf-8"), None, lambda: True


class NamedLoader(jinja2.BaseLoader):
    """Another loader whose templates report their name (`sections/questions.md.j2`) as their
    file name, so that an error inside an included template can name it."""

    def __init__(self, inner: jinja2.BaseLoader, prefix: str = "") -> None:
        self.inner = inner
        self.prefix = prefix

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, _, uptodate = self.inner.get_source(environment, template)
        return source, self.prefix + template, uptodate


class ConfinedLoader(jinja2.FileSystemLoader):
    """A `--templates` folder's templates, never a file outside it: a symlink in the folder to
    /etc/passwd (or any path out of it) is not a template."""

    def __init__(self, folder: Path) -> None:
        super().__init__(str(folder))
        self.root = Path(folder).resolve()

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        if not Path(filename).resolve().is_relative_to(self.root):
            raise TemplateError(f"{template}: the override leads outside the --templates folder "
                                f"({self.root}); only files inside it are templates", template)
        return source, filename, uptodate


def loader(templates: Path | None) -> jinja2.BaseLoader:
    shipped = ResourceLoader(shipped_templates())
    chain: list[jinja2.BaseLoader] = [
        jinja2.PrefixLoader({"default": NamedLoader(shipped, "default:")}, delimiter=":")]
    if templates is not None:
        chain.append(NamedLoader(ConfinedLoader(templates)))
    chain.append(NamedLoader(shipped))
    return jinja2.ChoiceLoader(chain)


# ------------------------------------------------------------------ escaping

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]|#])")
_ENTITY_START = re.compile(r"&(?=#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z0-9]+;)")
_MD_LEADING = re.compile(r"^(\s*)([-+]|\d+(?=\.(?:\s|$)))")


def md_escape(value: object) -> Markup:
    """User text made inert in Markdown: one line, `<` and `>` as entities, every character
    Markdown (or its tables and attr_list extensions) would act on backslash-escaped. An `&` is
    escaped only where it would start an entity (`&amp;`, `&#38;`); a lone one (`A & B Clinic`)
    stays readable in the Markdown and Markdown itself escapes it in the HTML."""
    text = re.sub(r"\s*[\r\n\t\f\v]+\s*", " ", str(value))
    text = _ENTITY_START.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_SPECIAL.sub(r"\\\1", text)
    text = _MD_LEADING.sub(lambda m: m.group(1) + (m.group(2) + "\\" if m.group(2)[0].isdigit()
                                                   else "\\" + m.group(2)), text)
    return Markup(text)


def _md_finalize(value: object) -> Markup:
    """Every `{{ ... }}` in a Markdown template: our own formatted figures (Markup) pass
    through, anything else is escaped."""
    if isinstance(value, Markup):
        return value
    return md_escape(value)


# ------------------------------------------------------------------ filters


def f_usd(value: float) -> Markup:
    return Markup(usd(value))


def f_rate(value: float) -> Markup:
    """An hourly rate: `$40/h`, or `$43.75/h` when it has cents."""
    cents = round(value * 100)
    text = f"${cents // 100:,}" if cents % 100 == 0 else f"${cents / 100:,.2f}"
    return Markup(f"{text}/h")


def f_pct(value: float, digits: int = 0) -> Markup:
    return Markup(f"{value * 100:.{digits}f}%")


def f_share(value: float) -> Markup:
    """A share of simulated outcomes: `37%`, `under 1%`, `over 99%` (never a bare 0% or 100%)."""
    return Markup(share_text(value))


def f_num(value: float) -> Markup:
    return Markup(f"{round(value):,}")


def f_range(low: float, high: float) -> Markup:
    return Markup(f"{usd(low)}–{usd(high)}")


def assumption_value(entry: Entry) -> Markup:
    """A rate-card value as the assumptions table shows it, in the entry's unit."""
    return Markup(entry.formatted())


# ------------------------------------------------------------------ context helpers


def input_value(value: object, unit: str = "") -> Markup | object:
    """A sensitivity input at its low or high value, in its unit."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return value
    if unit == "share":
        return f_pct(value)
    if unit == "$ per hour":
        return f_rate(value)
    if unit == "$ per month":
        return Markup(f"{usd(value)}/month")
    if unit.startswith("$"):
        return f_usd(value)
    return Markup(f"{value:g}")


def integration_rows(sp: ScenarioPlan) -> list[tuple[Integration, LineItem]]:
    """Each workbook integration with its priced line (the planner keeps their order)."""
    lines = [li for li in sp.components if li.kind == "integration"]
    return list(zip(sp.scenario.integrations, lines, strict=True))


NAME_LENGTH = 80  # a name in a table cell is cut at this length (the section's heading or first table has it whole)
HEAD_LENGTH = 60  # the clinic's name in the printed page's running head (half the page's width)
SENSITIVITY_ROWS = 25  # the report's sensitivity tables: the inputs that move the cost most
APPENDIX_ROWS = 25  # the client edition's appendix: each other scenario's largest components
TABLE_PRODUCTS = 8  # the client edition's cumulative-cost table: the cheapest products' columns


def f_short(value: object, whole: bool = False) -> object:
    """A user's name as a table cell shows it: cut at NAME_LENGTH characters with an ellipsis
    (a 500-character name repeated in every table of fifty scenarios made a 60 MB report),
    unless `whole`. The cut is made before escaping, so no escape is ever split."""
    return value if whole else cut(str(value), NAME_LENGTH) if len(str(value)) > NAME_LENGTH else value


def cut(text: str, length: int) -> str:
    """`text` in at most `length` characters: cut, with an ellipsis, when longer."""
    return text if len(text) <= length else text[:length - 1].rstrip() + "…"


def largest_lines(items: tuple[LineItem, ...], most: int) -> tuple[list[LineItem], dict[str, float] | None]:
    """The `most` lines of largest expected cost, in their own order, and the others summed
    ({"count", "low", "expected", "high"}), or None when every line is shown."""
    if len(items) <= most:
        return list(items), None
    kept = set(sorted(range(len(items)), key=lambda i: (-items[i].cost.expected, i))[:most])
    rest = [li for i, li in enumerate(items) if i not in kept]
    return [li for i, li in enumerate(items) if i in kept], {
        "count": len(rest), "low": sum(li.cost.low for li in rest),
        "expected": sum(li.cost.expected for li in rest), "high": sum(li.cost.high for li in rest)}


def cheapest_products(products: tuple[Any, ...], most: int) -> list[Any]:
    """The `most` off-the-shelf products cheapest over the horizon, in their own order (the
    client edition's cumulative-cost table: two hundred columns are no table)."""
    from generator.render.charts import largest

    return largest(products, lambda p: -p.cumulative[-1], most)


def has_risk(sp: ScenarioPlan) -> bool:
    """Whether the risk stage ran (for templates of one's own; the shipped ones test `sp.risk`)."""
    return sp.risk is not None


def logo_uri(logo: Path | None) -> str:
    """The logo as a data: URI (never a remote or file URL)."""
    if logo is None:
        return ""
    kind = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}
    mime = kind.get(logo.suffix.lower())
    if mime is None:
        raise TemplateError(f"{logo}: the logo must be a PNG, JPEG or SVG file")
    try:
        data = logo.read_bytes()
    except OSError as exc:
        raise TemplateError(f"{logo}: cannot read the logo: {exc.strerror or exc}") from None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def accent(settings: Settings) -> str:
    color = settings.branding.color
    return color.lower() if HEX_COLOR.match(color) else "#1f5f8b"


def context(plan: Plan, settings: Settings, edition: str = "report") -> dict[str, Any]:
    from generator.render.assumptions import assumption_groups
    from generator.render.budget_json import budget_dict

    clinic = plan.intake.base.clinic
    multi = len(plan.scenarios) > 1
    return {
        "plan": plan,
        "clinic": clinic,
        "budget": budget_dict(plan),
        "report_date": plan.generated.strftime("%B %-d, %Y"),
        "multi": multi,
        "edition": edition,
        "h": Markup("###" if multi and edition == "report" else "##"),
        "questions": vendor_questions(),
        "card": plan.intake.base.card,
        "firm": settings.branding.firm,
        "integration_rows": integration_rows,
        "staff_users": lambda sp: sp.staff_users,
        "has_risk": has_risk,
        "phase_total": lambda sp, n: next((r for p, r in sp.phases if p == n), None),
        "assumption_value": assumption_value,
        "input_value": input_value,
        "assumption_groups": lambda: assumption_groups(plan),
        "largest_lines": largest_lines,
        "cheapest_products": cheapest_products,
        "limits": {"sensitivity": SENSITIVITY_ROWS, "appendix": APPENDIX_ROWS, "products": TABLE_PRODUCTS},
    }


# ------------------------------------------------------------------ environments


def environment(settings: Settings, kind: str) -> jinja2.Environment:
    """The Jinja environment for `kind` ("md" or "html"), kept for the process so that each
    template is compiled once (the loaders' up-to-date checks still pick up edited overrides)."""
    return _environment(settings.templates, kind)


def environment_class(templates: Path | None) -> type[jinja2.Environment]:
    """Jinja's sandboxed environment for a `--templates` override (an override ran `os.popen`
    through Python attributes), the plain one for the shipped templates alone (ours; no cost)."""
    if templates is None:
        return jinja2.Environment
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment


def check_overrides(templates: Path) -> None:
    """Compile every template of a `--templates` folder once, up front, so that a broken
    override (a syntax error, a symlink out of the folder) is a usage error before any workbook
    is read, not a failure of every workbook or of the portfolio after the documents."""
    from generator.errors import UsageError

    env = _environment(templates, "html")
    for path in sorted(templates.rglob("*")):
        if not path.is_file() and not path.is_symlink():
            continue
        name = path.relative_to(templates).as_posix()
        try:
            if path.is_symlink() and not path.resolve().is_relative_to(templates.resolve()):
                raise TemplateError(f"{name}: a link to {path.resolve()}, outside the --templates folder", name)
            if path.suffix == ".j2":
                env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise UsageError(f"--templates {templates}: {name}:{exc.lineno}: {exc.message}") from None
        except TemplateError as exc:
            raise UsageError(f"--templates {templates}: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--templates {templates}: {name}: cannot read it: {exc}") from None


@cache
def _environment(templates: Path | None, kind: str) -> jinja2.Environment:
    env = environment_class(templates)(
        loader=loader(templates),
        undefined=jinja2.StrictUndefined,
        autoescape=True,
        finalize=_md_finalize if kind == "md" else None,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(usd=f_usd, rate=f_rate, pct=f_pct, share=f_share, num=f_num, range=f_range, md=md_escape,
                       css_string=css_string, short=f_short)
    return env


def css_string(value: object) -> Markup:
    """`value` as a quoted CSS string, safe inside a <style> element: quotes, backslashes and
    control characters are escaped, and so are < and > (a name cannot close the element)."""
    def escape(ch: str) -> str:
        if ch in '"\\<>' or ord(ch) < 0x20 or ord(ch) == 0x7F:
            return f"\\{ord(ch):x} "
        return ch

    return Markup('"' + "".join(map(escape, str(value))) + '"')


def template_frame(exc: BaseException) -> tuple[str, int] | None:
    """(template name, line) of the innermost template frame in the exception's traceback
    (Jinja rewrites template frames to carry the template's file name and source line)."""
    found = None
    tb = exc.__traceback__
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def _runtime_error(name: str, exc: Exception) -> TemplateError:
    """An error raised while a template ran, located in the template where it happened."""
    where = template_frame(exc)
    template, location = (where[0], f"{where[0]}:{where[1]}") if where else (name, name)
    if isinstance(exc, jinja2.TemplateError):
        message = exc.message or type(exc).__name__
    else:
        message = f"{type(exc).__name__}: {exc}"
    return TemplateError(f"{location}: {message}", template)


def _render(env: jinja2.Environment, name: str, values: dict[str, Any]) -> str:
    try:
        return env.get_template(name).render(values)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(f"template not found: {exc.name}", str(exc.name)) from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or exc.name
        raise TemplateError(f"{where}:{exc.lineno}: {exc.message}", where) from None
    except BudgetError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure inside a template is that template's error
        raise _runtime_error(name, exc) from exc


def render_markdown(plan: Plan, settings: Settings, edition: str = "report") -> str:
    """The budget document as Markdown: the full report (`budget.md.j2`, for budget.md) or the
    client edition (`client.md.j2`, for budget.html, budget.pdf and budget.docx: the base
    scenario in full, the others side by side and in a short appendix)."""
    text = _render(environment(settings, "md"), EDITIONS[edition], context(plan, settings, edition))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def client_html(plan: Plan, settings: Settings) -> str:
    """budget.html (and what budget.pdf prints): the client edition, styled."""
    return render_html(render_markdown(plan, settings, "client"), plan, settings)


def render_html(markdown_text: str, plan: Plan, settings: Settings, for_print: bool = False) -> str:
    """The Markdown as a styled, printable page with inline SVG charts."""
    import markdown

    from generator.render import charts

    md = markdown.Markdown(extensions=list(MD_EXTENSIONS), output_format="html",
                           extension_configs={"toc": {"title": "Contents", "toc_depth": "2-2"}})
    body = md.convert(markdown_text)
    accent_color = accent(settings)

    def chart(match: re.Match[str]) -> str:
        kind, index = match.group(1), int(match.group(2))
        return charts.plan_chart(kind, plan, index, accent_color)

    body = CHART_MARK.sub(chart, body)
    env = environment(settings, "html")
    css = _render(env, STYLESHEET, {"accent": accent_color, "firm": settings.branding.firm,
                                    "running_head": settings.branding.firm or "Custom EHR budget",
                                    "running_clinic": f"{cut(plan.intake.base.clinic.name, HEAD_LENGTH)} · "
                                                      f"{plan.generated:%B %-d, %Y}",
                                    "running_foot": f"clinic-budget {plan.version} · {plan.intake.source}"})
    values = {**context(plan, settings), "body": Markup(body), "css": Markup(css),
              "accent": accent_color, "logo": logo_uri(settings.branding.logo), "for_print": for_print}
    return _render(env, MAIN_HTML, values)

"""Read a unit's visit plan (巡访计划, Article 5, spec §4) from a .xlsx, .csv or .yaml file.

A plan names its unit (营业单位, by id or name; a unit head's own unit when mailed), its
period (``periods``), the key products (重点推销商品), key and special survey items (重点调查项目,
特别调查项目), and its visits: date, customer, visitor (by email or by name among the people
in config), purpose (optional). In a spreadsheet the header fields stand in the rows above
the visits table, as ``label: value`` in one cell or as the label in one cell and the value
in the next (``label | value``); a title row there is passed over. Labels are Chinese or
English.

Invariants:
- the reader is pure: bytes, a file name and the config in, a Plan with every problem out;
  it never raises on bad input;
- every problem with a visit names the row a person sees (the spreadsheet's row number, the
  YAML file's line), and a plan with any problem is refused whole;
- a visit's days lie in the plan's period: a week that runs over the period's edge is kept
  for the days inside it, a date wholly outside is a problem;
- only a unit head (for a unit they head) or leadership (for the unit the file names) may
  submit a plan by mail (``submitter``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import yaml

from ..config import Config
from ..config.model import Organisation
from ..inbound.mime import Attachment, DecodedMessage
from .people import PeopleIndex
from .periods import Period, Span, WeekdayMismatch, parse_period, parse_plan_date
from .plan_problems import PlanProblem
from .tables import Row, TableError, TooManyRows, decode_text, match_header, read_table

__all__ = ["Plan", "PlanVisit", "find_plan_files", "read_plan_file", "read_plan_mail", "submitter_units"]

HEADER_LABELS = {
    "unit": ("营业单位", "事业部", "单位", "Unit", "Business unit"),
    "period": ("期间", "计划期间", "巡访期间", "计划月份", "月份", "Period", "Plan period"),
    "key_products": ("重点推销商品", "重点推销产品", "重点推广商品", "重点推广产品", "重点商品", "重点产品",
                     "Key products", "Key product"),
    "key_surveys": ("重点调查项目", "重点调查", "Key surveys", "Key survey items", "Key survey"),
    "special_surveys": ("特别调查项目", "特别调查", "专项调查", "Special surveys", "Special survey items",
                        "Special survey"),
}
VISIT_COLUMNS = {
    "date": ("日期", "巡访日期", "计划日期", "拜访日期", "Date", "Visit date", "Planned date"),
    "customer": ("客户名称", "客户", "客户名", "Customer", "Customer name"),
    "visitor": ("巡访人", "巡访人员", "拜访人", "营销员", "业务员", "Visitor", "Rep", "Visited by"),
    "purpose": ("目的", "巡访目的", "拜访目的", "Purpose", "Goal"),
}
# The data names themselves are labels too (key_products: in a YAML plan).
HEADER_LABELS = {name: (*labels, name) for name, labels in HEADER_LABELS.items()}
VISIT_COLUMNS = {name: (*labels, name) for name, labels in VISIT_COLUMNS.items()}
VISITS_KEYS = ("visits", "巡访", "巡访安排", "巡访计划", "安排", "计划", "schedule", "plan")
REQUIRED_COLUMNS = ("date", "customer", "visitor")
LIST_FIELDS = ("key_products", "key_surveys", "special_surveys")
MAX_VISITS = 5000  # more rows than any unit plans in a year: not a plan
MAX_HEADER_ROWS = 100  # title and header rows above the visits table, at most
MAX_CELL = 500  # characters of one value: a customer's name or a purpose is far shorter


def _check_lengths(plan: "Plan", header: "Header", visits: list) -> None:
    """Add a problem for each value longer than MAX_CELL (its row named): a 32,000-character
    "name" would make every calendar mail megabytes long."""
    for name, (row, text) in header.items():
        texts = text if isinstance(text, (list, tuple)) else [text]
        if any(isinstance(t, str) and len(t) > MAX_CELL for t in texts):
            plan.problems.append(PlanProblem("too_long", row=row, field=name, value=str(MAX_CELL)))
    for row, values in visits:
        for name, text in values.items():
            if isinstance(text, str) and len(text) > MAX_CELL:
                plan.problems.append(PlanProblem("too_long", row=row, field=name, value=str(MAX_CELL)))

YAML_SUFFIXES = (".yaml", ".yml")
TABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv", ".txt", ".tsv", ".xls")
_TABLE_TYPES = ("spreadsheetml", "ms-excel", "text/csv", "text/comma-separated-values", "text/tab-separated-values")
_YAML_TYPES = ("yaml",)

_CELL_FIELD = re.compile(r"^\s*([^:：|｜]{1,40}?)\s*[:：|｜]\s*(.*)$", re.S)
_LIST_SPLIT = re.compile(r"[;；、,，\n]+")


@dataclass
class PlanVisit:
    row: int                 # spreadsheet row or YAML line
    date: str                # as written
    span: Span | None        # the days, clipped to the period; None when unreadable
    customer: str
    visitor: str | None      # email; None when not found
    visitor_text: str        # as written
    purpose: str = ""

    def as_json(self) -> dict:
        return {"row": self.row, "date": self.span.key if self.span else self.date,
                "start": self.span.start.isoformat() if self.span else None,
                "end": self.span.end.isoformat() if self.span else None,
                "customer": self.customer, "visitor": self.visitor, "purpose": self.purpose or None}


@dataclass
class Plan:
    source: str = ""                          # the file name
    unit: str | None = None                   # unit id, once known
    unit_text: str = ""                       # as the file names it
    period: Period | None = None
    key_products: list[str] = field(default_factory=list)
    key_surveys: list[str] = field(default_factory=list)
    special_surveys: list[str] = field(default_factory=list)
    visits: list[PlanVisit] = field(default_factory=list)
    problems: list[PlanProblem] = field(default_factory=list)

    def as_json(self) -> dict:
        """Return the plan under spec §4's data names, as ``parse --json`` prints it."""
        return {"unit": self.unit, "period": self.period.key if self.period else None,
                "key_products": self.key_products, "key_surveys": self.key_surveys,
                "special_surveys": self.special_surveys, "visits": [v.as_json() for v in self.visits]}


# --------------------------------------------------------------------------- who may submit

def submitter_units(org: Organisation, sender: str) -> tuple[list[str], bool]:
    """Return (the units ``sender`` heads, whether ``sender`` is leadership)."""
    sender = sender.lower()
    return ([u.id for u in org.units.values() if u.head.email == sender],
            any(p.email == sender for p in org.leadership))


def _authorise(plan: Plan, org: Organisation, sender: str) -> None:
    """Settle plan.unit for a plan ``sender`` mailed, or add the problem that forbids it."""
    headed, leader = submitter_units(org, sender)
    if plan.unit is None and not plan.unit_text:
        if len(headed) == 1:
            plan.unit = headed[0]
        else:  # leadership, or the head of several units: which one?
            plan.problems.append(PlanProblem("unit_needed", details=_unit_choices(org)))
    elif plan.unit is not None and plan.unit not in headed and not leader:
        plan.problems.append(PlanProblem("not_your_unit", value=org.units[plan.unit].name))


def _unit_choices(org: Organisation) -> tuple[tuple[str, str], ...]:
    return (("units", "、".join(f"{u.id}（{u.name}）" for u in org.units.values())),)


def _find_unit(org: Organisation, text: str) -> str | None:
    key = _key(text)
    return next((u.id for u in org.units.values() if key in (_key(u.id), _key(u.name))), None)


# --------------------------------------------------------------------------- the mail

def find_plan_files(attachments: Sequence[Attachment]) -> list[Attachment]:
    """Return the attachments that are plan files (.xlsx, .csv, .yaml …), by name, type or content."""
    found = []
    for a in attachments:
        name, kind = a.filename.strip().lower(), a.content_type.lower()
        if a.body_image:
            continue
        if (name.endswith(YAML_SUFFIXES + TABLE_SUFFIXES) or any(t in kind for t in _TABLE_TYPES + _YAML_TYPES)
                or (a.payload[:4] == b"PK\x03\x04" and b"xl/workbook.xml" in a.payload[:65536])):
            found.append(a)
    return found


def read_plan_mail(msg: DecodedMessage, cfg: Config) -> Plan:
    """Read the plan attached to ``msg`` as the workflow would, with the sender's authority checked.

    Mail from anyone but a unit head or leadership gets the one problem ``not_allowed`` and
    its file is not read. Never raises.
    """
    headed, leader = submitter_units(cfg.organisation, msg.from_addr)
    if not (headed or leader):
        return Plan(problems=[PlanProblem("not_allowed", value=msg.from_addr)])
    files = find_plan_files(msg.attachments)
    if not files:
        return Plan(problems=[PlanProblem("no_plan_file")])
    if len(files) > 1:
        return Plan(problems=[PlanProblem("several_plan_files", value="、".join(f.filename or "?" for f in files))])
    plan_file = files[0]
    if plan_file.damage:
        return Plan(source=plan_file.filename, problems=[PlanProblem("unreadable", value=plan_file.damage)])
    return read_plan_file(plan_file.payload, plan_file.filename or "plan", cfg, sender=msg.from_addr)


# --------------------------------------------------------------------------- the file

def read_plan_file(data: bytes, filename: str, cfg: Config, *, unit: str | None = None,
                   sender: str | None = None) -> Plan:
    """Read and check a plan file; return the Plan with every problem found.

    ``unit`` is the unit the caller names (``plans import --unit``): a file naming another is
    a problem. With ``sender`` the plan was mailed and ``_authorise`` settles the unit.
    Never raises.
    """
    plan = Plan(source=filename)
    org = cfg.organisation
    try:
        if filename.strip().lower().endswith(YAML_SUFFIXES):
            read = _from_yaml(decode_text(data), plan)
        else:
            read = _from_table(read_table(data, filename, max_rows=MAX_VISITS + MAX_HEADER_ROWS), plan)
    except TooManyRows:
        plan.problems.append(PlanProblem("too_many_visits", value=f"{MAX_VISITS:,}+"))
        return plan
    except TableError as exc:
        plan.problems.append(PlanProblem("unreadable", value=str(exc)))
        return plan
    if read is None:  # not a plan at all: its one problem says why, nothing more to check
        return plan
    header, visits = read
    _read_header(plan, header, org)
    if sender is not None:
        _authorise(plan, org, sender)
    elif unit is not None:
        if plan.unit is not None and plan.unit != unit:
            plan.problems.append(PlanProblem("unit_mismatch", value=plan.unit_text, details=(("given", unit),)))
        plan.unit = unit if unit in org.units else plan.unit
    elif plan.unit is None and not plan.unit_text:
        plan.problems.append(PlanProblem("unit_needed", details=_unit_choices(org)))
    if len(visits) > MAX_VISITS:
        plan.problems.append(PlanProblem("too_many_visits", value=str(len(visits))))
        return plan
    _check_lengths(plan, header, visits)
    if any(p.code == "too_long" for p in plan.problems):
        return plan
    people = _People(org)
    for row, values in visits:
        plan.visits.append(_read_visit(plan, row, values, people))
    if not visits and not plan.problems:
        plan.problems.append(PlanProblem("no_visits"))
    plan.problems.sort(key=lambda p: p.row or 0)  # the plan's own problems first, then row by row
    return plan


def _read_header(plan: Plan, header: dict[str, tuple[int, str | list[str]]], org: Organisation) -> None:
    if "unit" in header:
        plan.unit_text = _text(header["unit"][1])
        plan.unit = _find_unit(org, plan.unit_text)
        if plan.unit is None:
            plan.problems.append(PlanProblem("unknown_unit", value=plan.unit_text, details=_unit_choices(org)))
    if "period" not in header or not _text(header["period"][1]):
        plan.problems.append(PlanProblem("missing_period", field="period"))
    else:
        plan.period = parse_period(_text(header["period"][1]))
        if plan.period is None:
            plan.problems.append(PlanProblem("bad_period", field="period", value=_text(header["period"][1])))
    for name in LIST_FIELDS:
        if name in header:
            setattr(plan, name, _items(header[name][1]))


def _read_visit(plan: Plan, row: int, values: dict[str, str], people: _People) -> PlanVisit:
    visit = PlanVisit(row=row, date=values.get("date", ""), span=None, customer=values.get("customer", ""),
                      visitor=None, visitor_text=values.get("visitor", ""), purpose=values.get("purpose", ""))
    for name in REQUIRED_COLUMNS:
        if not values.get(name):
            plan.problems.append(PlanProblem("missing", row=row, field=name))
    if visit.date and plan.period is not None:
        span = parse_plan_date(visit.date, plan.period)
        if isinstance(span, WeekdayMismatch):
            plan.problems.append(PlanProblem("date_weekday_mismatch", row=row, field="date", value=visit.date,
                                             details=span.details()))
        elif isinstance(span, str):
            plan.problems.append(PlanProblem(f"date_{span}", row=row, field="date", value=visit.date))
        elif not span.overlaps(plan.period):
            plan.problems.append(PlanProblem("outside_period", row=row, field="date", value=visit.date, details=(
                ("period", plan.period.key), ("start", plan.period.start.isoformat()),
                ("end", plan.period.end.isoformat()))))
        else:
            visit.span = span.clipped(plan.period)
    if visit.visitor_text:
        visit.visitor, problem = people.find(visit.visitor_text)
        if problem:
            plan.problems.append(PlanProblem(problem, row=row, field="visitor", value=visit.visitor_text))
        elif plan.unit and not people.may_visit_for(visit.visitor, plan.unit):
            plan.problems.append(PlanProblem("visitor_other_unit", row=row, field="visitor", value=visit.visitor_text,
                                             details=(("unit", plan.unit),)))
    return visit


# --------------------------------------------------------------------------- spreadsheets

Header = dict[str, tuple[int, "str | list[str]"]]


def _from_table(rows: list[Row], plan: Plan) -> tuple[Header, list[tuple[int, dict[str, str]]]]:
    """Return the header fields above the visits table and the table's rows by data name."""
    header: Header = {}
    for index, row in enumerate(rows):
        columns = match_header(row.cells, VISIT_COLUMNS)
        if columns is not None:
            missing = [name for name in REQUIRED_COLUMNS if name not in columns]
            for name in missing:
                plan.problems.append(PlanProblem("missing_column", row=row.number, field=name))
            if missing:
                return header, []
            visits = []
            for later in rows[index + 1:]:
                values = {name: later.cell(i) for name, i in columns.items()}
                # A row naming neither customer nor visitor (a note, 合计) is no visit.
                if values["customer"] or values["visitor"]:
                    visits.append((later.number, values))
            return header, visits
        _header_row(row, header, plan)
    plan.problems.append(PlanProblem("no_table"))
    return header, []


def _header_row(row: Row, header: Header, plan: Plan) -> None:
    """Take a `label: value` or `label | value` row above the table into header (titles pass)."""
    cells = [c for c in row.cells if c]
    if not cells:
        return
    name = _HEADER_NAMES.get(_key(cells[0]))
    if name is not None:  # the label alone in its cell: the value is in the cells after it
        rest = cells[1:]
        value: str | list[str] = rest if name in LIST_FIELDS else (rest[0] if rest else "")
    else:
        match = _CELL_FIELD.match(cells[0])
        name = _HEADER_NAMES.get(_key(match[1])) if match else None
        if name is None:
            return
        parts = [match[2].strip(), *cells[1:]]
        value = [p for p in parts if p] if name in LIST_FIELDS else (match[2].strip() or (cells[1] if len(cells) > 1 else ""))
    _put(header, name, row.number, value, plan)


def _put(header: Header, name: str, line: int, value: str | list[str], plan: Plan) -> None:
    if name in header and header[name][1] != value:
        plan.problems.append(PlanProblem("field_twice", row=line, field=name, value=_text(value)))
        return
    header[name] = (line, value)


# --------------------------------------------------------------------------- YAML

def _from_yaml(text: str, plan: Plan) -> tuple[Header, list[tuple[int, dict[str, str]]]] | None:
    """Return the header fields and the visits of a YAML plan, each with its line number;
    None (and the problem) when the text is no YAML mapping.

    Read as nodes with the base loader: every scalar stays the text written (``2026-12``
    is no date, ``NO`` no boolean), and only the expected keys are walked, so aliases
    cannot make the walk large.
    """
    loader = yaml.BaseLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        plan.problems.append(PlanProblem("bad_yaml", row=mark.line + 1 if mark else None,
                                         value=getattr(exc, "problem", None) or str(exc).splitlines()[0]))
        return None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        plan.problems.append(PlanProblem("bad_yaml", value="nested too deeply"))
        return None
    finally:
        loader.dispose()
    if not isinstance(root, yaml.MappingNode):
        plan.problems.append(PlanProblem("yaml_not_mapping"))
        return None
    header: Header = {}
    visits: list[tuple[int, dict[str, str]]] = []
    found_visits = False
    for key_node, value_node in root.value:
        key = _key(_scalar(key_node) or "")
        line = key_node.start_mark.line + 1
        if key in _VISITS_KEYS:
            found_visits = True
            if isinstance(value_node, yaml.SequenceNode):
                visits = [_yaml_visit(item, plan) for item in value_node.value]
                visits = [v for v in visits if v is not None]
            elif not (isinstance(value_node, yaml.ScalarNode) and not value_node.value.strip()):
                plan.problems.append(PlanProblem("yaml_visits_not_list", row=line))
        elif key in _HEADER_NAMES:
            name = _HEADER_NAMES[key]
            value = _yaml_value(value_node)
            if value is None:
                plan.problems.append(PlanProblem("yaml_bad_value", row=line, field=name))
            else:
                _put(header, name, line, value, plan)
    if not found_visits:
        plan.problems.append(PlanProblem("no_table"))
    return header, visits


def _yaml_visit(node: yaml.Node, plan: Plan) -> tuple[int, dict[str, str]] | None:
    line = node.start_mark.line + 1
    if not isinstance(node, yaml.MappingNode):
        plan.problems.append(PlanProblem("yaml_bad_visit", row=line))
        return None
    values: dict[str, str] = {}
    for key_node, value_node in node.value:
        name = _VISIT_NAMES.get(_key(_scalar(key_node) or ""))
        if name is None:
            continue
        value = _yaml_value(value_node)
        if value is None:
            plan.problems.append(PlanProblem("yaml_bad_value", row=value_node.start_mark.line + 1, field=name))
            continue
        values[name] = _text(value)
    return line, values


def _scalar(node: yaml.Node) -> str | None:
    return node.value.strip() if isinstance(node, yaml.ScalarNode) else None


def _yaml_value(node: yaml.Node) -> str | list[str] | None:
    """Return a scalar's text or a list of scalars' texts; None for anything deeper."""
    if isinstance(node, yaml.ScalarNode):
        return node.value.strip()
    if isinstance(node, yaml.SequenceNode) and all(isinstance(n, yaml.ScalarNode) for n in node.value):
        return [n.value.strip() for n in node.value if n.value.strip()]
    return None


# --------------------------------------------------------------------------- people

# people.PeopleIndex's problems as the plan's problem codes.
_VISITOR_PROBLEMS = {"unknown": "unknown_visitor", "ambiguous": "ambiguous_visitor", "several": "several_visitors"}


class _People:
    """Finds a visitor (``people.PeopleIndex``, as the registry does) and the units people work in."""

    def __init__(self, org: Organisation) -> None:
        self.org = org
        self.index = PeopleIndex(org.people())
        self.units: dict[str, set[str]] = {}
        for unit in org.units.values():
            self.units.setdefault(unit.head.email, set()).add(unit.id)
        for region in org.regions.values():
            for p in region.salespeople + region.technical:
                self.units.setdefault(p.email, set()).add(region.unit)
        for email, rep in org.reps.items():
            self.units.setdefault(email, set()).add(rep.unit)

    def find(self, text: str) -> tuple[str | None, str | None]:
        """Return (email, None) for the person ``text`` names, or (None, problem code)."""
        found = self.index.find(text)
        return found.email, _VISITOR_PROBLEMS[found.problem] if found.problem else None

    def may_visit_for(self, email: str, unit: str) -> bool:
        """Tell whether ``email`` works in ``unit``; people of no unit (leadership …) visit for any."""
        units = self.units.get(email)
        return not units or unit in units


# --------------------------------------------------------------------------- text

def _key(text: str) -> str:
    """Return a label or name as compared: width folded, case and spaces ignored, trailing ':' dropped."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split()).strip("*:")


_HEADER_NAMES = {_key(label): name for name, labels in HEADER_LABELS.items() for label in labels}
_VISIT_NAMES = {_key(label): name for name, labels in VISIT_COLUMNS.items() for label in labels}
_VISITS_KEYS = {_key(k) for k in VISITS_KEYS}


def _text(value: str | list[str]) -> str:
    return "、".join(value) if isinstance(value, list) else value


def _items(value: str | list[str]) -> list[str]:
    parts = value if isinstance(value, list) else [value]
    return [item.strip() for part in parts for item in _LIST_SPLIT.split(part) if item.strip()]


"""Read a customer registry (客户名录, spec §5, Articles 2 and 4) from spreadsheet rows.

Rows come from ``tables.read_table``; out come customer records and every problem, each named
by the spreadsheet row and column a person sees, so one look at the file finds it. The import
is all or nothing, so this reader never skips a bad row: it reports it.

Invariants:
- the header row may stand below a title; its labels are Chinese or English (any case, width
  or spacing), columns in any order, unknown columns ignored;
- every value is taken as written (stripped): names, aliases, contacts and addresses are never
  rewritten; region and designated visitor are resolved against the config, type and tier
  against their fixed lists, and their canonical form is stored;
- a designated visitor who is the salesperson of the customer's own region is flagged, not
  refused (Article 4: "in principle" not the region's salesperson); the visitor is found by
  ``people.PeopleIndex``, the plans' reader, so ``李雷 <li.lei@…>`` names 李雷 in both;
- a customer id is an identity, not text to keep as typed: ``normalise_id`` folds its width
  (``Ａ００１`` is A001) and ``id_key`` its case too, because Excel's own duplicate checks
  (Remove Duplicates, COUNTIF, VLOOKUP) take ``a001`` and ``A001`` for one code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ..config import Config
from .names import normalise_name
from .people import PeopleIndex
from .tables import Row, match_header

__all__ = ["COLUMNS", "REQUIRED", "TYPES", "Customer", "CustomerFile", "RowProblem",
           "export_rows", "id_key", "name_conflicts", "normalise_id", "read_customers"]

# field → (Chinese label, English label, other labels people use). The first two are what an
# export writes; all are accepted on import.
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("客户编号", "id", "编号", "客户代码", "customer id", "customer_id", "code"),
    "name": ("客户名称", "name", "名称", "客户", "customer", "customer name", "customer_name"),
    "aliases": ("别名", "aliases", "alias", "简称", "其他名称"),
    "type": ("类型", "type", "客户类型", "类别", "customer type"),
    "region": ("地区", "region", "区域", "所属地区"),
    "tier": ("等级", "tier", "客户等级", "级别", "分级", "分类"),
    "designated_visitor": ("指定巡访人", "designated_visitor", "designated visitor", "巡访人", "visitor"),
    "contact": ("联系人", "contact", "contact person"),
    "phone": ("电话", "phone", "联系电话", "手机", "tel", "telephone"),
    "address": ("地址", "address"),
}
REQUIRED = ("id", "name", "type", "region", "tier")

# type key → (Chinese, English, other words for it) (Article 2).
TYPES: dict[str, tuple[str, ...]] = {
    "dealer": ("经销商", "dealer", "经销", "代理商", "distributor"),
    "retailer": ("零售商", "retailer", "零售", "零售店", "门店"),
    "processor": ("委托加工厂", "processor", "委托加工工厂", "加工厂", "委托加工", "contract processor"),
    "consumer": ("消费者", "consumer", "个人消费者", "终端消费者"),
}
TIERS = ("A", "B", "C", "D")
_ALIAS_SEPARATORS = re.compile(r"[;；、]")
_HEADER_SEARCH_ROWS = 20  # a title or notes above the header, but not a table further down


@dataclass(frozen=True)
class Customer:
    """One registry entry as stored; ``row`` is where it came from (not part of its identity)."""

    id: str
    name: str
    aliases: tuple[str, ...]
    type: str  # dealer | retailer | processor | consumer
    region: str  # region id
    unit: str  # unit id, the region's
    tier: str  # A–D
    designated_visitor: str | None  # email of a person in config
    contact: str = ""
    phone: str = ""
    address: str = ""
    salesperson_flag: bool = False  # the designated visitor is the region's salesperson (Article 4)
    row: int = field(default=0, compare=False)

    def keys(self) -> set[str]:
        """Return the normalised name and aliases this customer is found by."""
        return {key for key in map(normalise_name, (self.name, *self.aliases)) if key}


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong in a registry file: where (row, column) and what."""

    row: int | None  # spreadsheet row; None: the file as a whole
    column: int | None  # 0-based column index; None: the row as a whole
    label: str  # the column's header as written in the file
    message: str

    def text(self) -> str:
        """Return the problem as one line (zh-CN): 第 5 行 E 列“地区”：…"""
        where = []
        if self.row is not None:
            where.append(f"第 {self.row} 行")
        if self.column is not None:
            where.append(f"{column_letter(self.column)} 列“{self.label}”")
        return (" ".join(where) + "：" if where else "") + self.message


@dataclass(frozen=True)
class CustomerFile:
    customers: list[Customer]
    problems: list[RowProblem]


def normalise_id(text: str) -> str:
    """Return a customer id as stored: width folded (NFKC: Ａ００１ → A001), spaces at the ends gone."""
    return unicodedata.normalize("NFKC", text or "").strip()


def id_key(text: str) -> str:
    """Return the key two ids are the same customer by: ``normalise_id``, case folded too."""
    return normalise_id(text).casefold()


def column_letter(index: int) -> str:
    """Return the spreadsheet letter of a 0-based column index (0 → A, 27 → AB)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def read_customers(rows: Sequence[Row], cfg: Config) -> CustomerFile:
    """Return the customers of a registry table and every problem found, by row and column."""
    header_at = next((i for i, row in enumerate(rows[:_HEADER_SEARCH_ROWS]) if match_header(row.cells, COLUMNS)), None)
    if header_at is None:
        first = " ".join(COLUMNS[f][0] for f in REQUIRED)
        english = ", ".join(COLUMNS[f][1] for f in REQUIRED)
        return CustomerFile([], [RowProblem(None, None, "", f"找不到表头行：表头应含 {first}（或英文 {english}）")])
    header = rows[header_at]
    index = match_header(header.cells, COLUMNS) or {}
    missing = [f for f in REQUIRED if f not in index]
    if missing:
        names = "、".join(f"“{COLUMNS[f][0]} {COLUMNS[f][1]}”" for f in missing)
        return CustomerFile([], [RowProblem(header.number, None, "", f"表头缺少 {names} 列")])
    reader = _RowReader(cfg, header, index)
    customers: list[Customer] = []
    seen: dict[str, tuple[int, str]] = {}  # id key -> (row, id as written there)
    for row in rows[header_at + 1:]:
        customer = reader.read(row)
        if customer is None:
            continue
        first = seen.get(id_key(customer.id))
        if first is not None:
            written = reader.value(row, "id")
            # Say why when the two look different (Ａ００１ and A001, a001 and A001).
            why = "" if written == first[1] else "（全角半角、大小写不同也算同一编号）"
            reader.problem(row, "id", f"客户编号“{written}”与第 {first[0]} 行重复{why}")
            continue
        seen[id_key(customer.id)] = (row.number, reader.value(row, "id"))
        customers.append(customer)
    problems = reader.problems + name_conflicts(customers, ())
    problems.sort(key=lambda p: (p.row or 0, p.column if p.column is not None else -1))
    return CustomerFile(customers if not problems else [], problems)


def name_conflicts(customers: Sequence[Customer], existing: Iterable[Customer]) -> list[RowProblem]:
    """Return a problem for each customer whose name or alias another customer of its unit also has.

    Normalised names are how visits find customers; two customers of one unit with the same
    key could not be told apart. ``existing`` are the stored customers the file leaves as they are.
    """
    owners: dict[tuple[str, str], Customer] = {}
    for customer in existing:
        for key in customer.keys():
            owners.setdefault((customer.unit, key), customer)
    problems = []
    for customer in customers:
        clashes = []
        for key in sorted(customer.keys()):
            other = owners.setdefault((customer.unit, key), customer)
            if other.id != customer.id and other not in clashes:
                clashes.append(other)
        for other in clashes:
            where = f"第 {other.row} 行" if other.row else "名录中已有的"
            problems.append(RowProblem(customer.row, None, "",
                                       f"客户“{customer.name}”的名称或别名与{where}客户 {other.id}“{other.name}”"
                                       "在同一事业部内无法区分（忽略空格、标点、全半角和“有限公司”等后缀后相同），"
                                       "巡访记录将无法对应到客户；请写明分店或改用别名"))
    return problems


def export_rows(customers: Iterable[Customer], cfg: Config, *, language: str = "zh-CN") -> list[list[str]]:
    """Return a registry as table rows, header first, in the form ``read_customers`` reads back."""
    en = language == "en"
    region_names = [r.name for r in cfg.organisation.regions.values()]
    rows = [[labels[1 if en else 0] for labels in COLUMNS.values()]]
    for c in customers:
        region = cfg.organisation.regions.get(c.region)
        # A region name shared by two regions would not come back as this region: write the id.
        region_text = region.name if region and region_names.count(region.name) == 1 else c.region
        rows.append([c.id, c.name, ("; " if en else "；").join(c.aliases), TYPES[c.type][1 if en else 0],
                     region_text, c.tier, c.designated_visitor or "", c.contact, c.phone, c.address])
    return rows


class _RowReader:
    """Read data rows under one header, collecting problems as it goes."""

    def __init__(self, cfg: Config, header: Row, index: dict[str, int]) -> None:
        self.cfg = cfg
        self.header = header
        self.index = index
        self.problems: list[RowProblem] = []
        self.people = PeopleIndex(cfg.organisation.people())

    def problem(self, row: Row, field_name: str, message: str) -> None:
        column = self.index[field_name]
        self.problems.append(RowProblem(row.number, column, self.header.cell(column), message))

    def value(self, row: Row, field_name: str) -> str:
        return row.cell(self.index[field_name]) if field_name in self.index else ""

    def read(self, row: Row) -> Customer | None:
        """Return the row's customer, or None when it has a problem (recorded) or holds none of our fields."""
        values = {name: self.value(row, name) for name in COLUMNS}
        if not any(values.values()):
            return None  # only columns we do not read (notes): not a customer row
        before = len(self.problems)
        for name in REQUIRED:
            if not values[name]:
                self.problem(row, name, f"缺少{COLUMNS[name][0]}")
        kind = self._type(row, values["type"]) if values["type"] else None
        tier = self._tier(row, values["tier"]) if values["tier"] else None
        region = self._region(row, values["region"]) if values["region"] else None
        visitor = self._visitor(row, values["designated_visitor"]) if values["designated_visitor"] else None
        if len(self.problems) > before:
            return None
        salespeople = {p.email for p in region.salespeople}
        return Customer(
            id=normalise_id(values["id"]), name=values["name"], aliases=_aliases(values["aliases"]), type=kind, region=region.id,
            unit=region.unit, tier=tier, designated_visitor=visitor, contact=values["contact"],
            phone=values["phone"], address=values["address"], salesperson_flag=visitor in salespeople,
            row=row.number)

    def _type(self, row: Row, text: str) -> str | None:
        key = _fold(text)
        for kind, words in TYPES.items():
            if key in {_fold(w) for w in words}:
                return kind
        choices = "、".join(f"{words[0]}（{words[1]}）" for words in TYPES.values())
        self.problem(row, "type", f"无法识别的客户类型“{text}”，应为 {choices} 之一")
        return None

    def _tier(self, row: Row, text: str) -> str | None:
        tier = unicodedata.normalize("NFKC", text).strip().upper().removesuffix("类").removesuffix("级").strip()
        if tier in TIERS:
            return tier
        self.problem(row, "tier", f"等级“{text}”无效，应为 A、B、C、D 之一")
        return None

    def _region(self, row: Row, text: str):
        regions = self.cfg.organisation.regions
        key = _fold(text)
        found = [r for r in regions.values() if _fold(r.id) == key] or \
                [r for r in regions.values() if _fold(r.name) == key]
        if len(found) == 1:
            return found[0]
        if found:
            self.problem(row, "region", f"地区名称“{text}”对应多个地区，请写地区编号：" +
                         "、".join(r.id for r in found))
            return None
        known = "、".join(f"{r.name}（{r.id}）" for r in regions.values())
        self.problem(row, "region", f"未知地区“{text}”，配置中的地区有：{known}")
        return None

    def _visitor(self, row: Row, text: str) -> str | None:
        found = self.people.find(text)
        if found.email is not None:
            return found.email
        if found.problem == "ambiguous":
            self.problem(row, "designated_visitor", f"配置中有多人名为“{text}”，请写邮箱：" + "、".join(found.candidates))
        elif found.problem == "several":
            self.problem(row, "designated_visitor", f"指定巡访人“{text}”写了多个邮箱，只能指定一人")
        else:
            self.problem(row, "designated_visitor", f"指定巡访人“{text}”不是配置中的人员（请写配置中的姓名或邮箱）")
        return None


def _aliases(text: str) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for part in _ALIAS_SEPARATORS.split(text):
        if part.strip():
            seen.setdefault(part.strip(), None)
    return tuple(seen)


def _fold(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())

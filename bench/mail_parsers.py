"""Evaluate fast-mail-parser against our decoder (issue 12c). Prints agreement and µs per mail.

    .venv/bin/pip install fast-mail-parser      # the evaluation only; not a dependency
    .venv/bin/python bench/mail_parsers.py [--count 3000] [--rounds 3] [--examples 3]

Could the Rust parser ``fast-mail-parser`` (0.10) replace the standard library's feedparser on
the hot path? Only if it gives what ``service.inbound.mime.decode_message`` gives on every
message. Its output is put through the same last steps ours takes (a BOM and CR line ends
removed from each body; the text/plain bodies joined, or the HTML's text when no plain body
has words) and compared field by field with ours on

- the shared corpus (``/work/shared/corpus/index.tsv``: real clients, bounces, charsets),
- every ``tests/fixtures/**/*.eml`` (our golden mails, hostile ones included),
- ``--count`` reports of ``bench/backlog.py``'s ``make_report`` (the backlog's mix).

Fields: subject, From (name and address), To, Cc, text, html, attachments (file name, type and
bytes, in order) and problems (whether any was found: its warnings and ours have different
words, so only their presence can agree). A message it refuses to parse disagrees on all.
Then the time per mail of each parser alone (``parse_bytes``: the feedparser as the service
runs it, without our decoding) and of each whole decode, best of ``--rounds``, CPU time.
Exits 0 whatever the figures say; 2 when fast-mail-parser is not installed.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backlog import make_report  # noqa: E402 - after the path set-up
from common import REPO, best_cpu  # noqa: E402

from service.inbound.html_text import html_to_text  # noqa: E402
from service.inbound.mime import decode_message  # noqa: E402
from service.inbound.parser import parse_bytes  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = REPO / "tests" / "fixtures"
FIELDS = ("subject", "from_name", "from_addr", "to", "cc", "text", "html", "attachments", "problems")


def mails(count: int) -> list[tuple[str, bytes]]:
    """Return (name, raw bytes) of the corpus, the fixtures and ``count`` backlog reports."""
    found = []
    for line in (CORPUS / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        path = line.split("\t")[0]
        found.append((f"corpus/{path}", (CORPUS / path).read_bytes()))
    for path in sorted(FIXTURES.rglob("*.eml")):
        found.append((f"fixtures/{path.relative_to(FIXTURES)}", path.read_bytes()))
    found += [(f"make_report({i})", make_report(i)) for i in range(count)]
    return found


def ours(raw: bytes) -> dict:
    """Return the compared fields as decode_message gives them."""
    msg = decode_message(raw)
    return {"subject": msg.subject, "from_name": msg.from_name, "from_addr": msg.from_addr, "to": msg.to,
            "cc": msg.cc, "text": msg.text, "html": msg.html,
            "attachments": [(a.filename, a.content_type, a.payload) for a in msg.attachments],
            "problems": bool(msg.problems)}


def _normalised(text: str) -> str:
    # What mime._normalise_text does to each body.
    text = text.removeprefix("\ufeff")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def theirs(raw: bytes) -> dict:
    """Return the compared fields from fast-mail-parser, through our last steps."""
    import fast_mail_parser

    try:
        mail = fast_mail_parser.parse_email(raw)
    except Exception as exc:  # noqa: BLE001 - a refusal is a finding, not a crash
        return {name: f"raised {type(exc).__name__}: {exc}"[:200] for name in FIELDS}
    plains = [_normalised(p) for p in mail.text_plain]
    htmls = [_normalised(h) for h in mail.text_html]
    html = "\n".join(htmls)
    text = html_to_text(html) if htmls and not any(p.strip() for p in plains) else "\n".join(plains)
    sender = mail.from_
    return {"subject": mail.subject, "from_name": (sender.display_name or "") if sender else "",
            "from_addr": sender.address.lower() if sender else "", "to": [a.address.lower() for a in mail.to],
            "cc": [a.address.lower() for a in mail.cc], "text": text, "html": html,
            "attachments": [(a.filename, a.mimetype, a.content) for a in mail.attachments],
            "problems": bool(mail.warnings)}


def _show(value: object) -> str:
    if isinstance(value, list) and value and isinstance(value[0], tuple):
        value = [(name, kind, f"{len(data)} bytes") for name, kind, data in value]
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def agreement(messages: list[tuple[str, bytes]], examples: int) -> int:
    """Print per field how many messages agree, with examples of those that do not; return the misses."""
    misses: Counter[str] = Counter()
    shown: dict[str, list[str]] = {name: [] for name in FIELDS}
    whole = 0
    by_source: Counter[str] = Counter()
    for name, raw in messages:
        a, b = ours(raw), theirs(raw)
        differ = [f for f in FIELDS if a[f] != b[f]]
        whole += bool(differ)
        by_source[name.split("/")[0].split("(")[0]] += bool(differ)
        for field in differ:
            misses[field] += 1
            if len(shown[field]) < examples:
                shown[field].append(f"    {name}\n      ours:   {_show(a[field])}\n      theirs: {_show(b[field])}")
    sources = Counter(name.split("/")[0].split("(")[0] for name, _ in messages)
    print(f"agreement on {len(messages):,} messages: {len(messages) - whole:,} identical in every field ("
          + ", ".join(f"{source} {sources[source] - by_source[source]:,} of {sources[source]:,}" for source in sources)
          + ")")
    for field in FIELDS:
        print(f"  {field:<12} {len(messages) - misses[field]:6,} agree, {misses[field]:5,} differ")
        for line in shown[field]:
            print(line)
    return whole




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args(argv)
    try:
        import fast_mail_parser
    except ImportError:
        print("fast-mail-parser is not installed: .venv/bin/pip install fast-mail-parser", file=sys.stderr)
        return 2
    messages = mails(args.count)
    agreement(messages, args.examples)
    print(f"\nCPU µs per mail, best of {args.rounds} rounds")
    groups = {"corpus + fixtures": [raw for name, raw in messages if not name.startswith("make_report")],
              "make_report": [raw for name, raw in messages if name.startswith("make_report")]}
    runs = {
        "stdlib feedparser (parse_bytes)": parse_bytes,
        "fast-mail-parser parse_email": fast_mail_parser.parse_email,
        "our decode_message (stdlib inside)": decode_message,
    }
    print(f"  {'':<36}" + "".join(f"{group:>20}" for group in groups))
    for label, run in runs.items():
        figures = []
        for raws in groups.values():
            def every(raws=raws, run=run) -> None:
                for raw in raws:
                    try:
                        run(raw)
                    except Exception:  # noqa: BLE001, S110 - refusals are counted above
                        pass
            figures.append(best_cpu(every, args.rounds) / len(raws) * 1e6)
        print(f"  {label:<36}" + "".join(f"{value:20.1f}" for value in figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

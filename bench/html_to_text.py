"""Measure our html_to_text against an lxml.html-based variant (issue 7). Prints figures; never asserts.

    .venv/bin/python bench/html_to_text.py [--timeout 60] [--examples 3] [--quick]

lxml comes with python-docx, so it costs nothing to install; the question is whether its HTML
parser (libxml2, ``lxml.html.HTMLParser(huge_tree=False, ...)``) turns mail into text as well as
our hand-written tokenizer (``service/inbound/html_text.py``) and stays linear on hostile input.
The variant here builds the same lines as ours – it walks the lxml tree (``etree.iterwalk``, no
recursion) and feeds the same ``_TextBuilder``, so blockquotes become '> ' lines, <hr> becomes
HR_LINE and cells are tab-separated – only the tokenizing differs.

1. **Corpus**: the HTML parts of /work/shared/corpus (index.tsv), decoded by our MIME decoder as
   the service does: time (best of 20 rounds) and how many outputs are equal, with examples.
2. **Fixtures**: the HTML parts of tests/fixtures/**/*.eml and the HTML_CASES table of
   tests/test_decode.py: how many outputs differ; the golden replies (tests/fixtures/replies)
   read as HTML only: how many still decide as their .json says with each converter.
   Where w3m is installed, each output's likeness to ``w3m -dump`` (a browser's reading;
   characters compared without spaces and quote marks) as a neutral measure of quality.
3. **Hostile inputs** at 100 KB, 1 MB and 4 MB: the ones tests/test_decode.py's GARBAGE holds
   (``<a x=">"``, ``<a ``, ``<div><blockquote>``, the CDATA soup) and a few more. Each
   measurement runs in a child process, killed after ``--timeout`` seconds; the ratio of
   times between sizes shows whether time grows linearly (×10 then ×4 expected).
4. **Content kept**: text below deep nesting (a long Outlook thread nests blockquotes and tables).
"""

from __future__ import annotations

import argparse
import difflib
import itertools
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Imported after the path set-up, so the script runs from any folder.
import lxml.html
from lxml import etree

from service.inbound.html_text import _RAW_TEXT_TAGS, _TextBuilder, html_to_text
from service.inbound.mime import decode_message

CORPUS = REPO.parent / "shared" / "corpus"
FIXTURES = REPO / "tests" / "fixtures"
SIZES = (100_000, 1_000_000, 4_000_000)

# --------------------------------------------------------------------------- the lxml variant

_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track",
                   "wbr"})
_PARSER = lxml.html.HTMLParser(huge_tree=False, remove_comments=True, remove_pis=True, no_network=True,
                               recover=True, default_doctype=False)


def lxml_html_to_text(html: str) -> str:
    """Return html as text lines like html_to_text, tokenized and tree-built by lxml.html."""
    if not html:
        return ""
    try:
        root = lxml.html.document_fromstring(html, parser=_PARSER)
    except etree.ParserError:  # "Document is empty": blank or only comments
        return ""
    builder = _TextBuilder()
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag
        if not isinstance(tag, str):  # a comment or PI the parser kept after all
            if event == "end":
                builder.text(element.tail)
            continue
        tag = tag.lower()
        if event == "start":
            builder.start(tag)
            if tag not in _RAW_TEXT_TAGS:
                builder.text(element.text)
        else:
            if tag not in _VOID:  # iterwalk ends <br> too; ours would break the line twice
                builder.end(tag)
            builder.text(element.tail)
    return builder.result()


CONVERTERS = {"ours": html_to_text, "lxml": lxml_html_to_text}


def safe(convert, html: str) -> str:
    try:
        return convert(html)
    except Exception as error:  # noqa: BLE001 - a converter that raises is a finding, not a crash
        return f"<<{type(error).__name__}: {error}>>"


# --------------------------------------------------------------------------- inputs

def corpus_htmls() -> list[tuple[str, str]]:
    """Return (file, HTML) for every corpus mail with an HTML part, decoded as the service does."""
    rows = [line.split("\t") for line in (CORPUS / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    found = []
    for row in rows:
        path = CORPUS / row[0]
        if path.is_file():
            html = decode_message(path.read_bytes()).html
            if html:
                found.append((row[0], html))
    return found


def fixture_htmls() -> list[tuple[str, str]]:
    found = []
    for path in sorted(FIXTURES.rglob("*.eml")):
        html = decode_message(path.read_bytes()).html
        if html:
            found.append((str(path.relative_to(FIXTURES)), html))
    return found


def _attributes(size: int) -> str:
    out, i, total = ["<a"], 0, 2
    while total < size - 10:
        item = f" x{i}=1"
        out.append(item)
        total += len(item)
        i += 1
    return "".join(out) + ">deep"


# name -> (where it comes from, size -> HTML)
HOSTILE = {
    "attr-gt": ("GARBAGE", lambda n: '<a x=">"' * (n // 8) + "x"),
    "open-a": ("GARBAGE", lambda n: "<a " * (n // 3)),
    "div-blockquote": ("GARBAGE", lambda n: "<div><blockquote>" * (n // 17) + "deep"),
    "cdata-soup": ("GARBAGE", lambda n: "<![CDATA[<script><p></div></blockquote></blockquote>&#xFFFFFFFF;&#0;"
                   * (n // 72)),
    "lone-lt": ("new", lambda n: "<" * n),
    "unclosed-p": ("new", lambda n: "<p>x" * (n // 4)),
    "entities": ("new", lambda n: "&amp;&#x4E2D;&nbsp;" * (n // 19)),
    "attributes": ("new: one tag, distinct attributes", _attributes),
}


# --------------------------------------------------------------------------- measuring

def best_time(convert, htmls: list[str], rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for html in htmls:
            safe(convert, html)
        best = min(best, time.perf_counter() - start)
    return best


def _child(conn, converter: str, case: str, size: int, rounds: int) -> None:
    html = HOSTILE[case][1](size)
    convert = CONVERTERS[converter]
    best, out = float("inf"), ""
    for _ in range(rounds):
        start = time.perf_counter()
        out = safe(convert, html)
        best = min(best, time.perf_counter() - start)
    conn.send((best, len(html), len(out), out[-12:]))


def timed_in_child(converter: str, case: str, size: int, timeout: float):
    """Return (seconds, input chars, output chars, output end) or None after timeout seconds."""
    rounds = 5 if size <= 100_000 else 3 if size <= 1_000_000 else 1
    receive, send = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.Process(target=_child, args=(send, converter, case, size, rounds))
    child.start()
    try:
        if receive.poll(timeout):
            return receive.recv()
        return None
    finally:
        if child.is_alive():
            child.terminate()  # our own child, by its handle
        child.join()


def w3m_dump(html: str) -> str | None:
    if shutil.which("w3m") is None:
        return None
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp", "LANG": "C.UTF-8"}
    result = subprocess.run(["w3m", "-dump", "-T", "text/html", "-I", "UTF-8", "-O", "UTF-8", "-cols", "1000"],
                            input=html.encode("utf-8", "replace"), capture_output=True, timeout=60, env=env, check=False)
    return result.stdout.decode("utf-8", "replace")


# Spaces, quote marks, table borders, bullets and rules (w3m draws <hr> as a row of '━').
_NOT_CONTENT = re.compile(r"[\s>│─┌┐└┘├┤┬┴┼•]+|[━_]{5,}")


def likeness(text: str, reference: str) -> float:
    """Return how alike two readings are (0..1), compared without spaces, quote marks, borders, rules."""
    a, b = _NOT_CONTENT.sub("", text), _NOT_CONTENT.sub("", reference)
    if not a and not b:
        return 1.0
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def show_differences(pairs: list[tuple[str, str, str]], examples: int) -> None:
    for name, ours, theirs in pairs[:examples]:
        print(f"    · {name}")
        diff = list(difflib.unified_diff(ours.splitlines(), theirs.splitlines(), "ours", "lxml", n=0, lineterm=""))
        for line in diff[2:10]:
            print(f"        {line[:110]}")
        if len(diff) > 10:
            print(f"        … {len(diff) - 10} more diff lines")


def compare(label: str, docs: list[tuple[str, str]], examples: int) -> None:
    outputs = {name: {k: safe(f, html) for k, f in CONVERTERS.items()} for name, html in docs}
    differ = [(name, o["ours"], o["lxml"]) for name, o in outputs.items() if o["ours"] != o["lxml"]]
    loose = [d for d in differ if " ".join(d[1].split()) != " ".join(d[2].split())]
    errors = sum(o["lxml"].startswith("<<") for o in outputs.values())
    print(f"  {label}: {len(docs)} HTML bodies; outputs differ on {len(differ)} "
          f"({len(loose)} beyond whitespace); lxml raised on {errors}")
    show_differences(loose or differ, examples)
    references = {name: w3m_dump(html) for name, html in docs}
    if any(r is not None for r in references.values()):
        for key in CONVERTERS:
            scores = [likeness(outputs[name][key], ref) for name, ref in references.items() if ref is not None]
            print(f"    likeness to w3m -dump, {key}: mean {sum(scores) / len(scores):.3f}, "
                  f"min {min(scores):.3f}")


def replies_decide() -> None:
    """Read each golden reply as HTML only with each converter; count the right decisions."""
    import dataclasses
    import json

    from service.reading import replies

    golden = [p for p in sorted((FIXTURES / "replies").glob("*.eml")) if decode_message(p.read_bytes()).html]
    for key, convert in CONVERTERS.items():
        right = 0
        saved = replies.html_to_text
        replies.html_to_text = convert  # the reader converts the HTML itself when the text is from HTML
        try:
            for path in golden:
                msg = decode_message(path.read_bytes())
                found = replies.read_decision(dataclasses.replace(msg, text=convert(msg.html)))
                want = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
                right += {"decision": found.decision, "numbers": found.numbers, "comment": found.comment} == want
        finally:
            replies.html_to_text = saved
        print(f"  golden replies read as HTML only, {key}: {right} of {len(golden)} decide as their .json says")


# --------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per hostile measurement (60)")
    parser.add_argument("--examples", type=int, default=3, help="differences shown per set (3)")
    parser.add_argument("--quick", action="store_true", help="hostile inputs at 100 KB and 1 MB only")
    args = parser.parse_args()
    print(f"lxml {lxml.__version__}, libxml2 {'.'.join(map(str, etree.LIBXML_VERSION))}, "
          f"Python {sys.version.split()[0]}")

    print("\n1. Corpus (/work/shared/corpus)")
    corpus = corpus_htmls()
    total = sum(len(h) for _, h in corpus)
    for key, convert in CONVERTERS.items():
        seconds = best_time(convert, [h for _, h in corpus], 20)
        print(f"  {key}: {seconds * 1000:.1f} ms for {len(corpus)} bodies, {total / 1000:.0f} kB "
              f"({total / seconds / 1e6:.1f} MB/s)")
    compare("corpus", corpus, args.examples)

    print("\n2. Fixtures")
    compare("tests/fixtures/**/*.eml", fixture_htmls(), args.examples)
    from tests.test_decode import HTML_CASES

    for key, convert in CONVERTERS.items():
        right = sum(safe(convert, html) == text for html, text in HTML_CASES)
        print(f"  test_decode.HTML_CASES, {key}: {right} of {len(HTML_CASES)} as the test expects")
    wrong = [(repr(h)[:60], t, safe(lxml_html_to_text, h)) for h, t in HTML_CASES if safe(lxml_html_to_text, h) != t]
    for html, want, got in wrong:
        print(f"    · {html}: expected {want!r}, lxml {got!r}")
    replies_decide()

    print(f"\n3. Hostile inputs (seconds, best of 5 / 3 / 1; a child per run, killed after {args.timeout:g} s)")
    sizes = SIZES[:2] if args.quick else SIZES
    print(f"  {'input':16} {'from':10} {'conv':5} " + " ".join(f"{s // 1000:>8} kB" for s in sizes)
          + "   growth per size step (linear: ×10, ×4)")
    slow: list[tuple[str, str]] = []
    for case, (origin, _) in HOSTILE.items():
        for key in CONVERTERS:
            times: list[float | None] = []
            for size in sizes:
                if times and times[-1] is None:
                    times.append(None)  # timed out on a smaller input already
                    continue
                result = timed_in_child(key, case, size, args.timeout)
                times.append(result[0] if result else None)
            cells = " ".join(f"{t:>11.3f}" if t is not None else f"{'>' + format(args.timeout, 'g'):>11}"
                             for t in times)
            steps = [f"×{b / a:.1f}" if a and b else "–" for a, b in itertools.pairwise(times)]
            print(f"  {case:16} {origin.split(':')[0]:10} {key:5} {cells}   {', '.join(steps)}")
            if None in times:
                slow.append((case, key))
    for case, key in slow:  # how it grows where it timed out: double the size twice
        doubling = [timed_in_child(key, case, size, args.timeout) for size in (100_000, 200_000, 400_000)]
        shown = ", ".join(f"{s // 1000} kB {r[0]:.2f} s" if r else f"{s // 1000} kB >{args.timeout:g} s"
                          for s, r in zip((100_000, 200_000, 400_000), doubling, strict=True))
        growth = [f"×{b[0] / a[0]:.1f}" for a, b in itertools.pairwise(doubling) if a and b]
        print(f"  {case} with {key}: {shown}; per doubling {', '.join(growth)} (linear ×2, quadratic ×4)")

    print("\n4. Content kept")
    cases = [(f"{depth} nested <div>", "<div>" * depth + "text below") for depth in (100, 250, 255, 300, 5000)]
    cases += [("after </html> (a list footer)", "<html><body>own</body></html>\n\n---\ntext below"),
              ("two HTML parts joined, as decode_message does (Apple Mail around an attachment)",
               "<html><body><div>own</div></body></html>\n<html><body><div>text below</div></body></html>")]
    for label, html in cases:
        kept = {key: safe(convert, html).endswith("text below") for key, convert in CONVERTERS.items()}
        print(f"  {label}: " + ", ".join(f"{k} {'kept' if v else 'LOST'}" for k, v in kept.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""CPU per mail, stage by stage, of the daily reports a backlog holds (issue 12). Prints figures.

    .venv/bin/python bench/stages.py [--count 3000] [--rounds 5]

No IMAP, no database, no sandbox: ``bench/backlog.py``'s ``make_report`` builds ``--count``
realistic daily reports (its four client variants, 2–4 visits, every eighth with a customer
card) and each stage runs over all of them in this process, as ``poll`` would run it:

- **decode**: ``decode_message`` (the policy's size limit), split into the parser
  (``service/inbound/parser.py``'s ``parse_bytes``: the standard library's feedparser without
  its per-mail boundary regex) and our walk (headers, charsets, bodies, attachments: the rest
  of decode_message); for comparison the unchanged ``BytesParser(policy=compat32)`` too;
- **classify**: ``classify`` (the ordered rule table);
- **read**: ``read_daily_report``, and of it the quote scan (``quotes.own_text``) alone;
- **render**: the receipt a valid report gets, split into the workflow's pure part (the visit
  summaries and subject echo of ``service/workflows/daily_report.py`` and ``answer.py``), the
  Jinja2 render (text and HTML, ``Renderer.render``) and the MIME writer
  (``outbox.build_message``).

Then what a backlog adds around them, as ``poll`` runs it:

- **prepare**: what a worker process does per mail (``service/workers.py``: decode, classify,
  read and draft the receipt, interleaved mail by mail as in the pool – more than the stages
  above add up to, as each mail's steps evict each other's caches), and the pickling of its
  results in chunks of ``workers.CHUNK`` (in the worker) and their unpickling (in the
  writer's process);
- **writer**: ``_Taker.take`` per batch of 100 (record, workflow, queue, one commit per batch,
  then what is settled handed on to be moved, recorded as moved once the helper is done) on a
  fresh database in a temporary folder, with the prepared results as the pool gives them; the
  IMAP helper is a stand-in that moves at once (no IMAP, no sync).

Each stage's CPU time (``time.process_time``) is the best of ``--rounds`` rounds over all mails,
divided by the count. The sub-stages are measured separately, so they need not add up to their
stage exactly. Exits non-zero only if a mail is not read as a valid report (a correctness failure).
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future
from email import policy as email_policy
from email.parser import BytesParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from backlog import extra_reps, make_report  # noqa: E402 - after the path set-up
from common import REPO, best_cpu  # noqa: E402

import yaml  # noqa: E402

from service import workers  # noqa: E402
from service.classify import classify  # noqa: E402
from service.context import Context  # noqa: E402
from service.inbound.imap import Fetched  # noqa: E402
from service.intake import Intake, PollResult, _Taker  # noqa: E402
from service.config.parse import parse_config  # noqa: E402
from service.inbound.mime import decode_message  # noqa: E402
from service.inbound.parser import parse_bytes  # noqa: E402
from service.outbound import outbox  # noqa: E402
from service.outbound.render import Renderer  # noqa: E402
from service.reading.daily import read_daily_report  # noqa: E402
from service.reading.quotes import own_text  # noqa: E402
from service.workflows.answer import KIND_NAMES, echo_subject  # noqa: E402
from service.workflows.daily_report import MAX_LISTED, _visit_summary  # noqa: E402


def bench_config():
    """Return config.yaml's Config with the backlog bench's extra reps (make_report's senders)."""
    data = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    data["organisation"]["reps"] += extra_reps()
    return parse_config(data, path=REPO / "config.yaml")


def receipt_variables(cfg, msg, report) -> dict:
    """Return the daily_receipt variables the workflow and Context.send pass for a valid report."""
    rep = cfg.organisation.reps[msg.from_addr]
    language = cfg.language_for(msg.from_addr)
    return dict(service_name=cfg.service_name, service_address=cfg.service_address,
                original_subject=echo_subject(msg.subject), sender_name=rep.name, kind_names=KIND_NAMES,
                report_date=report.report_date.isoformat(), replaced=True, visit_count=len(report.visits),
                visits=[_visit_summary(v, language) for v in report.visits[:MAX_LISTED]],
                unlisted=max(0, len(report.visits) - MAX_LISTED), cards=[], forwarded=[],
                source=report.source, unregistered=[], unregistered_more=0)




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    cfg = bench_config()
    renderer = Renderer()
    limit = cfg.policy.max_message_bytes
    raws = [make_report(i) for i in range(args.count)]
    msgs = [decode_message(raw, max_bytes=limit) for raw in raws]
    reports = [read_daily_report(m, cfg) for m in msgs]
    bad = [i for i, (m, r) in enumerate(zip(msgs, reports)) if r.problems or classify(m, cfg).kind != "daily_report"]
    if bad:
        print(f"correctness: {len(bad)} mail(s) not read as valid daily reports, e.g. #{bad[0]}: "
              f"{classify(msgs[bad[0]], cfg)} {reports[bad[0]].problems}", file=sys.stderr)
        return 1
    variables = [receipt_variables(cfg, m, r) for m, r in zip(msgs, reports)]
    mails = [renderer.render("daily_receipt", cfg.language_for(m.from_addr), **v) for m, v in zip(msgs, variables)]
    stdlib = BytesParser(policy=email_policy.compat32)
    language = cfg.language_for

    def build(mail, msg, n):
        return outbox.build_message(mail=mail, sender=cfg.service_address, sender_name=cfg.service_name,
                                    to=[msg.from_addr], message_id=f"vf.{n:032x}@visitflow.test",
                                    in_reply_to=msg.message_id or None, references=msg.references)

    stages: list[tuple[str, Callable[[], object]]] = [
        ("decode", lambda: [decode_message(raw, max_bytes=limit) for raw in raws]),
        ("  parse_bytes", lambda: [parse_bytes(raw) for raw in raws]),
        ("  (stdlib BytesParser)", lambda: [stdlib.parsebytes(raw) for raw in raws]),
        ("classify", lambda: [classify(m, cfg) for m in msgs]),
        ("read", lambda: [read_daily_report(m, cfg) for m in msgs]),
        ("  quote scan", lambda: [own_text(m.text) for m in msgs]),
        ("render", lambda: [build(renderer.render("daily_receipt", language(m.from_addr),
                                                  **receipt_variables(cfg, m, r)), m, n)
                            for n, (m, r) in enumerate(zip(msgs, reports))]),
        ("  workflow (pure)", lambda: [receipt_variables(cfg, m, r) for m, r in zip(msgs, reports)]),
        ("  Jinja2", lambda: [renderer.render("daily_receipt", language(m.from_addr), **v)
                              for m, v in zip(msgs, variables)]),
        ("  MIME writer", lambda: [build(mail, m, n) for n, (mail, m) in enumerate(zip(mails, msgs))]),
    ]
    print(f"{args.count:,} daily reports from bench/backlog.py's make_report "
          f"({sum(map(len, raws)) / len(raws) / 1024:.1f} kB average), best of {args.rounds} rounds, CPU µs per mail")
    figures = {}
    for name, run in stages:
        figures[name] = best_cpu(run, args.rounds) / args.count * 1e6
        print(f"{name:<24} {figures[name]:8.1f}", flush=True)
    walk = figures["decode"] - figures["  parse_bytes"]
    print(f"{'  our walk (the rest)':<24} {walk:8.1f}")
    total = sum(figures[n] for n in ("decode", "classify", "read", "render"))
    print(f"{'total':<24} {total:8.1f}")
    print(f"as a backlog runs them ({args.count:,} mails in batches of {BATCH}):", flush=True)
    for name, figure in backlog_stages(cfg, raws, args.rounds):
        print(f"{name:<24} {figure:8.1f}", flush=True)
    return 0


BATCH = 100  # config.yaml's imap.fetch_batch


class _MovedAtOnce:
    """Stands in for the intake's IMAP helper (_ImapRunner): a move it is given is done at once."""

    def submit(self, fn, rows: list[dict], files: list) -> Future:
        future: Future = Future()
        future.set_result([(rows, "Processed", 1, {r["uid"]: r["uid"] for r in rows}, None)])
        return future


def backlog_stages(cfg, raws: list[bytes], rounds: int) -> list[tuple[str, float]]:
    """Return (stage, CPU µs per mail) of the worker as a whole, the pickles and the writer.

    Each round takes the mails into a fresh database; a batch is prepared just before it is
    taken in, so a draft sees the database as a worker would (its receipt says "replaced"
    when an earlier report of that day is stored).
    """
    best = {"prepare (one worker)": float("inf"), "  pickle (in the worker)": float("inf"),
            "  unpickle (writer's process)": float("inf"), "writer": float("inf")}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="vf-stages-") as tmp:
            folder = Path(tmp)
            storage = dataclasses.replace(cfg.storage, database=folder / "visitflow.db",
                                          cards_dir=folder / "cards", reports_dir=folder / "reports")
            run_cfg = dataclasses.replace(cfg, storage=storage)
            ctx = Context.open(run_cfg)
            intake = Intake(ctx, workers=0)
            # As _init_worker sets up a forked worker, here in this process.
            workers._worker = (run_cfg, intake.readers, workers.Drafter(run_cfg, intake.drafters))
            spent = dict.fromkeys(best, 0.0)
            result = PollResult()
            taker = _Taker(intake, 1, 0, result)
            taker.imap = _MovedAtOnce()
            try:
                for start in range(0, len(raws), BATCH):
                    batch = raws[start:start + BATCH]
                    began = time.process_time()
                    chunks = [workers._prepare_chunk(batch[i:i + workers.CHUNK])
                              for i in range(0, len(batch), workers.CHUNK)]
                    prepared_at = time.process_time()
                    blobs = [pickle.dumps(chunk) for chunk in chunks]
                    pickled_at = time.process_time()
                    prepared = [item for blob in blobs for item in pickle.loads(blob)]
                    unpickled_at = time.process_time()
                    uids = list(range(start + 1, start + len(batch) + 1))
                    fetched = [Fetched(uid=uid, raw=raw) for uid, raw in zip(uids, batch)]
                    taker.take(uids, fetched, prepared, last=start + BATCH >= len(raws))
                    done = time.process_time()
                    spent["prepare (one worker)"] += prepared_at - began
                    spent["  pickle (in the worker)"] += pickled_at - prepared_at
                    spent["  unpickle (writer's process)"] += unpickled_at - pickled_at
                    spent["writer"] += done - unpickled_at
                result.moved += intake._note_moves(taker.moving, wait=True)
            finally:
                workers._worker = None
                ctx.close()
            if result.settled.get("processed") != len(raws) or result.moved != len(raws):
                raise SystemExit(f"correctness: the writer settled {dict(result.settled)} and moved "
                                 f"{result.moved} of {len(raws)} mails")
            for name, seconds in spent.items():
                best[name] = min(best[name], seconds)
    return [(name, seconds / len(raws) * 1e6) for name, seconds in best.items()]


if __name__ == "__main__":
    sys.exit(main())

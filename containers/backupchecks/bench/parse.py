"""Parse every fixture mail N times in one process (one thread, one core at a time) and report
the throughput.

Prints mails per second through the import's path (``normalize_eml`` + ``parse_mail``) and the ratio
of ``parse_mail`` time to a bare ``lxml.html`` parse of the same HTML bodies (for the mails that have
one): the floor any parser that reads the HTML has to pay. Targets: >= 300 mails/s, ratio <= 3.

Timing on a shared machine is noisy, so:
* throughput: each pass over the fixtures is timed on its own; the fastest pass is reported, the
  mean of all passes in brackets;
* ratio: each mail's ``parse_mail`` and the bare parse of its HTML are timed N times, back to back,
  and the fastest of each counts; the ratio is the sum over all mails, and per vendor folder.

    python bench/parse.py            # N = 20
    python bench/parse.py -n 50 --vendor veeam --vendor nakivo
    python bench/parse.py --profile 30   # then cProfile N passes of parse_mail, top 30 by own time
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from lxml import html as lxml_html

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

from backend.app.parsers.base import NormalizedMail  # noqa: E402
from backend.app.parsers.normalize import normalize_eml  # noqa: E402
from backend.app.parsers.registry import parse_mail  # noqa: E402


def _fastest(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--repeat", type=int, default=20, help="passes over all fixtures (default 20)")
    parser.add_argument("--fixtures", type=Path, default=HERE.parent / "tests" / "fixtures" / "mails",
                        help="folder with <vendor>/*.eml (default: tests/fixtures/mails)")
    parser.add_argument("--vendor", action="append", default=[],
                        help="only this vendor folder (repeatable; default: all)")
    parser.add_argument("--profile", type=int, metavar="TOP", default=0,
                        help="after the figures, profile N passes of parse_mail over the (HTML) mails with cProfile "
                             "and print the TOP functions by own time; not part of the timing above")
    args = parser.parse_args(argv)

    paths = [path for path in sorted(args.fixtures.glob("*/*.eml"))
             if not args.vendor or path.parent.name in args.vendor]
    if not paths:
        parser.error(f"no fixtures under {args.fixtures}")
    raws = [path.read_bytes() for path in paths]
    mails: list[tuple[str, NormalizedMail]] = []
    for path, raw in zip(paths, raws, strict=True):
        with contextlib.suppress(ValueError):
            mails.append((path.parent.name, normalize_eml(raw)))
    parsed = sum(1 for _vendor, mail in mails if parse_mail(mail).result is not None)  # also warms caches

    passes = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for raw in raws:
            with contextlib.suppress(ValueError):
                parse_mail(normalize_eml(raw))
        passes.append(time.perf_counter() - start)
    registry_passes = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        for _vendor, mail in mails:
            parse_mail(mail)
        registry_passes.append(time.perf_counter() - start)

    per_vendor: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for vendor, mail in mails:
        if not mail.html_body.strip():
            continue
        body = mail.html_body
        totals = per_vendor[vendor]
        totals[0] += 1
        totals[1] += _fastest(lambda mail=mail: parse_mail(mail), args.repeat)
        totals[2] += _fastest(lambda body=body: lxml_html.document_fromstring(body), args.repeat)

    with_html = sum(int(t[0]) for t in per_vendor.values())
    parse_total = sum(t[1] for t in per_vendor.values())
    lxml_total = sum(t[2] for t in per_vendor.values())
    print(f"fixtures: {len(raws)} mails ({parsed} parse to a result, {with_html} with HTML), {args.repeat} passes")
    print(f"normalize_eml + parse_mail: {len(raws) / min(passes):6.0f} mails/s "
          f"({len(raws) / statistics.mean(passes):.0f}), {min(passes) / len(raws) * 1000:.3f} ms/mail")
    print(f"parse_mail alone:           {len(mails) / min(registry_passes):6.0f} mails/s "
          f"({len(mails) / statistics.mean(registry_passes):.0f})")
    if with_html:
        print(f"mails with HTML: parse_mail {parse_total / with_html * 1000:.3f} ms/mail, "
              f"bare lxml.html parse {lxml_total / with_html * 1000:.3f} ms/mail")
        print(f"ratio parse_mail / bare lxml parse of the same HTML bodies: {parse_total / lxml_total:.2f}")
        for vendor, (count, parse_time, lxml_time) in sorted(per_vendor.items()):
            print(f"  {vendor:24s} {int(count):3d} mails  ratio {parse_time / lxml_time:5.2f}  "
                  f"({parse_time / count * 1000:.3f} vs {lxml_time / count * 1000:.3f} ms/mail)")
    if args.profile:
        _profile([mail for _vendor, mail in mails if mail.html_body.strip()] or [mail for _vendor, mail in mails],
                 args.repeat, args.profile)
    return 0


def _profile(mails: list[NormalizedMail], passes: int, top: int) -> None:
    """cProfile over ``passes`` passes of parse_mail (the mails with HTML, which the ratio covers).
    Profiling slows small Python functions far more than C code: read it for where time goes, and
    measure a change with the figures above."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(passes):
        for mail in mails:
            parse_mail(mail)
    profiler.disable()
    print(f"\ncProfile: {passes} passes over {len(mails)} mails")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(top)


if __name__ == "__main__":
    raise SystemExit(main())

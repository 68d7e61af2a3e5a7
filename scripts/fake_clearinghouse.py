"""A stand-in clearinghouse and payer, to try the revenue cycle without one: from an 837P it
writes the 999, 277CA and 835 a clearinghouse and Medicare would send back (test files,
ISA15 T, each validated with pyx12), for `carelane receive`.

    python scripts/fake_clearinghouse.py march.837 answers/ [--plan C-1=denied-97 ...] [--reject C-2]

Plans: paid (the default), underpaid, partial, denied-97, denied-B20, reversed-repaid. A
rejected claim (277CA A7) is left out of the 835."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapters.x12_fake import ack_277ca, ack_999
from adapters.x12_fake_835 import remit_835

PLANS = ("paid", "underpaid", "partial", "denied-97", "denied-B20", "reversed-repaid")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file_837", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--plan", action="append", default=[], metavar="CLAIM=PLAN", help=f"one of {', '.join(PLANS)}")
    parser.add_argument("--reject", action="append", default=[], metavar="CLAIM", help="rejected in the 277CA")
    args = parser.parse_args(argv)
    plan = dict(item.split("=", 1) for item in args.plan if "=" in item)
    bad = sorted(set(plan.values()) - set(PLANS))
    if bad:
        parser.error(f"unknown plan {bad[0]!r}; use one of {', '.join(PLANS)}")
    try:
        text = args.file_837.read_text()
        files = {
            ".999": ack_999(text),
            ".277": ack_277ca(text, rejected=dict.fromkeys(args.reject, "21")),
            ".835": remit_835(text, {k: v for k, v in plan.items() if k not in args.reject}, skip=set(args.reject)),
        }
    except (OSError, ValueError) as e:
        print(f"{args.file_837}: {e}", file=sys.stderr)
        return 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for suffix, body in files.items():
        path = args.out_dir / (args.file_837.stem + suffix)
        path.write_text(body)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``anagen clinical <verb>``: JSON in, JSON out.

Success: one JSON document on stdout, exit 0. Bad input (including bad options and invalid JSON):
one line ``error: <field>: <message>`` on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import date
from typing import Any, NoReturn

from anagen.clinical.centrifuge import rcf_report
from anagen.clinical.dates import parse_iso_date
from anagen.clinical.errors import ValidationError
from anagen.clinical.protocols import list_protocols, plan_series
from anagen.clinical.prp import prp_evaluate
from anagen.clinical.salt import salt_score
from anagen.clinical.screening import screen

EXIT_OK = 0
EXIT_INPUT = 2


class UsageError(Exception):
    """An argparse usage problem, reported like any other input error."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would print the whole usage block; we keep the one-line contract.
        raise UsageError(f"{self.prog}: {message}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def read_document(source: str) -> Any:
    """The JSON document in file ``source`` (``-`` = stdin)."""
    name = "stdin" if source == "-" else source
    try:
        if source == "-":
            text = sys.stdin.read()
        else:
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError(name, f"cannot read input: {reason}") from exc
    try:
        return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            name, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:
        raise ValidationError(name, f"invalid JSON: {exc}") from exc


def _number(field: str) -> Callable[[str], float]:
    def convert(text: str) -> float:
        try:
            return int(text)  # echo "120" as 120, not 120.0, in messages
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise ValidationError(field, f"must be a number, got {text!r}") from None

    return convert


def _build_parser() -> _Parser:
    parser = _Parser(prog="anagen clinical", description="Anagen clinical kernel (JSON in/out).")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    for name, help_text in (("screen", "candidacy screening"), ("prp", "PRP calculators")):
        verb = verbs.add_parser(name, help=help_text)
        verb.add_argument("file", metavar="FILE", help="JSON input file, or - for stdin")

    salt = verbs.add_parser("salt", help="SALT score from % hair loss per area")
    for area in ("vertex", "posterior", "right", "left"):
        salt.add_argument(f"--{area}", required=True, type=_number(f"--{area}"), metavar="PCT")

    rcf = verbs.add_parser("rcf", help="g-force <-> rpm")
    rcf.add_argument("--radius-cm", required=True, type=_number("--radius-cm"), metavar="R")
    speed = rcf.add_mutually_exclusive_group(required=True)
    speed.add_argument("--rpm", type=_number("--rpm"), metavar="N")
    speed.add_argument("--g", type=_number("--g"), metavar="G")

    verbs.add_parser("protocols", help="the protocol library")

    plan = verbs.add_parser("plan", help="plan a session series")
    plan.add_argument("--protocol", required=True, metavar="ID")
    plan.add_argument("--start", required=True, metavar="YYYY-MM-DD")
    return parser


def _run(args: argparse.Namespace) -> Any:
    if args.verb == "screen":
        # Today bounds the recorded dates (a last dose or lab in the future is an input error).
        return screen(read_document(args.file), today=date.today())
    if args.verb == "prp":
        return prp_evaluate(read_document(args.file))
    if args.verb == "salt":
        try:
            return salt_score(args.vertex, args.posterior, args.right, args.left)
        except ValidationError as exc:  # name the option the user typed
            raise ValidationError(f"--{exc.field}", exc.message) from exc
    if args.verb == "rcf":
        try:
            return rcf_report(args.radius_cm, rpm=args.rpm, g=args.g)
        except ValidationError as exc:
            raise ValidationError("--" + exc.field.replace("_", "-"), exc.message) from exc
    if args.verb == "protocols":
        return {"protocols": list_protocols()}
    if args.verb == "plan":
        start = parse_iso_date(args.start, "--start")
        try:
            return plan_series(args.protocol, start)
        except ValidationError as exc:
            raise ValidationError(f"--{exc.field}", exc.message) from exc
    raise UsageError(f"unknown verb {args.verb!r}")  # unreachable: argparse checks choices


def _one_line(text: str) -> str:
    return " ".join(text.split())


def main(argv: list[str]) -> int:
    try:
        result = _run(_build_parser().parse_args(argv))
    except ValidationError as exc:
        print(_one_line(f"error: {exc.field}: {exc.message}"), file=sys.stderr)
        return EXIT_INPUT
    except UsageError as exc:
        print(_one_line(f"error: {exc}"), file=sys.stderr)
        return EXIT_INPUT
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    return EXIT_OK

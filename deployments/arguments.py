"""How ``floor`` reads its arguments: typed values, and one line for anything it cannot use."""

from __future__ import annotations

import argparse
import re


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535, got {text!r}")
    return value


def day(text: str):
    """A calendar day written YYYY-MM-DD."""
    from datetime import date

    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a day written YYYY-MM-DD, got {text!r}") from None


def dollars(text: str) -> float:
    """A positive amount of dollars, such as 5 or 2.50."""
    if not re.fullmatch(r"\d+(\.\d{1,2})?", text) or float(text) <= 0:
        raise argparse.ArgumentTypeError(
            f"must be a positive amount of dollars such as 5 or 2.50, got {text!r}"
        )
    return float(text)


def nonblank(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be blank")
    return text.strip()


class FloorArgumentParser(argparse.ArgumentParser):
    """Reports a bad argument in one line (``floor: --last must be …``) instead of usage text."""

    def error(self, message: str):
        named = re.fullmatch(r"argument ([^:]+): (.*)", message, flags=re.DOTALL)
        if named:  # "argument -v/--verbose: must be ..." -> "--verbose must be ..."
            name, problem = named[1].split("/")[-1], named[2]
            message = f"{name} {problem}" if problem.startswith("must ") else f"{name}: {problem}"
        self.exit(2, f"floor: {message} (see {self.prog} --help)\n")


def command(sub, name: str, func, summary: str, description: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand with a help line, a description and worked examples in its ``--help``."""
    parser = sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog="Examples:\n" + examples.strip("\n"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(func=func)
    return parser

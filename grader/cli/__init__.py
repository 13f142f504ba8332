"""The `grader` command: subcommands live in cmd_*.py modules, each with a `register(sub)`."""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from grader.cli import cmd_batch, cmd_cache, cmd_check, cmd_doctor, cmd_new, cmd_problems, cmd_prompt
from grader.errors import UsageError
from grader.process import exit_now

COMMANDS = [cmd_check, cmd_batch, cmd_problems, cmd_prompt, cmd_new, cmd_cache, cmd_doctor]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="grader", description="Grade custom CUDA kernels against PyTorch.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"grader: error: {e}", file=sys.stderr)
        return 2
    except ValidationError as e:
        first = e.errors()[0]
        print(f"grader: error: --{'-'.join(str(x) for x in first['loc'])}: {first['msg']}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `grader problems list | head`
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        print("grader: interrupted; workers stopped", file=sys.stderr)
        return 130


def run() -> None:
    """The `grader` console script."""
    exit_now(main())


if __name__ == "__main__":
    run()

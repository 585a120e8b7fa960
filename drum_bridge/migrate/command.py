"""``drum-bridge migrate``: the report, ``--write`` and ``--check`` on the command line."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from ..config.model_metadata import read_model_metadata
from ..errors import DrumBridgeError
from ..extensions.discovery import FILE_NAMES, find_extensions
from .extension_model import FlaskExtension
from .reading import read_flask_extension
from .report import format_report
from .writing import write_fastapi_extension

__all__ = ["add_migrate_command", "run_migrate"]

FLASK_FILE = "custom_flask.py"
FASTAPI_FILE = "custom_fastapi.py"


def add_migrate_command(commands: Any) -> argparse.ArgumentParser:
    """Add ``migrate`` to the subparsers ``commands``."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "migrate",
        help="turn custom_flask.py into custom_fastapi.py, and check that they behave alike",
        description="Read custom_flask.py (without running it) and report what each hook, route and"
                    " extension becomes on FastAPI. --write creates custom_fastapi.py beside it;"
                    " --check serves both in this process and compares their answers"
                    " (exit 0 only when they behave alike).",
    )
    add = parser.add_argument
    add("-cd", "--code-dir", required=True, help="The model's code dir, holding custom_flask.py")
    add("--write", action="store_true", help="Write custom_fastapi.py beside custom_flask.py")
    add("--force", action="store_true", help="With --write: replace an existing custom_fastapi.py")
    add("--check", action="store_true",
        help="Serve custom_flask.py and custom_fastapi.py (the written file, else the generated text)"
             " and print every difference in their answers")
    add("--target-type", help="The model's target type for --check (env TARGET_TYPE, else model-metadata.yaml)")
    add("--positive-class-label", help="For --check of a binary model")
    add("--negative-class-label", help="For --check of a binary model")
    add("--class-labels", nargs="+", help="For --check of a multiclass model")
    return parser


def _target_type(args: argparse.Namespace, code_dir: Path) -> str | None:
    if args.target_type:
        return str(args.target_type)
    if os.environ.get("TARGET_TYPE"):
        return os.environ["TARGET_TYPE"]
    metadata = read_model_metadata(code_dir)
    return metadata.target_type if metadata else None


def _check(args: argparse.Namespace, code_dir: Path, flask_path: Path, ext: FlaskExtension, generated: str) -> int:
    from .check import check_extension  # imported here: the report alone needs no app

    written = flask_path.parent / FASTAPI_FILE
    if written.is_file():
        source, label = written.read_text(encoding="utf-8"), str(written)
    else:
        source, label = generated, f"the generated {FASTAPI_FILE} (not written; --write writes it)"
    target_type = _target_type(args, code_dir)
    if target_type is None:
        print("drum-bridge migrate: error: --check needs the model's target type: --target-type,"
              " TARGET_TYPE or targetType in model-metadata.yaml", file=sys.stderr)
        return 2
    settings = {k: v for k in ("positive_class_label", "negative_class_label", "class_labels")
                if (v := getattr(args, k)) is not None}
    print(f"\nChecking {label} against {flask_path} ...")
    try:
        result = check_extension(code_dir, flask_path, source, ext, target_type=target_type, settings=settings)
    except DrumBridgeError as exc:
        print(f"drum-bridge migrate: error: {exc}", file=sys.stderr)
        return 1
    print(f"Sent {result.requests} requests to each app", end="")
    if result.preflights:
        print(f" ({result.preflights} CORS preflights, compared on their Access-Control-* answers only)", end="")
    print(".")
    if result.alike:
        print(f"No differences: {FASTAPI_FILE} answers as {FLASK_FILE} does.")
        return 0
    requests = len({d.probe for d in result.differences})
    print(f"{len(result.differences)} difference(s), on {requests} of the requests:")
    for difference in result.differences:
        print(f"  {difference.describe()}")
    return 1


def run_migrate(args: argparse.Namespace) -> int:
    """The ``migrate`` command for parsed ``args``: its exit code."""
    code_dir = Path(args.code_dir)
    if not code_dir.is_dir():
        print(f"drum-bridge migrate: error: {code_dir} is not a directory", file=sys.stderr)
        return 2
    try:
        found = find_extensions(code_dir)
    except DrumBridgeError as exc:
        print(f"drum-bridge migrate: error: {exc}", file=sys.stderr)
        return 2
    flask_path = next((p for style, p in found.items() if FILE_NAMES[style] == FLASK_FILE), None)
    if flask_path is None:
        print(f"drum-bridge migrate: error: no {FLASK_FILE} in {code_dir}", file=sys.stderr)
        return 2
    try:
        ext = read_flask_extension(flask_path.read_text(encoding="utf-8"), str(flask_path))
    except SyntaxError as exc:
        print(f"drum-bridge migrate: error: {flask_path} is not valid Python: {exc}", file=sys.stderr)
        return 2
    if (flask_path.parent / "static").is_dir():
        ext.report.notes.append(
            "Flask served the static/ folder beside custom_flask.py at /static/; FastAPI does not:"
            ' add app.mount("/static", StaticFiles(directory=...)) to init_app if clients use it')
    print(format_report(ext.report))
    generated = write_fastapi_extension(ext)
    if args.write:
        target = flask_path.parent / FASTAPI_FILE
        if target.exists() and not args.force:
            print(f"drum-bridge migrate: error: {target} exists; --force replaces it", file=sys.stderr)
            return 1
        target.write_text(generated, encoding="utf-8")
        print(f"\nWrote {target}.")
    if args.check:
        return _check(args, code_dir, flask_path, ext, generated)
    if not args.write:
        print(f"\nNext: --write creates {FASTAPI_FILE} beside {flask_path.name}; --check compares the two.")
    return 0

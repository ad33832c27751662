"""Developer tool for the state store's migrations.

    python -m collector.store.migrations revision "add tickets.priority"   # write a revision for the changes
    python -m collector.store.migrations check                              # exit 1 if a revision is missing
    python -m collector.store.migrations heads

``revision`` and ``check`` compare the table definitions in the code with a scratch database built by
running every migration (SQLite in a temporary folder, or ``--url`` to use an empty PostgreSQL
database instead), so the result does not depend on any real database.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import Connection

from collector.store.engine import open_engine
from collector.store.migrate import (
    MIGRATIONS_DIR,
    alembic_config,
    describe_diff,
    migrate,
    schema_diff,
    script_directory,
)


@contextmanager
def scratch_at_head(url: str | None) -> Iterator[Connection]:
    with tempfile.TemporaryDirectory(prefix="patrol-migrations-") as tmp:
        target = url or f"sqlite:///{Path(tmp) / 'scratch.sqlite'}"
        migrate(target, "heads")
        engine = open_engine(target, create=False)
        try:
            with engine.begin() as conn:
                yield conn
        finally:
            engine.dispose()


def _tidy(path: Path) -> None:
    # Alembic renders long lines and unused imports; the repository's ruff settings apply to revisions too.
    for args in (["format", str(path)], ["check", "--fix", "--quiet", str(path)]):
        subprocess.run([sys.executable, "-m", "ruff", *args], check=False)


def cmd_revision(message: str, url: str | None, empty: bool) -> int:
    with scratch_at_head(url) as conn:
        diff = schema_diff(conn)
        if not diff and not empty:
            print("the migrations already match the table definitions; nothing to write "
                  "(use --empty for a hand-written data migration)")
            return 0
        cfg = alembic_config(connection=conn)
        script = command.revision(cfg, message=message, autogenerate=not empty)
    scripts = script if isinstance(script, list) else [script]
    for s in scripts:
        if s is not None:
            path = Path(s.path)
            _tidy(path)
            print(f"wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}: "
                  "review it (renames, data, SQLite batch operations), then run the store tests")
    return 0


def cmd_check(url: str | None) -> int:
    with scratch_at_head(url) as conn:
        diff = schema_diff(conn)
    if not diff:
        print("ok: the migrations match the table definitions")
        return 0
    print("the table definitions differ from what the migrations build:")
    for line in describe_diff(diff):
        print(f"  {line}")
    print('write a revision: python -m collector.store.migrations revision "what changed"')
    return 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m collector.store.migrations", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision", help="write a migration for what changed in the table definitions")
    rev.add_argument("message")
    rev.add_argument("--empty", action="store_true", help="an empty revision to fill in by hand")
    rev.add_argument("--url", help="an EMPTY scratch database to compare on (default: SQLite in a temp folder)")
    chk = sub.add_parser("check", help="exit 1 when the table definitions need a new revision")
    chk.add_argument("--url", help="an EMPTY scratch database to compare on (default: SQLite in a temp folder)")
    sub.add_parser("heads", help="print the newest revision(s)")
    args = ap.parse_args(argv)
    if args.cmd == "revision":
        return cmd_revision(args.message, args.url, args.empty)
    if args.cmd == "check":
        return cmd_check(args.url)
    script = script_directory(MIGRATIONS_DIR)
    for head in script.get_heads():
        rev_ = script.get_revision(head)
        print(f"{head} {rev_.doc if rev_ else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

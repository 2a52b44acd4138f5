"""``negforge publish`` against a loopback fake of the Hub (127.0.0.1 only, bounded requests)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fake_hub import FakeHub
from sample_output import write_sample_output

from negforge.pipeline import publish as pub
from negforge.pipeline.cli import main
from negforge.pipeline.manifest import read_manifest

TOKEN = "hf_fAkEtOkEn0123456789secret"
REPO = "acme/coco-negs"


@pytest.fixture
def hub_env(monkeypatch, tmp_path):
    """Online mode, no stored token, quiet progress bars, no proxy for loopback."""
    import huggingface_hub.constants as constants
    from huggingface_hub.utils import disable_progress_bars

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-such-token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "no-such-tokens"))
    for var in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    disable_progress_bars()
    # Retries in tests wait ~0 s.
    monkeypatch.setattr(pub.PublishConfig, "__init__", _fast_backoff(pub.PublishConfig.__init__))
    return monkeypatch


def _fast_backoff(init):
    def wrapped(self, *args, **kwargs):
        kwargs.setdefault("backoff_s", 0.0)
        init(self, *args, **kwargs)

    return wrapped


@pytest.fixture
def out(tmp_path) -> Path:
    folder = tmp_path / "out"
    write_sample_output(folder)
    return folder


def _local_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in (".parquet", ".json", ".md") and not p.name.startswith(".")
    }


def test_publish_creates_repo_and_uploads_the_folder(hub_env, out, tmp_path, capsys, caplog):
    hub_env.setenv("HF_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    (out / "data" / ".tmp-0123-train-00000-of-00002.parquet").write_bytes(b"half a shard")
    with FakeHub(token=TOKEN) as hub:
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint])
        assert rc == 0
        remote = hub.files(REPO)
        repo = hub.repos[("dataset", REPO)]
        requests = list(hub.requests)
        auth = set(hub.auth_headers)

    local = _local_files(out)
    assert remote == local  # every byte arrived, nothing else did
    assert sorted(remote) == [
        "README.md",
        "data/train-00000-of-00002.parquet",
        "data/train-00001-of-00002.parquet",
        "data/validation-00000-of-00001.parquet",
        "errors/errors-00000-of-00001.parquet",
        "manifest.json",
    ]
    assert 'load_dataset("acme/coco-negs")' in remote["README.md"].decode()
    assert repo.private is False and len(repo.commits) == 1
    manifest = read_manifest(str(out))
    assert f"config {manifest.config_hash}, 14 records" in repo.commits[0]["summary"]
    assert auth == {f"Bearer {TOKEN}"}
    assert all(status < 400 for _, _, status in requests) and len(requests) <= 10

    printed = capsys.readouterr().out
    assert "uploaded 6 files" in printed and f"{hub.endpoint}/datasets/{REPO}" in printed
    assert TOKEN not in printed and TOKEN not in caplog.text

    # The repo is Hub-ready: the uploaded files load with the right splits.
    datasets = pytest.importorskip("datasets")
    mirror = tmp_path / "mirror"
    for rel, content in remote.items():
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(content)
    ds = datasets.load_dataset(str(mirror), cache_dir=str(tmp_path / "cache"))
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 10, "validation": 4}


def test_retry_after_injected_500(hub_env, out):
    hub_env.setenv("HF_TOKEN", TOKEN)
    with FakeHub(token=TOKEN) as hub:
        hub.fail_next("POST", r"^/api/repos/create$", status=500)
        hub.fail_next("POST", r"/commit/", status=503)  # the commit call's own retry absorbs it
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint])
        assert rc == 0
        assert hub.count("POST", r"^/api/repos/create$") == 2
        assert [s for m, p, s in hub.requests if p == "/api/repos/create"] == [500, 200]
        assert sorted(hub.files(REPO)) == sorted(_local_files(out))


def test_gives_up_after_max_attempts(hub_env, out, capsys):
    hub_env.setenv("HF_TOKEN", TOKEN)
    with FakeHub(token=TOKEN) as hub:
        hub.fail_next("POST", r"^/api/repos/create$", status=502, times=10)
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint, "--max-attempts", "3"])
        assert rc == 1
        assert hub.count("POST", r"^/api/repos/create$") == 3
        assert hub.repos == {}
    assert "HTTP 502" in capsys.readouterr().out


def test_refuses_without_token_and_sends_nothing(hub_env, out, capsys):
    with FakeHub(token=TOKEN) as hub:
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint])
        assert rc == 1
        assert hub.requests == []
    assert "no Hugging Face token" in capsys.readouterr().out


def test_wrong_token_fails_fast_without_leaking_it(hub_env, out, capsys, caplog):
    wrong = "hf_wrongtoken_should_never_print"
    hub_env.setenv("HF_TOKEN", wrong)
    with FakeHub(token=TOKEN) as hub:
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint])
        assert rc == 1
        assert hub.count("POST", "/api/repos/create") == 1  # 401 is not retried
    printed = capsys.readouterr().out
    assert "HTTP 401" in printed
    assert wrong not in printed and wrong not in caplog.text


@pytest.mark.parametrize("repo_id", ["coco-negs", "acme/a/b", "acme/a--b", "acme/x.git", "-acme/x", "acme/ x", ""])
def test_bad_repo_id_is_rejected_before_any_request(hub_env, out, repo_id, capsys):
    hub_env.setenv("HF_TOKEN", TOKEN)
    with FakeHub(token=TOKEN) as hub:
        rc = main(["publish", str(out), f"--repo-id={repo_id}", "--endpoint", hub.endpoint])
        assert rc == 2
        assert hub.requests == []
    assert "repo_id must be 'ORG/NAME'" in capsys.readouterr().out


def test_dry_run_writes_and_sends_nothing(hub_env, out, capsys):
    before = _local_files(out)
    with FakeHub(token=TOKEN) as hub:
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint, "--dry-run"])
        assert rc == 0
        assert hub.requests == []
    assert _local_files(out) == before and not (out / "README.md").exists()
    printed = capsys.readouterr().out
    assert "would upload 6 files" in printed
    assert "data/validation-00000-of-00001.parquet" in printed and "README.md" in printed


def test_republish_removes_stale_shards_and_skips_unchanged(hub_env, tmp_path):
    hub_env.setenv("HF_TOKEN", TOKEN)
    first = tmp_path / "first"
    write_sample_output(first, {"train": (10, 2), "validation": (4, 1)})
    second = tmp_path / "second"
    write_sample_output(second, {"train": (10, 1), "validation": (4, 1)})
    with FakeHub(token=TOKEN) as hub:
        config = dict(repo_id=REPO, endpoint=hub.endpoint)
        pub.publish(pub.PublishConfig(output_dir=str(first), **config))
        result = pub.publish(pub.PublishConfig(output_dir=str(second), **config))
        remote = hub.files(REPO)
        commits = hub.repos[("dataset", REPO)].commits
        assert len(commits) == 2
    second_ops = dict((path, key) for key, path in commits[1]["ops"])
    assert second_ops["data/train-00000-of-00002.parquet"] == "deletedFile"
    assert second_ops["data/train-00001-of-00002.parquet"] == "deletedFile"
    assert second_ops["data/train-00000-of-00001.parquet"] == "file"
    # Byte-identical files are not re-sent.
    assert "data/validation-00000-of-00001.parquet" not in second_ops
    assert sorted(p for p in remote if p.startswith("data/")) == [
        "data/train-00000-of-00001.parquet",
        "data/validation-00000-of-00001.parquet",
    ]
    assert remote == _local_files(second)
    assert result.commit_url and result.commit_url.startswith(hub.endpoint)


def test_revision_creates_branch_and_private_repo(hub_env, out):
    hub_env.setenv("HF_TOKEN", TOKEN)
    with FakeHub(token=TOKEN) as hub:
        rc = main(["publish", str(out), "--repo-id", REPO, "--endpoint", hub.endpoint,
                   "--revision", "v1", "--private", "--license", "mit"])
        assert rc == 0
        repo = hub.repos[("dataset", REPO)]
        assert repo.private is True
        assert repo.branches["main"] == {}
        assert sorted(repo.branches["v1"]) == sorted(_local_files(out))
        assert b"license: mit" in repo.branches["v1"]["README.md"]


def test_lfs_upload_path(hub_env, out):
    """With xet off, huggingface_hub sends parquet through the LFS batch API: objects must arrive intact."""
    import huggingface_hub.constants as constants

    hub_env.setattr(constants, "HF_HUB_DISABLE_XET", True)
    with FakeHub(token=TOKEN, lfs_suffixes=(".parquet",)) as hub:
        pub.publish(pub.PublishConfig(output_dir=str(out), repo_id=REPO, endpoint=hub.endpoint), token=TOKEN)
        repo = hub.repos[("dataset", REPO)]
        assert repo.lfs_paths == {p for p in _local_files(out) if p.endswith(".parquet")}
        assert hub.files(REPO) == _local_files(out)
        assert hub.count("PUT", "^/_lfs/") == 4


def test_not_a_build_folder(hub_env, tmp_path, capsys):
    rc = main(["publish", str(tmp_path), "--repo-id", REPO, "--dry-run"])
    assert rc == 1
    assert "not a negforge build output: no manifest.json" in capsys.readouterr().out


def test_manifest_of_another_format_or_stale_shards_are_refused(hub_env, out, capsys):
    """Nothing is sent when the folder's manifest is not one this negforge reads, or disagrees with data/."""
    import json

    manifest_path = out / "manifest.json"
    good = manifest_path.read_text()
    old = json.loads(good)
    old["counts"]["by_stage"] = old["counts"].pop("dead_lettered_by_stage")  # a key the manifest never writes
    manifest_path.write_text(json.dumps(old))
    assert main(["publish", str(out), "--repo-id", REPO, "--dry-run"]) == 1
    assert "unknown 'counts.by_stage'" in capsys.readouterr().out

    manifest_path.write_text(good)
    (out / "data" / "validation-00000-of-00001.parquet").unlink()
    assert main(["publish", str(out), "--repo-id", REPO, "--dry-run"]) == 1
    printed = capsys.readouterr().out
    assert "records per split {'train': 10, 'validation': 4}" in printed and "hold {'train': 10}" in printed


def test_with_retries_backoff_schedule_and_non_retryable():
    class Response:
        def __init__(self, status):
            self.status_code = status

    class HttpError(Exception):
        def __init__(self, status):
            super().__init__(f"status {status}")
            self.response = Response(status)

    waits: list[float] = []
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise HttpError(503)
        return "ok"

    assert pub.with_retries("x", flaky, max_attempts=5, backoff_s=1.0, max_backoff_s=3.0, sleep=waits.append) == "ok"
    assert len(waits) == 3
    for wait, base in zip(waits, [1.0, 2.0, 3.0], strict=True):  # doubles, capped, ±25 % jitter
        assert 0.75 * base <= wait <= 1.25 * base

    def forbidden():
        calls.append(1)
        raise HttpError(403)

    calls.clear()
    with pytest.raises(HttpError):
        pub.with_retries("x", forbidden, max_attempts=5, backoff_s=0, max_backoff_s=0, sleep=waits.append)
    assert len(calls) == 1
    assert pub.is_retryable(ConnectionResetError()) and not pub.is_retryable(ValueError())


def test_config_validation():
    with pytest.raises(ValueError, match="max_attempts must be >= 1"):
        pub.PublishConfig(output_dir="x", repo_id=REPO, max_attempts=0)
    with pytest.raises(ValueError, match="output_dir must be"):
        pub.PublishConfig(output_dir="", repo_id=REPO)

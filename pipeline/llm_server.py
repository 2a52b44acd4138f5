"""Lifecycle of a vLLM OpenAI-compatible server owned by this process.

Why not Beam's own ``_VLLMModelServer``: it starts ``sys.executable -m vllm...``,
but vLLM lives in its own virtualenv here (``.venv-llm``; see
scripts/setup_llm_env.sh), and it stops only the server's main process, while
vLLM forks an engine-core child that then outlives the pipeline.

A server here runs from any interpreter, in its own session (process group),
under a small watchdog that stops the group when the process that started it
dies — also by SIGKILL, when no ``teardown`` or ``atexit`` runs. ``stop`` kills
the whole group; every live server is registered, so DoFn teardown, ``atexit``
and tests can shut them down. A finished or failed pipeline leaks no server.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerSpec:
    """Everything needed to start (or reach) one server; hashable, so it keys the registry."""

    model: str  # HF model path or name, passed as --model
    python: str  # interpreter of the virtualenv that has vLLM
    args: tuple[str, ...] = ()  # extra `vllm serve` arguments
    env: tuple[tuple[str, str], ...] = ()  # extra environment for the server
    startup_timeout_s: float = 600.0  # give up (and kill it) after this long
    url: str | None = None  # an already-running server: use it, start nothing

    def __post_init__(self) -> None:
        if self.startup_timeout_s <= 0:
            raise ValueError(f"startup_timeout_s must be > 0, got {self.startup_timeout_s!r}")


#: Runs as the group leader, in the server's own interpreter (stdlib only): starts the
#: server as its child, forwards SIGTERM to it, and stops the whole group when its own
#: parent (the worker that started it) is gone. argv: parent pid, then the command.
WATCHDOG = r"""
import os, signal, subprocess, sys, time
parent, cmd = int(sys.argv[1]), sys.argv[2:]
child = subprocess.Popen(cmd)
def stop(*_):
    try:
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=20)
    except Exception:
        pass
    os.killpg(0, signal.SIGKILL)
signal.signal(signal.SIGTERM, stop)
while child.poll() is None:
    if os.getppid() != parent:
        stop()
    time.sleep(0.5)
sys.exit(child.returncode)
"""


def spawn_watched(python: str, cmd: Sequence[str], env: Mapping[str, str], log_path: Path) -> subprocess.Popen:
    """Start ``cmd`` under :data:`WATCHDOG` in a new session; output goes to ``log_path``.

    The new session makes the watchdog the leader of its own process group, so
    ``os.killpg`` reaches the server and the engine-core processes it forks.
    """
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [python, "-c", WATCHDOG, str(os.getpid()), *cmd],
            stdout=out, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True,
        )  # fmt: skip


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def default_server_env(python: str) -> dict[str, str]:
    """vLLM settings that must not fall back to ~/.cache or a huge CPU KV cache."""
    venv = Path(python).absolute().parent.parent if Path(python).exists() else None  # symlink kept
    env = {
        "VLLM_CONFIGURE_LOGGING": "1",
        "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1"),
        "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1"),
        "TOKENIZERS_PARALLELISM": "false",
    }
    if "VLLM_CACHE_ROOT" in os.environ:
        env["VLLM_CACHE_ROOT"] = os.environ["VLLM_CACHE_ROOT"]
    elif venv is not None:
        env["VLLM_CACHE_ROOT"] = str(Path(python).parent.parent / "vllm-cache")
    return env


@dataclass
class VLLMServer:
    """One ``vllm.entrypoints.openai.api_server`` process group."""

    spec: ServerSpec
    port: int = -1
    process: subprocess.Popen | None = None
    log_path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def base_url(self) -> str:
        if self.spec.url is not None:
            return self.spec.url.rstrip("/")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def start(self) -> VLLMServer:
        with self._lock:
            if self.spec.url is not None or (self.process is not None and self.process.poll() is None):
                return self
            self.port = _free_port()
            cmd = [
                self.spec.python, "-m", "vllm.entrypoints.openai.api_server",
                "--model", self.spec.model,
                "--host", "127.0.0.1",
                "--port", str(self.port),
                *self.spec.args,
            ]  # fmt: skip
            env = {**os.environ, **default_server_env(self.spec.python), **dict(self.spec.env)}
            fd, log = tempfile.mkstemp(prefix="negforge-vllm-", suffix=".log")
            os.close(fd)
            self.log_path = Path(log)
            logger.info("starting vLLM server: %s (log %s)", " ".join(cmd), log)
            self.process = spawn_watched(self.spec.python, cmd, env, self.log_path)
            _LIVE[id(self)] = self
            _register_atexit()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _log_tail(self, n: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-n:]

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.spec.startup_timeout_s
        url = f"{self.base_url}/v1/models"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"vLLM server exited with code {self.process.returncode} during startup:\n"
                    f"{self._log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200 and json.loads(resp.read()).get("data"):
                        logger.info("vLLM server ready at %s (pid %s)", self.base_url, self.pid)
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                pass
            time.sleep(1.0)
        raise TimeoutError(
            f"vLLM server not ready after {self.spec.startup_timeout_s:.0f} s:\n{self._log_tail()}"
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """Terminate the whole process group; SIGKILL what is left after ``timeout_s``."""
        with self._lock:
            proc, self.process = self.process, None
            _LIVE.pop(id(self), None)
        if proc is None:
            return
        if proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 10.0)):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # The group may still hold children after the leader exited.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        logger.info("vLLM server pid %s stopped", proc.pid)
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    def check_alive(self) -> None:
        """Raise (with the log's tail) when a server this process started has died."""
        if self.spec.url is None and (self.process is None or self.process.poll() is not None):
            raise RuntimeError(f"vLLM server for {self.spec.model} is not running:\n{self._log_tail()}")


#: Servers started by this process and not yet stopped (id -> server).
_LIVE: dict[int, VLLMServer] = {}
#: One shared server per spec per process, with a reference count.
_SHARED: dict[ServerSpec, tuple[VLLMServer, int]] = {}
_SHARED_LOCK = threading.Lock()


def acquire(spec: ServerSpec) -> VLLMServer:
    """The process's server for ``spec``, started on first use; pair with :func:`release`."""
    with _SHARED_LOCK:
        server, refs = _SHARED.get(spec, (None, 0))
        if server is None or (spec.url is None and server.process is None):
            server = VLLMServer(spec)
            refs = 0
        _SHARED[spec] = (server, refs + 1)
    return server.start()


def release(spec: ServerSpec) -> None:
    """Drop one reference; the last one stops the server."""
    with _SHARED_LOCK:
        server, refs = _SHARED.get(spec, (None, 0))
        if server is None:
            return
        if refs > 1:
            _SHARED[spec] = (server, refs - 1)
            return
        del _SHARED[spec]
    server.stop()


def live_pids() -> list[int]:
    """Process ids of servers this process started and has not stopped (for tests)."""
    return [s.pid for s in list(_LIVE.values()) if s.pid is not None]


def shutdown_all() -> None:
    """Stop every server this process started (atexit, test teardown)."""
    with _SHARED_LOCK:
        _SHARED.clear()
    for server in list(_LIVE.values()):
        server.stop()


_ATEXIT_REGISTERED: list[bool] = []


def _register_atexit() -> None:
    """Stop leftover servers when the interpreter exits (registered on first start)."""
    if not _ATEXIT_REGISTERED:
        atexit.register(shutdown_all)
        _ATEXIT_REGISTERED.append(True)


def server_args(
    dtype: str,
    max_model_len: int | None,
    enforce_eager: bool,
    seed: int,
    extra: Sequence[str] = (),
) -> tuple[str, ...]:
    """`vllm serve` flags matching the in-process engine's settings."""
    args = [
        "--dtype", dtype,
        "--seed", str(seed),
        "--structured-outputs-config",
        json.dumps({"backend": "xgrammar", "disable_any_whitespace": True}),
    ]  # fmt: skip
    if max_model_len is not None:
        args += ["--max-model-len", str(max_model_len)]
    if enforce_eager:
        args.append("--enforce-eager")
    return tuple(args) + tuple(extra)


def env_items(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(env.items()))

"""One sandbox per directory: an exclusive lock that names the process holding it.

`sandbox up` (and `demo`) hold ``DIR/sandbox.lock`` (flock) for as long as they run, with
their pid written in it. A second one on the same directory is refused with that pid;
`sandbox down --dir DIR` signals it. The kernel releases the lock when the process ends,
however it ends, so a stale file never blocks a new sandbox.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO


class AlreadyRunningError(RuntimeError):
    def __init__(self, workdir: Path, pid: int | None) -> None:
        who = f" (pid {pid})" if pid else ""
        super().__init__(f"a sandbox is already running in {workdir}{who}: use it (export "
                         f"KUBECONFIG={workdir / 'kubeconfig'}) or stop it with "
                         f"`modelops sandbox down --dir {workdir}`")
        self.pid = pid


def _path(workdir: Path) -> Path:
    return workdir / "sandbox.lock"


def _pid_in(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(path.read_text().strip() or "0") or None
    return None


class SandboxLock:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        handle = _path(self.workdir).open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise AlreadyRunningError(self.workdir, _pid_in(_path(self.workdir))) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.truncate(0)
            self._file.close()  # closing the descriptor drops the flock
            self._file = None


def holder(workdir: Path) -> int | None:
    """The pid of the sandbox running in `workdir`, or None when none is."""
    path = _path(workdir)
    if not path.exists():
        return None
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(path) or None
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None


SERVICE_NETWORKS = ("127.0.2.0/24", *(f"127.0.{third}.0/24" for third in range(254, 200, -1)))


class NetworkClaim:
    """A service network (ClusterIP range) for this sandbox alone on this machine.

    The first sandbox gets 127.0.2.0/24; one started while it runs gets 127.0.254.0/24, and so
    on down, so two sandboxes never both listen on the same ClusterIP:port. Held by a flock in
    the temporary folder, released when the sandbox stops or its process ends.
    """

    def __init__(self) -> None:
        self.network = ""
        self._file: IO[str] | None = None

    def acquire(self) -> str:
        import tempfile

        for network in SERVICE_NETWORKS:
            path = Path(tempfile.gettempdir()) / f"modelops-sandbox-{network.replace('/', '-')}.lock"
            handle = path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self._file, self.network = handle, network
            return network
        raise RuntimeError(f"every sandbox service network is in use ({len(SERVICE_NETWORKS)} sandboxes)")

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

"""One job per output folder: an OS lock on ``<out>/.blurkit.lock`` held for the whole run.

A second run on the same folder is refused while the first is alive (:class:`JobLocked`); the OS
releases the lock when its holder dies, so a lock file left by a killed run is taken over.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

LOCK_FILE = ".blurkit.lock"


class JobLocked(ValueError):
    """Another live ``blurkit`` job holds the output folder's lock."""


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class JobLock:
    """An OS lock on an output folder, held for the run: ``<out>/.blurkit.lock`` holds the owner's PID.

    An unsharded run holds it exclusively; shard runs hold it shared (shards of one job may write one
    folder at the same time) plus an exclusive lock of their own shard. The OS releases the locks when
    the process dies, so a lock file left by a dead process is stale and taken over. Where the file
    system has no locks (``fcntl`` missing), the PID written in the file is checked instead.
    """

    def __init__(self, out: Path, shard: tuple[int, int] | None = None) -> None:
        self.out = out
        self.shard = shard
        self._files: list[tuple[Path, int]] = []

    def _take(self, path: Path, exclusive: bool) -> None:
        import fcntl

        while True:
            try:  # never through a symbolic link: the lock file is truncated and written
                fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    raise ValueError(f"{path}: the lock file is a symbolic link; remove it") from None
                raise
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_pid(fd)
                os.close(fd)
                self.release()
                who = f" (PID {owner})" if owner else ""
                raise JobLocked(
                    f"{self.out}: another blurkit job{who} is writing this folder; wait for it to finish "
                    "or use another --out"
                ) from None
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                    return  # no locks on this file system: run unlocked
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # removed by its previous owner meanwhile: take the new one
                os.close(fd)
                continue
            if exclusive:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            self._files.append((path, fd))
            return

    def acquire(self) -> JobLock:
        try:
            import fcntl  # noqa: F401
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_by_pid()
        self._take(self.out / LOCK_FILE, exclusive=self.shard is None)
        if self.shard is not None:
            self._take(self.out / f".blurkit.shard-{self.shard[0]}-of-{self.shard[1]}.lock", exclusive=True)
        return self

    def _acquire_by_pid(self) -> JobLock:  # pragma: no cover - Windows
        path = self.out / LOCK_FILE
        try:
            owner = int(path.read_text().strip() or 0)
        except (OSError, ValueError):
            owner = 0
        if owner and owner != os.getpid() and pid_alive(owner):
            raise JobLocked(f"{self.out}: another blurkit job (PID {owner}) is writing this folder")
        path.write_text(f"{os.getpid()}\n")
        self._files.append((path, -1))
        return self

    def release(self) -> None:
        for path, fd in reversed(self._files):
            if fd < 0:  # pragma: no cover - Windows
                path.unlink(missing_ok=True)
                continue
            import fcntl

            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # last holder: remove the file
                path.unlink(missing_ok=True)
            except OSError:
                pass
            os.close(fd)
        self._files = []

    def __enter__(self) -> JobLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_pid(fd: int) -> int:
    try:
        return int(os.pread(fd, 32, 0).decode().strip() or 0)
    except (OSError, ValueError):
        return 0


__all__ = ["LOCK_FILE", "JobLock", "JobLocked", "pid_alive"]

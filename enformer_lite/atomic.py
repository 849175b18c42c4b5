"""Write outputs under a temporary name and rename them only when complete.

Every writer goes through :func:`atomic_output` (one file) or :func:`atomic_directory`
(a directory of files): the output appears only when complete, and a failed write --
a full disk, a read-only file system, a directory without write permission -- removes
the temporary and raises an :class:`OSError` that names the *final* path, which the
command line reports in one paragraph (:func:`enformer_lite.cli.common.os_error_message`).

Two C libraries crash the whole process instead of raising when the disk fills up, so
their outputs are written through guards here:

* HDF5 (h5py): a dataset or file close that fails to flush leaves its id registered
  with freed memory behind it, and the library's exit handler segfaults on it
  (h5py issue 914). :func:`h5_output` opens the file through :class:`SpillFile`,
  which never lets a write fail inside HDF5: after the first failed write it keeps
  the file's later writes in memory (bounded, see :data:`SPILL_LIMIT`), so every
  close succeeds, and the error is raised afterwards -- or at the next dataset lookup.
* libBigWig (pyBigWig): a failed ``fwrite`` ends in a double free. :func:`staged_bigwig`
  lets it write into memory and copies the finished file into place from Python.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from enformer_lite.errors import InputError

if TYPE_CHECKING:
    import h5py

SPILL_PAGE = 1 << 16
"""Granularity (bytes) of the in-memory pages of a :class:`SpillFile` after a failed write."""
SPILL_LIMIT = 64 << 20
"""Most bytes a :class:`SpillFile` keeps in memory after a failed write; later writes are dropped."""


def _rename_in_error(err: BaseException, tmp: Path, final: Path) -> None:
    """Make an :class:`OSError` about ``tmp`` (or a file inside it) name ``final`` instead."""
    if not isinstance(err, OSError):
        return
    name = err.filename
    if name is None:
        err.filename = str(final)
        return
    try:
        relative = Path(os.fsdecode(name)).relative_to(tmp)
    except (TypeError, ValueError):
        return
    err.filename = str(final / relative) if relative.parts else str(final)


def _remove(path: Path) -> None:
    """Remove a temporary file or directory; a failure to do so must not hide the original error."""
    with contextlib.suppress(OSError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


TMP_MARK = ".tmp"
MANIFEST = ".enformer-lite-output"
"""Written into every output directory: the files enformer-lite put there. Only a directory with
it, holding nothing else, is ever replaced; any other existing directory is refused."""


def _tmp_prefix(final: Path) -> str:
    return f".{final.name}{TMP_MARK}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_temporaries(final: Path) -> list[Path]:
    """Remove temporaries of ``final`` left by a killed process (``.NAME.tmpPID...`` whose PID is gone).

    A process killed hard (SIGKILL, a node failure) runs no cleanup; the next run of the same
    output removes what it left. Temporaries of live processes are kept. Returns what was removed.
    """
    removed = []
    prefix = _tmp_prefix(final)
    with contextlib.suppress(OSError):
        for candidate in final.parent.iterdir():
            digits = candidate.name[len(prefix):].split(".", 1)[0] if candidate.name.startswith(prefix) else ""
            if digits.isdigit() and int(digits) != os.getpid() and not _pid_alive(int(digits)):
                _remove(candidate)
                removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched,
    so a failed step never leaves a half-written output behind; an :class:`OSError`
    about the temporary is re-labelled with ``path``. Stale temporaries of ``path`` from
    killed runs are removed first (:func:`clean_stale_temporaries`).
    """
    final = Path(path)
    tmp = final.with_name(f"{_tmp_prefix(final)}{os.getpid()}")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(final)
        yield tmp
        os.replace(tmp, final)
    except BaseException as err:
        _rename_in_error(err, tmp, final)
        raise
    finally:
        _remove(tmp)


def check_replaceable(path: str | os.PathLike[str]) -> None:
    """Raise InputError unless ``path`` may be replaced by an output directory.

    Allowed: a path that does not exist, an empty directory, or a directory enformer-lite wrote
    (its :data:`MANIFEST` lists every file in it). Refused, with the reason: the working
    directory or one of its parents, a file, a directory without the manifest, or one holding
    files the manifest does not list (added by someone else).
    """
    final = Path(path)
    if not final.exists() and not final.is_symlink():
        return
    resolved = final.resolve()
    if resolved == Path.cwd().resolve() or resolved in Path.cwd().resolve().parents:
        raise InputError(f"{final}: refused as an output directory: it is the working directory or one of its "
                         "parents, and writing there would replace everything in it; name a new directory")
    if not final.is_dir() or final.is_symlink():
        raise InputError(f"{final}: refused as an output directory: it exists and is not a directory")
    present = {p.relative_to(final).as_posix() for p in final.rglob("*") if not p.is_dir()}
    if not present:
        return
    manifest = final / MANIFEST
    if not manifest.is_file():
        raise InputError(f"{final}: refused as an output directory: it holds {len(present)} file(s) that "
                         f"enformer-lite did not write (no {MANIFEST}); name a new directory or empty this one yourself")
    listed = set(manifest.read_text().split("\n")) | {MANIFEST}
    foreign = sorted(present - listed)
    if foreign:
        raise InputError(f"{final}: refused to replace it: it holds file(s) enformer-lite did not write: "
                         f"{', '.join(foreign[:5])}{', ...' if len(foreign) > 5 else ''}; move them away first")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; it replaces ``path`` on success.

    ``path`` must be replaceable (:func:`check_replaceable`, checked before any work and again
    before the swap); the new directory gets a :data:`MANIFEST` of its files. On any exception
    the temporary directory is removed and ``path`` is left untouched; an :class:`OSError` about
    a file in the temporary names the file under ``path``.
    """
    final = Path(path)
    check_replaceable(final)
    tmp: Path | None = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        clean_stale_temporaries(final)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(final)}{os.getpid()}.", dir=final.parent))
        yield tmp
        files = sorted(p.relative_to(tmp).as_posix() for p in tmp.rglob("*") if not p.is_dir())
        (tmp / MANIFEST).write_text("\n".join(files) + "\n")
        check_replaceable(final)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as err:
        if tmp is not None:
            _rename_in_error(err, tmp, final)
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


class SpillFile:
    """A binary file for h5py's ``fileobj`` driver whose writes never fail.

    Reads and writes go straight to the file until a write fails (``ENOSPC``, ``EIO``,
    ...). From then on the file's later writes are kept in memory pages, read back from
    there, and never written (beyond :data:`SPILL_LIMIT` bytes they are dropped), so
    HDF5 can finish and close cleanly; :meth:`raise_error` then raises the first error,
    naming the file. The file on disk is incomplete after an error: remove it.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.error: OSError | None = None
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o666)
        self._pos = 0
        self._size = 0
        self._pages: dict[int, bytearray] = {}
        self.closed = False

    def _fail(self, err: OSError) -> None:
        if self.error is None:
            self.error = err
            self._size = os.fstat(self._fd).st_size

    def _page(self, index: int) -> bytearray | None:
        """Spilled page ``index``, loaded from disk on first use (None once over the limit)."""
        page = self._pages.get(index)
        if page is None and len(self._pages) * SPILL_PAGE < SPILL_LIMIT:
            try:
                page = bytearray(os.pread(self._fd, SPILL_PAGE, index * SPILL_PAGE))
            except OSError:
                page = bytearray()
            page.extend(bytes(SPILL_PAGE - len(page)))
            self._pages[index] = page
        return page

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (as :meth:`io.RawIOBase.seek`)."""
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._end()}[whence]
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        """Current position."""
        return self._pos

    def _end(self) -> int:
        return self._size if self.error else os.fstat(self._fd).st_size

    def write(self, data: Any) -> int:
        """Write ``data`` at the position; a failure switches to memory instead of raising."""
        view = memoryview(data).cast("B")
        done = 0
        while self.error is None and done < len(view):
            try:
                done += os.pwrite(self._fd, view[done:], self._pos + done)
            except OSError as err:
                self._fail(err)
        if done < len(view):
            self._spill(view[done:], self._pos + done)
        self._pos += len(view)
        return len(view)

    def _spill(self, view: memoryview, offset: int) -> None:
        end = offset + len(view)
        self._size = max(self._size, end)
        while offset < end:
            index, within = divmod(offset, SPILL_PAGE)
            n = min(SPILL_PAGE - within, end - offset)
            page = self._page(index)
            if page is not None:
                page[within : within + n] = view[:n]
            view, offset = view[n:], offset + n

    def readinto(self, buffer: Any) -> int:
        """Read into ``buffer`` from the position; returns the bytes read (short at the end)."""
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._end() - self._pos))
        if self.error is None:
            n = os.preadv(self._fd, [view[:n]], self._pos) if n else 0
        else:
            offset, done = self._pos, 0
            while done < n:
                index, within = divmod(offset + done, SPILL_PAGE)
                k = min(SPILL_PAGE - within, n - done)
                page = self._pages.get(index)
                if page is None:
                    chunk = os.pread(self._fd, k, offset + done)
                    chunk += bytes(k - len(chunk))
                else:
                    chunk = bytes(page[within : within + k])
                view[done : done + k] = chunk
                done += k
        self._pos += n
        return n

    def read(self, size: int = -1) -> bytes:
        """Read up to ``size`` bytes (all to the end when negative)."""
        size = self._end() - self._pos if size < 0 else size
        buffer = bytearray(max(0, size))
        return bytes(buffer[: self.readinto(buffer)])

    def truncate(self, size: int | None = None) -> int:
        """Set the file's length to ``size`` (default: the position)."""
        size = self._pos if size is None else size
        if self.error is None:
            try:
                os.ftruncate(self._fd, size)
            except OSError as err:
                self._fail(err)
        if self.error is not None:
            self._size = size
        return size

    def flush(self) -> None:
        """Nothing is buffered: writes go to the file (or to memory after an error)."""

    def close(self) -> None:
        """Close the file (idempotent); a failure is kept for :meth:`raise_error`."""
        if self.closed:
            return
        self.closed = True
        self._pages.clear()
        try:
            os.close(self._fd)
        except OSError as err:
            if self.error is None:
                self.error = err

    def raise_error(self) -> None:
        """Raise the first failure as an :class:`OSError` naming the file, if there was one."""
        err = self.error
        if err is not None:
            code = err.errno or errno.EIO
            raise OSError(code, os.strerror(code), self.path) from err


_GUARDED_CLASS: list[type] = []


def _guarded_class() -> type:
    """The :class:`h5py.File` subclass behind :func:`h5_output` (h5py imported on first use)."""
    if not _GUARDED_CLASS:
        import h5py

        class GuardedH5File(h5py.File):  # type: ignore[misc]
            """An HDF5 file written through a :class:`SpillFile`; see :func:`h5_output`."""

            def __init__(self, path: str | os.PathLike[str], **kwargs: Any) -> None:
                raw = SpillFile(path)
                try:
                    super().__init__(raw, "w", **kwargs)
                except BaseException:
                    raw.close()
                    raise
                self._spill = raw

            def __getitem__(self, name: Any) -> Any:
                self._spill.raise_error()
                return super().__getitem__(name)

            def close(self) -> None:
                try:
                    super().close()
                finally:
                    self._spill.close()
                self._spill.raise_error()

        _GUARDED_CLASS.append(GuardedH5File)
    return _GUARDED_CLASS[0]


def h5_output(path: str | os.PathLike[str], **kwargs: Any) -> h5py.File:
    """A new HDF5 file at ``path`` (mode ``"w"``; ``kwargs`` as :class:`h5py.File`).

    Unlike ``h5py.File(path, "w")``, a full disk or an I/O error never leaves HDF5 in a
    state that crashes the process: the error is raised as an :class:`OSError` naming
    ``path`` when the file is closed, or already at the next ``h5[name]`` lookup, so a
    long write loop stops early. Use it inside :func:`atomic_output`, which removes the
    incomplete file.
    """
    return _guarded_class()(path, **kwargs)


@contextlib.contextmanager
def staged_bigwig(path: str | os.PathLike[str]) -> Iterator[str]:
    """Yield a file name for ``pyBigWig.open(name, "w")``; the finished file is copied to ``path``.

    libBigWig crashes (double free) when a write fails, so it writes into an anonymous
    in-memory file (Linux ``memfd``) and the result is copied to ``path`` from Python,
    where a full disk is an ordinary :class:`OSError`. Without memfd it writes to
    ``path`` directly. Close the bigWig before the ``with`` block ends.
    """
    if not hasattr(os, "memfd_create") or not os.path.isdir("/proc/self/fd"):
        yield os.fspath(path)
        return
    fd = os.memfd_create("bigwig", os.MFD_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}"
        os.lseek(fd, 0, os.SEEK_SET)
        with open(fd, "rb", closefd=False) as source, open(path, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
    except OSError as err:
        if err.filename is None:  # a failed write or close names no file
            err.filename = os.fspath(path)
        raise
    finally:
        os.close(fd)

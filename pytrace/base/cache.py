"""Where pytrace keeps what it can rebuild: the generated parser, the kernel
feature table (per boot) and BTF name indexes.

``$PYTRACE_CACHE_DIR``, else ``$XDG_CACHE_HOME/pytrace``, else
``~/.cache/pytrace``; under sudo (root with ``SUDO_USER`` set) root's own
``~root/.cache/pytrace`` whatever ``HOME`` and ``XDG_CACHE_HOME`` say, unless
``PYTRACE_CACHE_DIR`` names one. Everything here may be deleted at any time.

pytrace often runs as root, so a directory it keeps files in must be its
own (``trusted_dir``): owned by the effective user, not a symlink, and not
writable by group or others unless sticky. It is created (mode 0700) only
inside a directory owned by the effective user or root that others cannot
write. A directory that fails is not used: one warning, and the run goes
on without it (``cache_dir`` then names a path under /dev/null, where
nothing can be read or written). Files are written by ``write_atomic``:
a fresh name created with O_EXCL|O_NOFOLLOW relative to the opened
directory, then renamed into place, so no symlink is ever followed.
"""
from __future__ import annotations

import os
import stat

#: what ``cache_dir`` gives when the configured directory is refused
NO_CACHE = os.path.join(os.devnull, "pytrace")

_warned: set[str] = set()


def own_home() -> str:
    """The effective user's home: root's own under sudo (``HOME`` may still
    be the invoking user's with ``sudo -E`` or a kept environment)."""
    if os.geteuid() == 0 and os.environ.get("SUDO_USER"):
        import pwd
        return pwd.getpwuid(0).pw_dir
    return os.environ.get("HOME") or os.path.expanduser("~")


def under_sudo() -> bool:
    return os.geteuid() == 0 and bool(os.environ.get("SUDO_USER"))


def cache_dir() -> str:
    path = os.environ.get("PYTRACE_CACHE_DIR")
    if not path:
        base = None if under_sudo() else os.environ.get("XDG_CACHE_HOME")
        path = os.path.join(base or os.path.join(own_home(), ".cache"), "pytrace")
    return path if trusted_dir(path, "cache directory") else NO_CACHE


def _private(st: os.stat_result) -> bool:
    """Others cannot add or replace names in it (or it is sticky, as /tmp)."""
    return not (st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)) or bool(st.st_mode & stat.S_ISVTX)


def _refusal(path: str, st: os.stat_result | None, create: bool) -> str | None:
    """Why ``path`` (``st``: its lstat) may not be used, None when it may."""
    euid = os.geteuid()
    if st is None:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "it is a symbolic link"
    if not stat.S_ISDIR(st.st_mode):
        return "it is not a directory"
    owners = (euid, 0) if create else (euid,)
    if st.st_uid not in owners:
        return f"it belongs to uid {st.st_uid}, not to uid {euid}"
    if not _private(st):
        return "others can write to it"
    return None


def _check(path: str) -> str | None:
    """Create ``path`` if missing (inside a trusted parent); why it cannot be
    used, or None."""
    path = os.path.abspath(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            return "it does not exist"
        why = _check_parent(parent)
        if why:
            return why
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as err:
            return err.strerror
        st = os.lstat(path)
    except OSError as err:
        return err.strerror
    return _refusal(path, st, create=False)


def _check_parent(path: str) -> str | None:
    """A directory that may hold a directory pytrace creates: owned by the
    effective user or root, not writable by others (created if missing)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path)
        if parent == path:
            return "it does not exist"
        why = _check_parent(parent)
        if why:
            return why
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as err:
            return err.strerror
        st = os.stat(path)
    except OSError as err:
        return err.strerror
    why = _refusal(path, st, create=True)
    return f"{path}: {why}" if why else None


def trusted_dir(path: str, what: str = "directory") -> bool:
    """Whether pytrace may keep files in ``path`` (created if missing); warns
    once per directory when not."""
    why = _check(path)
    if why is None:
        return True
    if path not in _warned:
        _warned.add(path)
        import sys
        sys.stderr.write(f"warning: not using the {what} {path}: {why}; running without it\n")
    return False


def _open_dir(path: str) -> int | None:
    """``path`` opened without following a symlink, if it is still ours."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or not _private(st):
        os.close(fd)
        return None
    return fd


def write_atomic(path: str, data: bytes) -> bool:
    """Write ``data`` to ``path`` through a temporary file and a rename, so a
    concurrent reader sees the old file or the new one, never half of one.
    Returns False (and writes nothing) when the directory is not writable
    or not the effective user's own (see ``trusted_dir``)."""
    directory, name = os.path.split(os.path.abspath(path))
    if directory == NO_CACHE or not trusted_dir(directory):
        return False
    dfd = _open_dir(directory)
    if dfd is None:
        return False
    tmp = f".{name}.{os.getpid()}.{os.urandom(6).hex()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o644, dir_fd=dfd)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.rename(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
            return True
        except OSError:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            return False
    except OSError:
        return False
    finally:
        os.close(dfd)


def read_private(path: str) -> bytes | None:
    """A file's bytes, read without following a symlink; None when absent."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb") as f:
            fd = -1
            return f.read()
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)

"""Namespaces: the sandbox's own view of the machine (its users, processes, network, files).

`enter` runs in the launcher, before it forks the template. Started as root it unshares the
namespaces directly; started as any other user it first enters a user namespace (where the kernel
allows unprivileged ones), which grants the capabilities to create the others, so an unprivileged
user gets the same layers. The PID namespace takes effect for the launcher's children: the template
becomes its PID 1, and every job process its descendant.

`build_root` runs in the template (inside the new PID namespace, so the `/proc` it mounts lists only
sandbox processes). It builds a fresh root that holds only what the interpreter needs, bound
read-only (the standard library, the shared libraries its extension modules load, a few device
nodes, time zones), an empty `/tmp` and a new `/proc`, and pivots into it: host processes, run
folders, the trainer's files and the caller's working directory are no longer there to be read.
"""

from __future__ import annotations

import ctypes
import os
import sys

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWUSER = 0x10000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_NOATIME, _MS_NODIRATIME, _MS_BIND = 32, 1024, 2048, 4096
_MS_REC, _MS_PRIVATE, _MS_RELATIME = 16384, 1 << 18, 1 << 21
_MNT_DETACH = 2
_ST_FLAGS_KEPT = {  # statvfs flag -> mount flag a remount must repeat (the kernel locks them)
    os.ST_NOSUID: _MS_NOSUID, os.ST_NODEV: _MS_NODEV, os.ST_NOEXEC: _MS_NOEXEC,
    os.ST_NOATIME: _MS_NOATIME, os.ST_NODIRATIME: _MS_NODIRATIME, os.ST_RELATIME: _MS_RELATIME,
}
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
_PR_CAPBSET_DROP = 24

NAMESPACES = ("pid", "net", "ipc", "uts", "mount")
"""Entered for every sandbox process tree; `user` as well when not started as root."""

SYSTEM_PATHS = ("/lib", "/lib64", "/lib32", "/usr/lib", "/usr/lib64", "/usr/lib32",
                 "/usr/local/lib", "/etc/ld.so.cache", "/etc/localtime", "/usr/share/zoneinfo")
"""Shared libraries that extension modules load (`_hashlib`, `_ctypes`, `_codecs_jp`, ...), the
loader's cache, and time zones (so local time is the host's, as in a plain interpreter)."""
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")
_ROOT_CANDIDATES = ("/mnt", "/media", "/srv", "/opt", "/tmp", "/var")

ROOT_ENTRIES: frozenset[str] | None = None
"""Top-level names of the private root once pivoted (None without one): what the mount probe
expects `/` to hold."""

_libc = ctypes.CDLL(None, use_errno=True)


def _fail(what: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{what}: {os.strerror(code)}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def enter(enabled: bool) -> tuple[list[str], dict[str, str]]:
    """Unshare what the kernel allows: (namespaces entered, {namespace: why it is missing})."""
    if not enabled:
        return [], {name: "disabled (ExecutorConfig.namespaces=False)" for name in NAMESPACES}
    entered: list[str] = []
    if os.geteuid() != 0:
        uid, gid = os.getuid(), os.getgid()
        if _libc.unshare(_CLONE_NEWUSER) != 0:
            refused = _fail("unshare").strerror
            why = f"not root, and the kernel refuses an unprivileged user namespace ({refused})"
            return [], {name: why for name in ("user", *NAMESPACES)}
        # One identity, mapped to itself: files keep their owners, nothing maps to host root.
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
        entered.append("user")
    missing: dict[str, str] = {}
    for flag, name in ((_CLONE_NEWPID, "pid"), (_CLONE_NEWNET, "net"), (_CLONE_NEWIPC, "ipc"),
                       (_CLONE_NEWUTS, "uts"), (_CLONE_NEWNS, "mount")):
        if _libc.unshare(flag) == 0:
            entered.append(name)
        else:
            missing[name] = f"unshare refused: {_fail('unshare').strerror}"
    return entered, missing


def interpreter_paths() -> list[str]:
    """What the running interpreter imports from: its standard library and extension modules."""
    paths = [os.path.dirname(os.__file__)]
    paths += [p for p in sys.path if p.endswith("lib-dynload") and os.path.isdir(p)]
    return paths


def _mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None
) -> None:
    def raw(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    if _libc.mount(raw(source), raw(target), raw(fstype), flags, raw(data)) != 0:
        raise _fail(f"mount {target}")


def _kept_flags(path: str) -> int:
    flags = os.statvfs(path).f_flag
    return sum(mount_flag for st_flag, mount_flag in _ST_FLAGS_KEPT.items() if flags & st_flag)


def _bind_read_only(source: str, target: str) -> None:
    _mount(source, target, None, _MS_BIND | _MS_REC, None)
    try:
        _mount(None, target, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _kept_flags(source), None)
    except OSError:
        pass  # still refused by the seccomp filter's write rules; the self-check probes those


def _plan(paths: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """(symlinks to recreate, paths to bind), with the targets of symlinks bound too and paths
    inside an already bound folder left to it."""
    links: list[tuple[str, str]] = []
    binds: set[str] = set()
    todo = [os.path.abspath(p) for p in paths]
    while todo:
        path = todo.pop()
        if not os.path.lexists(path) or any(link == path for link, _ in links):
            continue
        if os.path.islink(path):
            links.append((path, os.readlink(path)))
            todo.append(os.path.realpath(path))
        else:
            binds.add(path)
    ordered = sorted(binds)
    kept = [
        p for p in ordered if not any(p.startswith(q.rstrip("/") + "/") for q in ordered if q != p)
    ]
    return links, kept


def _make_target(root: str, path: str, is_dir: bool) -> str:
    target = root + path
    os.makedirs(target if is_dir else os.path.dirname(target), mode=0o755, exist_ok=True)
    if not is_dir and not os.path.exists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))
    return target


def build_root() -> tuple[list[str], dict[str, str]]:
    """Pivot into a fresh read-only root: (what it provides, {part: why it is missing})."""
    global ROOT_ENTRIES
    wanted = [*interpreter_paths(), *SYSTEM_PATHS]
    links, binds = _plan(wanted)
    sources = binds + list(_DEVICES)
    mount_point = next((c for c in _ROOT_CANDIDATES
                        if os.path.isdir(c) and not any(s.startswith(c + "/") for s in sources)),
                        None)
    if mount_point is None:
        raise OSError(
            f"no folder to build the private root on (tried {', '.join(_ROOT_CANDIDATES)})"
        )
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE, None)  # nothing here ever reaches the host
    _mount("tmpfs", mount_point, "tmpfs", _MS_NOSUID | _MS_NODEV, "size=256k,mode=755")
    root = mount_point
    for path in binds:
        _bind_read_only(os.path.realpath(path), _make_target(root, path, os.path.isdir(path)))
    for link, target in links:
        _make_target(root, os.path.dirname(link), True)
        os.symlink(target, root + link)
    missing: dict[str, str] = {}
    for device in _DEVICES:
        if os.path.exists(device):
            try:
                _mount(device, _make_target(root, device, False), None, _MS_BIND, None)
            except OSError as exc:
                missing[device] = str(exc)
    provided = ["private root"]
    os.makedirs(root + "/tmp", mode=0o755)
    _mount("tmpfs", root + "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
           "size=64k,mode=1777")
    os.makedirs(root + "/proc", mode=0o755)
    try:
        _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None)
        provided.append("own /proc")
    except OSError as exc:
        missing["proc"] = f"no /proc inside the sandbox ({exc})"
    _pivot_into(root)
    try:
        _mount(None, "/", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV, None)
        provided.append("read-only")
    except OSError as exc:
        missing["read-only"] = (
            f"the private root stays writable (the filter still refuses writes): {exc}"
        )
    ROOT_ENTRIES = frozenset(os.listdir("/"))
    return provided, missing


def _pivot_into(root: str) -> None:
    number = _PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"pivot_root: unknown system call number on {os.uname().machine}")
    os.chdir(root)
    if _libc.syscall(number, b".", b".") != 0:
        raise _fail("pivot_root")
    # The old root now sits on top of the new one at "/": detach it, and it is gone for good.
    if _libc.umount2(b".", _MNT_DETACH) != 0:
        raise _fail("umount old root")
    os.chdir("/")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Give up every capability (the ones the user namespace granted to build the sandbox)."""
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            raise _fail("prctl(PR_CAPBSET_DROP)")
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("capset")

"""The layers that confine a sandbox process, applied in order before untrusted code runs.

1. `namespaces.enter` / `namespaces.build_root` (see there): own user (when not root), PID,
   network, IPC, UTS and mount namespaces, and a private read-only root.
2. `set_process_limits`: rlimits that hold for the whole sandbox process tree.
3. `drop_privileges`: root becomes an unprivileged uid/gid (RLIMIT_NPROC does not bind root).
4. `base_filter`: a seccomp filter for the process (template or worker): no exec, sockets, ptrace,
   mounts, privilege changes, file creation or writes, SysV and POSIX IPC, kernel-wide operations.
5. `JobFilter` + `set_job_limits`: in each job process, no new processes or threads, no signals
   to anyone but itself, no rlimit changes; memory and CPU caps.

Every refused system call fails with EPERM, so the program sees an ordinary `PermissionError` and
the runner reports it as `forbidden`. Filters stack: a job process keeps the base filter too.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os
import resource
import struct
from typing import Any

_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
_SIGKILL = 9

_libc = ctypes.CDLL(None, use_errno=True)

_ALWAYS_REFUSED = (
    # new programs
    "execve", "execveat",
    # networking
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # looking into or steering other processes
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "perf_event_open", "bpf",
    "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    # namespaces and mounts
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    # identities and capabilities
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setgroups",
    "setfsuid", "setfsgid", "capset",
    # machine-wide state
    "reboot", "swapon", "swapoff", "kexec_load", "kexec_file_load", "init_module",
    "finit_module", "delete_module", "acct", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "sethostname", "setdomainname", "syslog", "quotactl", "ioperm", "iopl",
    "keyctl", "add_key", "request_key", "open_by_handle_at", "name_to_handle_at", "vhangup",
    # creating, removing, changing files
    "creat", "unlink", "unlinkat", "rmdir", "rename", "renameat", "renameat2", "mkdir",
    "mkdirat", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate", "mknod",
    "mknodat", "utime", "utimes", "utimensat", "futimesat", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "fallocate", "openat2",
    # memory and queues that outlive a process (SysV and POSIX IPC): state shared between jobs,
    # and memory held outside any job's RLIMIT_AS
    "shmget", "shmat", "shmdt", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget",
    "semop", "semtimedop", "semctl", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive",
    "mq_notify", "mq_getsetattr",
)
_WRITE_FLAGS = (os.O_WRONLY, os.O_RDWR, os.O_CREAT, os.O_TRUNC, os.O_APPEND)
_JOB_REFUSED = ("clone", "clone3", "fork", "vfork", "pidfd_open", "pidfd_getfd",
                "pidfd_send_signal", "setrlimit")
_SELF_SIGNAL = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")


def _syscall_ok(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def set_process_limits(max_processes: int | None) -> None:
    """Limits shared by the sandbox process and its jobs: no core dumps, no file growth."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    if max_processes is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))


def drop_privileges(uid: int, gid: int) -> None:
    """Become `uid`/`gid` for good (real, effective and saved ids), with no supplementary groups."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(errno.EPERM, "privilege drop did not take")


def make_undumpable() -> None:
    """Same-uid processes (other jobs) cannot ptrace it or read its /proc memory files."""
    _syscall_ok(_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def _add(flt: Any, seccomp: Any, name: str, *args: Any) -> bool:
    try:
        flt.add_rule(seccomp.ERRNO(errno.EPERM), name, *args)
    except (OSError, ValueError, RuntimeError):
        return False  # the system call does not exist on this architecture
    return True


def base_filter() -> Any:
    """The process-wide seccomp filter (a template still needs fork, wait and kill for its jobs)."""
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in _ALWAYS_REFUSED:
        _add(flt, seccomp, name)
    for flag in _WRITE_FLAGS:
        _add(flt, seccomp, "open", seccomp.Arg(1, seccomp.MASKED_EQ, flag, flag))
        _add(flt, seccomp, "openat", seccomp.Arg(2, seccomp.MASKED_EQ, flag, flag))
    return flt


_PID_PLACEHOLDER = 0x3A5B7C9D
"""Stands for the job's pid in the precompiled job filter: above any pid_max, so it never
collides with a real pid, and unlike any constant libseccomp emits (syscall numbers, arch ids,
actions)."""
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2
_INSTRUCTION = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _job_filter_for(pid: int) -> Any:
    import pyseccomp as seccomp

    flt = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in _JOB_REFUSED:
        _add(flt, seccomp, name)
    for name in _SELF_SIGNAL:
        _add(flt, seccomp, name, seccomp.Arg(0, seccomp.NE, pid))
    _add(flt, seccomp, "prlimit64", seccomp.Arg(2, seccomp.NE, 0))
    return flt


class JobFilter:
    """The per-job seccomp filter, stacked on the base one.

    No new processes or threads, no signals to anyone but the job itself, no rlimit changes.
    libseccomp takes most of a millisecond to compile a filter, longer than the job itself, so
    the template compiles it once with a placeholder pid, and each job process writes its own pid
    into the BPF program and loads it with one prctl.
    """

    def __init__(self) -> None:
        read_fd, write_fd = os.pipe()
        try:
            with os.fdopen(write_fd, "wb", closefd=False) as sink:
                _job_filter_for(_PID_PLACEHOLDER).export_bpf(sink)
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd, "rb") as source:
            self.program = source.read()
        self.pid_offsets = [
            offset for offset in range(0, len(self.program), _INSTRUCTION.size)
            if _INSTRUCTION.unpack_from(self.program, offset)[3] == _PID_PLACEHOLDER
        ]
        if not self.pid_offsets or len(self.program) % _INSTRUCTION.size:
            raise RuntimeError("could not find the pid in the compiled job filter")

    def load(self) -> None:
        """Install the filter for the calling process (no_new_privs is inherited from the base)."""
        program = bytearray(self.program)
        for offset in self.pid_offsets:
            _INSTRUCTION.pack_into(program, offset, *_INSTRUCTION.unpack_from(program, offset)[:3],
                                   os.getpid())
        buffer = (ctypes.c_char * len(program)).from_buffer(program)
        fprog = _SockFprog(len(program) // _INSTRUCTION.size, ctypes.addressof(buffer))
        _syscall_ok(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
                    "prctl(PR_SET_SECCOMP)")


def die_with_parent() -> None:
    """Have the kernel kill this process when its parent (the template) dies, so no job outlives
    the pool."""
    _syscall_ok(_libc.prctl(_PR_SET_PDEATHSIG, _SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def set_job_limits(memory_mb: int, cpu_s: float | None) -> None:
    """Caps for one job; soft equals hard, so the program cannot raise them either."""
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    if cpu_s is not None:
        seconds = math.ceil(cpu_s) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))

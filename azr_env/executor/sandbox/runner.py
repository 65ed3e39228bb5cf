"""What a sandboxed process does with one job: run model-written code and describe the outcome.

Runs only inside a confined process. Every operation returns a plain dict payload
(`status`, `value`, `error`, `reason`, `encoded`, `items`) that the job process (`template.py`)
or the worker (`zygote.py`) frames back to the trusted side. The payload carries values as `codec`
trees, never as text to be evaluated.

Operations (`job["op"]`):
- `call`: exec `program`, evaluate `args` as call arguments, return `f(*args, **kwargs)`.
- `call_many`: the same for each of `inputs`, one item each.
- `determinism`: `call` `repeats` times (arguments evaluated afresh each time), one item each.
- `eval`: evaluate an answer `expression` with `answers.py`'s allowlist evaluator (never `eval`),
  where the program's own classes (if a program is given) may be called too.
- `args`: evaluate answer text as call arguments the same way and return them as data (a
  `call_args` tree).
- `call_encoded`: call `f` with arguments rebuilt from a `call_args` tree (no text evaluated).
- `probe`: try one forbidden operation, for the executor's self-check.
"""

from __future__ import annotations

import builtins
import collections
import errno
import functools
import os
import time
from collections.abc import Callable
from typing import Any

from . import answers, codec, namespaces

_ENTRY = "f"
_CAPTURE = "__azr_capture__"
_MAX_ERROR_CHARS = 300

Payload = dict[str, Any]


class _Failure(Exception):
    """Ends a job early with a classified payload."""

    def __init__(self, payload: Payload) -> None:
        super().__init__(payload.get("error"))
        self.payload = payload


def _capture(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


def _text_of(exc: BaseException) -> str:
    try:
        message = str(exc)
    except BaseException:
        message = "<unprintable>"
    name = type(exc).__name__
    text = f"{name}: {message}" if message else name
    return text[:_MAX_ERROR_CHARS]


def classify_exception(exc: BaseException, reason: str) -> Payload:
    """Map an exception raised by untrusted code to a status.

    The seccomp filter answers forbidden system calls with EPERM, so an uncaught EPERM means the
    program tried something the sandbox refuses (fork, sockets, file writes, ...).
    """
    if isinstance(exc, MemoryError):
        return {"status": "memory", "error": _text_of(exc), "reason": "memory_limit"}
    if isinstance(exc, OSError) and exc.errno in (errno.EPERM, errno.EACCES):
        return {"status": "forbidden", "error": _text_of(exc), "reason": "forbidden_operation"}
    if isinstance(exc, RecursionError):
        return {"status": "error", "error": _text_of(exc), "reason": "recursion_limit"}
    return {"status": "error", "error": _text_of(exc), "reason": reason}


def _guard(reason: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except _Failure:
        raise
    except BaseException as exc:
        raise _Failure(classify_exception(exc, reason)) from None


def _load_program(program: str | None) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "program", "__builtins__": builtins}
    if program is None:
        return namespace
    code = _guard("syntax_error", lambda: compile(program, "<program>", "exec"))
    _guard("program_error", lambda: exec(code, namespace))
    if not callable(namespace.get(_ENTRY)):
        raise _Failure({"status": "error", "error": "the program defines no function f",
                        "reason": "no_entry_function"})
    return namespace


def _eval_text(text: str, namespace: dict[str, Any], template: str, reason: str) -> Any:
    # Newlines around the text keep a trailing comment in it from swallowing the closing bracket.
    source = template.format(f"\n{text}\n")
    code = _guard(reason, lambda: compile(source, "<input>", "eval"))
    # Inputs come as source text that may name value constructors (`render.render_source`):
    # where the program does not define such a name itself, it means the constructor.
    names = collections.ChainMap(namespace, answers.CONSTRUCTORS)
    return _guard(reason, lambda: eval(code, namespace, names))


def _arguments(text: str, namespace: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    namespace[_CAPTURE] = _capture
    try:
        captured = _eval_text(text, namespace, _CAPTURE + "({})", "bad_input")
    finally:
        namespace.pop(_CAPTURE, None)
    args, kwargs = captured
    return args, kwargs


def describe_value(value: Any, max_chars: int) -> Payload:
    """The repr (capped, never truncated) and the codec tree of a returned value."""
    text = _guard("repr_failed", lambda: repr(value))
    if not isinstance(text, str):
        raise _Failure({"status": "error", "error": "repr did not return a string",
                        "reason": "repr_failed"})
    if len(text) > max_chars:
        raise _Failure(
            {
                "status": "error",
                "reason": "output_too_long",
                "error": f"output repr has {len(text)} characters, over the cap of {max_chars}",
            }
        )
    try:
        tree = codec.encode(value)
    except codec.EncodeError:
        tree = ["opaque", codec._type_name(value), text]
    except RecursionError:
        tree = ["opaque", codec._type_name(value), text]
    return {"status": "ok", "value": text, "encoded": tree}


def _call(namespace: dict[str, Any], args_text: str, max_chars: int) -> Payload:
    args, kwargs = _arguments(args_text, namespace)
    result = _guard("program_error", lambda: namespace[_ENTRY](*args, **kwargs))
    return describe_value(result, max_chars)


def _item(action: Callable[[], Payload]) -> Payload:
    try:
        return action()
    except _Failure as failure:
        return failure.payload


def _op_call_many(job: dict[str, Any], max_chars: int) -> Payload:
    namespace = _load_program(job["program"])
    items = [_item(functools.partial(_call, namespace, text, max_chars)) for text in job["inputs"]]
    return {"status": "ok", "items": items}


def _op_determinism(job: dict[str, Any], max_chars: int) -> Payload:
    namespace = _load_program(job["program"])
    items = [_item(lambda: _call(namespace, job["args"], max_chars)) for _ in range(job["repeats"])]
    return {"status": "ok", "items": items}


def _answer(action: Callable[[], Any]) -> Any:
    """Run one step of answer evaluation; a refusal ends the job with its reason."""
    try:
        return action()
    except answers.AnswerRefused as refused:
        raise _Failure({"status": "error", "reason": refused.reason,
                        "error": str(refused)[:_MAX_ERROR_CHARS]}) from None


def _program_classes(job: dict[str, Any], namespace: dict[str, Any]) -> dict[str, type]:
    """The classes the program defines at its top level: the only names an answer may call
    besides the value constructors of `answers.CONSTRUCTORS`."""
    names = answers.program_class_names(job.get("program"))
    return {name: namespace[name] for name in names if isinstance(namespace.get(name), type)}


def _op_eval(job: dict[str, Any], max_chars: int) -> Payload:
    namespace = _load_program(job.get("program"))
    limits = answers.Limits(max_chars)
    classes = _program_classes(job, namespace)
    node = _answer(lambda: answers.parse_expression(job["expression"], limits))
    value = _answer(lambda: answers.evaluate(node, limits, classes))
    return describe_value(value, max_chars)


def _op_args(job: dict[str, Any], max_chars: int) -> Payload:
    namespace = _load_program(job.get("program"))
    limits = answers.Limits(max_chars)
    classes = _program_classes(job, namespace)
    call = _answer(lambda: answers.parse_arguments(job["args"], limits))
    args, kwargs = _answer(lambda: answers.evaluate_arguments(call, limits, classes))
    value_payload = describe_value(tuple(args), max_chars)
    keyword_trees = [[name, describe_value(kwargs[name], max_chars)["encoded"]] for name in kwargs]
    tree = ["call_args", value_payload["encoded"][1], keyword_trees]
    if codec.contains_opaque(tree):
        raise _Failure({"status": "error", "reason": "non_data_input",
                        "error": "the input must be built from plain values (numbers, strings, "
                                 "containers), not objects of other types"})
    shown = ", ".join([repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()])
    return {"status": "ok", "value": shown, "encoded": tree}


def _op_call_encoded(job: dict[str, Any], max_chars: int) -> Payload:
    namespace = _load_program(job["program"])
    args, kwargs = codec.decode_call_args(job["encoded_args"])
    result = _guard("program_error", lambda: namespace[_ENTRY](*args, **kwargs))
    return describe_value(result, max_chars)


_PROBE_FILE = "/tmp/azr-sandbox-probe"
_IPC_PRIVATE, _IPC_CREAT, _IPC_RMID = 0, 0o1000, 0


def _libc_call(name: str, *args: Any) -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    result = int(getattr(libc, name)(*args))
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{name}: {os.strerror(code)}")
    return result


def _try_fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def _try_write() -> None:
    # /tmp inside the sandbox is a world-writable tmpfs: only the filter stands in the way.
    path = f"{_PROBE_FILE}-{os.getpid()}"
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        os.unlink(path)
    except OSError:
        pass  # the probe already got through: only the open counts


def _try_ipc() -> None:
    segment = _libc_call("shmget", _IPC_PRIVATE, 4096, _IPC_CREAT | 0o600)
    try:
        _libc_call("shmctl", segment, _IPC_RMID, None)
    except OSError:
        pass  # the probe already got through: only shmget counts


_SECCOMP_PROBES: dict[str, Callable[[], Any]] = {
    "fork": _try_fork,
    "exec": lambda: os.execv("/bin/sh", ["sh", "-c", "true"]),
    "socket": lambda: os.close(_libc_call("socket", 2, 1, 0)),  # AF_INET, SOCK_STREAM
    "write_file": _try_write,
    "signal_parent": lambda: os.kill(os.getppid(), 0),  # same uid: only the filter refuses
    "ipc": _try_ipc,
}

_ALLOWED: Payload = {"status": "ok", "value": "'allowed'", "encoded": ["str", "allowed"]}


def _refused_by_filter(action: Callable[[], Any]) -> Payload:
    """Only the filter's EPERM proves the filter refused; any other errno is another layer."""
    try:
        action()
    except OSError as exc:
        if exc.errno == errno.EPERM:
            return {"status": "forbidden", "reason": "forbidden_operation", "error": _text_of(exc)}
        return {"status": "error", "reason": "refused_by_another_layer",
                "error": f"{_text_of(exc)} (not the seccomp filter's EPERM)"}
    return dict(_ALLOWED)


def _other_processes_visible() -> bool:
    """Whether /proc lists a process that is not a sandbox process (all share one cmdline)."""
    try:
        with open("/proc/self/cmdline", "rb") as fh:
            own = fh.read()
        entries = os.listdir("/proc")
    except OSError:
        return False  # no /proc at all: nothing to see
    for entry in entries:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as fh:
                    cmdline = fh.read()
            except OSError:
                continue  # ended meanwhile
            if cmdline and cmdline != own:  # (a job process that ended shows an empty one)
                return True
    return False


def _host_files_visible(paths: list[str]) -> bool:
    """Whether `/` is not the private root, or a host path outside it can be seen."""
    if namespaces.ROOT_ENTRIES is None or set(os.listdir("/")) != namespaces.ROOT_ENTRIES:
        return True
    return any(os.path.lexists(path) for path in paths)


def _op_probe(job: dict[str, Any], max_chars: int) -> Payload:
    """Check one layer: `forbidden` means the layer refused, and nothing but that layer did."""
    name = job["probe"]
    if name in _SECCOMP_PROBES:
        return _refused_by_filter(_SECCOMP_PROBES[name])
    if name == "host_processes":
        visible = _other_processes_visible()
    elif name == "host_files":
        visible = _host_files_visible(list(job.get("paths") or []))
    else:
        return {"status": "error", "error": f"unknown probe {name!r}", "reason": "bad_job"}
    if visible:
        return dict(_ALLOWED)
    return {"status": "forbidden", "reason": "forbidden_operation", "error": f"{name}: not visible"}


_OPERATIONS: dict[str, Callable[[dict[str, Any], int], Payload]] = {
    "call": lambda job, cap: _call(_load_program(job["program"]), job["args"], cap),
    "call_many": _op_call_many,
    "determinism": _op_determinism,
    "eval": _op_eval,
    "args": _op_args,
    "call_encoded": _op_call_encoded,
    "probe": _op_probe,
}


def run_job(job: dict[str, Any], max_output_chars: int) -> Payload:
    """Run one job and return its payload; never raises for anything the program does."""
    started = time.perf_counter()
    operation = _OPERATIONS.get(job.get("op", ""))
    if operation is None:
        payload: Payload = {"status": "error", "error": f"unknown op {job.get('op')!r}",
                            "reason": "bad_job"}
    else:
        try:
            payload = operation(job, max_output_chars)
        except _Failure as failure:
            payload = failure.payload
        except BaseException as exc:
            payload = classify_exception(exc, "program_error")
    payload["run_s"] = time.perf_counter() - started
    return payload

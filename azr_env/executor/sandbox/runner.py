"""What a sandboxed process does with one job: run model-written code and describe the outcome.

Runs only inside a confined process. Every operation returns a plain dict payload
(`status`, `value`, `error`, `reason`, `encoded`, `items`) that `zygote.py` frames back to the
trusted side. The payload carries values as `codec` trees, never as text to be evaluated.

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

from . import answers, codec

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
        raise _Failure({"status": "error", "reason": "output_too_long",
                        "error": f"output repr has {len(text)} characters, over the cap of {max_chars}"})
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


def _op_probe(job: dict[str, Any], max_chars: int) -> Payload:
    """Attempt one operation the sandbox must refuse; `ok` means the sandbox let it through."""
    name = job["probe"]
    if name == "fork":
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    elif name == "write_file":
        fd = os.open("/tmp/azr-sandbox-probe", os.O_WRONLY | os.O_CREAT, 0o600)
        os.close(fd)
        os.unlink("/tmp/azr-sandbox-probe")
    elif name == "exec":
        os.execv("/bin/true", ["true"])
    elif name == "signal_parent":
        os.kill(os.getppid(), 0)
    elif name == "socket":
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.socket(2, 1, 0)  # AF_INET, SOCK_STREAM
        if fd < 0:
            raise OSError(ctypes.get_errno(), "socket refused")
        os.close(fd)
    else:
        return {"status": "error", "error": f"unknown probe {name!r}", "reason": "bad_job"}
    return {"status": "ok", "value": "'allowed'", "encoded": ["str", "allowed"]}


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

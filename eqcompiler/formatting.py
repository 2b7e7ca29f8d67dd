"""Formatting: black, with eqcompiler's fixed settings, on generated Python text.

Importing black is the largest single cost of compiling a small document (a quarter
of a second, more than parsing and emitting it). The command line therefore starts
a formatting worker (`start_worker`) before it imports the rest of the compiler: a
forked process that imports black while this one imports the parser and reads the
documents, then formats what `format_python` sends it. On a machine with a core to
spare the import costs no wall time; without `fork` (Windows; on macOS it is not
safe), when black is
imported already, or when anything goes wrong with the worker, black runs here.
The bytes are the same either way: the worker runs the same black, with the same
settings, on the same text.
"""

from __future__ import annotations

import functools
import gc
import os
import re
import struct
import sys
from collections.abc import Sequence
from typing import IO, Any

LINE_LENGTH = 88
_HEAD = re.compile(r"def \w+\(|(return|else|and|\w+(, \w+)* =) (\w+, )?[\w.]+\(")
_TAIL = re.compile(r"\)(\[1\])?(  # .*)?|\) -> .+:")
_LENGTH = struct.Struct("<Q")  # a message: its length in bytes, then its UTF-8 text
_OK, _FAILED = b"k", b"x"  # the worker's reply starts with one of these


def format_python(text: str) -> str:
    """`text` formatted by black with eqcompiler's fixed settings."""
    global _worker
    if _worker is not None:
        formatted = _worker.format(text)
        if formatted is not None:
            return formatted
        _worker.close()  # it failed: black runs here from now on (and says why)
        _worker = None
    return _format(text)


def laid_out(line: str, indent: int = 0) -> str:
    """One generated line, as black lays it out at `indent` spaces: a statement that
    ends in a call (`x = f(a, b)`, `return f(a)[1]`, with a trailing comment or not)
    or a `def` line, too long for one line, is split at that call's parentheses (at
    a def's parameters): the arguments on a line of their own if they fit, else one
    per line with a trailing comma. Any other line comes back as it is.

    black still formats every line; this only saves it work. black formats a text
    a second time when the first pass changed it; given what it would make of it,
    one pass is enough, which halves its time (the chain document of 100
    equations: 0.49 s to 0.23 s a piece). Lines continue at `indent` + 4 spaces;
    the first is not indented.
    """
    if indent + len(line) <= LINE_LENGTH or "'" in line or '"' in line:
        return line
    code, hash_, comment = line.partition("  # ")
    partners = _partners(code)
    if code.startswith("def "):  # black splits a def at its parameters
        opening = code.find("(")
        closing = partners.get(opening, -1)
    else:  # and a statement at the call it ends in
        closing = code.rfind(")")
        opening = partners.get(closing, -1)
    if opening < 0 or closing < 0:
        return line
    head, body = code[: opening + 1], code[opening + 1 : closing]
    tail = code[closing:] + hash_ + comment
    if not (_HEAD.fullmatch(head) and _TAIL.fullmatch(tail)):
        return line
    inner, outer = " " * (indent + 4), " " * indent
    if len(inner + body) <= LINE_LENGTH:
        lines = [head, inner + body, outer + tail]
    else:
        lines = [head, *(f"{inner}{item}," for item in _items(body)), outer + tail]
    if indent + len(head) > LINE_LENGTH or any(len(t) > LINE_LENGTH for t in lines):
        return line
    return "\n".join(lines)


def laid_out_parts(target: str, parts: Sequence[str], indent: int = 4) -> str:
    """`target = part part ...`, an expression of operands joined by operators of one
    kind (`a if c else b`, `a and b and c`; each part but the first starts with its
    operator), as black lays it out at `indent` spaces: on one line if it fits, else
    in parentheses, on one line of its own or one part a line, a part that ends in a
    call split as laid_out splits it. Where black would do more, it comes back on
    one line, for black to lay out."""
    content = " ".join(parts)
    line = f"{target} = {content}"
    inner, outer = " " * (indent + 4), " " * indent
    if indent + len(line) <= LINE_LENGTH:
        return line
    if len(inner) + len(content) <= LINE_LENGTH:
        return f"{target} = (\n{inner}{content}\n{outer})"
    lines = [laid_out(part, indent + 4) for part in parts]
    if any(len(inner) + len(ln.split("\n")[0]) > LINE_LENGTH for ln in lines):
        return line
    if any("\n" in ln for ln in lines[:-1]):  # black would split it apart first
        return line
    return "\n".join([f"{target} = (", *(inner + ln for ln in lines), f"{outer})"])


def _partners(code: str) -> dict[int, int]:
    """Each bracket's place in `code` -> the place of the one that matches it."""
    partners, open_at = {}, []
    for index, char in enumerate(code):
        if char in "([{":
            open_at.append(index)
        elif char in ")]}" and open_at:
            opening = open_at.pop()
            partners[opening], partners[index] = index, opening
    return partners


def _items(body: str) -> list[str]:
    """`body`'s items: split at the commas outside brackets."""
    items, depth, start = [], 0, 0
    for index, char in enumerate(body):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(body[start:index].strip())
            start = index + 1
    items.append(body[start:].strip())
    return items


def start_worker() -> None:
    """Start the formatting worker, where `fork` is safe and black is not imported
    yet (the command line calls this before it imports the compiler's stages)."""
    global _worker
    if _worker is None and _can_fork() and "black" not in sys.modules:
        _worker = _Worker.start()


_worker: _Worker | None = None


def _can_fork() -> bool:
    # macOS's system libraries are not safe to use in a child forked without exec
    return hasattr(os, "fork") and sys.platform != "darwin"


@functools.cache
def black_mode() -> Any:
    """black's settings for generated code (a `black.Mode`; imports black)."""
    import black

    return black.Mode(
        target_versions={black.TargetVersion.PY310},
        line_length=LINE_LENGTH,
        string_normalization=True,
        magic_trailing_comma=True,
    )


def _format(text: str) -> str:
    """black on `text`, with what the process holds frozen for the collector
    (gc.freeze): black makes cyclic garbage, and each full collection would look at
    every object the compiler holds too (10 million of them make black take 45%
    longer). Unless something else froze objects first: then nothing is frozen or
    unfrozen here."""
    import black

    ours = gc.get_freeze_count() == 0
    if ours:
        gc.freeze()
    try:
        return black.format_str(text, mode=black_mode())
    finally:
        if ours:
            gc.unfreeze()


class _Worker:
    """The parent's end of a forked formatting process: a pipe each way."""

    def __init__(self, pid: int, requests: IO[bytes], replies: IO[bytes]) -> None:
        self.pid, self.requests, self.replies = pid, requests, replies

    @classmethod
    def start(cls) -> _Worker | None:
        try:
            request_read, request_write = os.pipe()
            reply_read, reply_write = os.pipe()
            pid = os.fork()
        except OSError:
            return None
        if pid == 0:  # the worker: it never returns
            os.close(request_write)
            os.close(reply_read)
            _serve(request_read, reply_write)
        os.close(request_read)
        os.close(reply_write)
        return cls(pid, os.fdopen(request_write, "wb"), os.fdopen(reply_read, "rb"))

    def format(self, text: str) -> str | None:
        """`text` formatted by the worker; None if it could not (black raised, or
        the worker is gone)."""
        try:
            _send(self.requests, text.encode("utf-8"))
            status = self.replies.read(1)
            reply = _receive(self.replies)
        except OSError:
            return None
        if status != _OK or reply is None:
            return None
        return reply.decode("utf-8")

    def close(self) -> None:
        for pipe in (self.requests, self.replies):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


def _serve(requests_fd: int, replies_fd: int) -> None:
    """The worker's life: import black, format each request until the requests end,
    exit. Its standard streams are closed, so that whoever waits for the parent's
    output (a pre-commit hook, a shell pipe) does not wait for the worker too."""
    status = 0
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        requests = os.fdopen(requests_fd, "rb")
        replies = os.fdopen(replies_fd, "wb")
        import black  # noqa: F401 - the import is the point: it runs meanwhile

        while (request := _receive(requests)) is not None:
            try:
                reply = _OK, _format(request.decode("utf-8")).encode("utf-8")
            except Exception:  # noqa: BLE001 - the parent formats it again, and says
                reply = _FAILED, b""
            replies.write(reply[0])
            _send(replies, reply[1])
    except BaseException:  # noqa: BLE001 - a closed pipe: the parent is gone
        status = 1
    finally:
        os._exit(status)


def _send(pipe: IO[bytes], payload: bytes) -> None:
    pipe.write(_LENGTH.pack(len(payload)))
    pipe.write(payload)
    pipe.flush()


def _receive(pipe: IO[bytes]) -> bytes | None:
    """The next message, or None at the end of the pipe."""
    head = pipe.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(head)
    payload = pipe.read(length)
    return payload if len(payload) == length else None

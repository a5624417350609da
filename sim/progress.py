"""A plain-text progress bar on stderr (:class:`Progress`), shared by ``bench``, ``e2e``, ``sweep``
and ``pick``."""

import sys
import time

import numpy as np

__all__ = ["Progress"]


class Progress:
    """A plain-text progress bar on stderr, shared by ``bench`` and ``e2e``.

    On a terminal it redraws one line; otherwise (CI logs, pipes) it prints one line per update.
    It accepts the shapes progress callbacks take in practice: ``progress(msg)``,
    ``progress(done, total)``, ``progress(done, total, msg)`` or keywords ``done=, total=, msg=``.

    Parameters
    ----------
    label : str
        Prefix of every line (e.g. ``"bench"``).
    stream : file or None
        Default ``sys.stderr``; ``None`` is silent.
    width : int
        Characters of the bar.
    """

    def __init__(self, label, stream=sys.stderr, width=24):
        self.label = label
        self.stream = stream
        self.width = width
        self.t0 = time.monotonic()
        self.stage = ""
        self._tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self._last_len = 0
        self._printed = {}

    def elapsed(self):
        return time.monotonic() - self.t0

    def sub(self, stage):
        """A callback for one stage: its messages are prefixed with ``stage``."""
        def cb(*args, **kw):
            self.stage = stage
            self(*args, **kw)
        return cb

    def __call__(self, *args, done=None, total=None, msg=None):
        if self.stream is None:
            return
        nums = [a for a in args if isinstance(a, (int, float, np.integer)) and not isinstance(a, bool)]
        texts = [str(a) for a in args if not isinstance(a, (int, float, np.integer))]
        if done is None and nums:
            done = nums[0]
        if total is None and len(nums) > 1:
            total = nums[1]
        if msg is None:
            msg = " ".join(texts)
        head = f"[{self.label} {self.elapsed():6.1f}s]"
        if self.stage:
            head += f" {self.stage}:"
        bar = ""
        if done is not None and total:
            frac = min(max(float(done) / float(total), 0.0), 1.0)
            fill = int(round(frac * self.width))
            bar = f" |{'#' * fill}{'.' * (self.width - fill)}| {done}/{total}"
        line = f"{head}{bar} {msg}".rstrip()
        if self._tty:
            self.stream.write("\r" + line + " " * max(0, self._last_len - len(line)))
            self._last_len = len(line)
            if done is not None and total and done >= total:
                self.stream.write("\n")
                self._last_len = 0
        else:
            # Logs get a line per tenth of a bar (and the first and last step), not per step.
            if done is not None and total:
                tenth = int(10 * min(max(float(done) / float(total), 0.0), 1.0))
                key = (self.stage, total)
                if self._printed.get(key) == tenth and done not in (1, total):
                    return
                self._printed[key] = tenth
            self.stream.write(line + "\n")
        self.stream.flush()

    def log(self, msg):
        """A line that stays (ends a bar being redrawn)."""
        if self.stream is None:
            return
        if self._tty and self._last_len:
            self.stream.write("\n")
            self._last_len = 0
        self.stream.write(f"[{self.label} {self.elapsed():6.1f}s] {msg}\n")
        self.stream.flush()

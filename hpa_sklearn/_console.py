"""What the user sees: one plain line about the device, and no native start-up chatter.

TensorFlow and XLA write C++ log lines straight to file descriptor 2 (``I0000 ... cudart_stub.cc]
Could not find cuda drivers``, ``E0000 ... failed call to cuInit``) before any Python setting can
silence them, and on a machine without a GPU they read like errors. :func:`quiet_native_logs`
passes everything written to standard error through a filter that drops those lines (absl
INFO/WARNING lines, and the few ERROR lines that only say no GPU is there) and keeps the rest:
Python tracebacks, warnings, progress bars, and every other native error.

Those lines come while TensorFlow is imported and while it first looks for a GPU, so
:func:`install_quiet_import` (run when ``hpa_sklearn`` is imported) makes the first import of
TensorFlow in the process happen inside the filter, GPU probe included. The command line keeps the
filter on for the whole command. Setting the environment variable ``HPA_SKLEARN_NATIVE_LOGS=1``
shows everything (``hpa-sklearn --verbose`` does the same for one command).
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import threading

# "I0000 00:00:1796162355.438660   12766 cudart_stub.cc:31] text" (absl, before or after its
# initialization: the time field is MMDD HH:MM:SS.us or 00:00:<epoch seconds>)
_ABSL = re.compile(rb"^(?P<level>[IWEF])\d{4} [\d:.]+\s+\d+ [^\]\s]+:\d+\] ?(?P<text>.*)$")
_HARMLESS_ERRORS = (
    b"failed call to cuInit",  # no GPU driver: the CPU trains
    b"Unable to register cuDNN factory",
    b"Unable to register cuFFT factory",
    b"Unable to register cuBLAS factory",
)
_NOISE = (
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"To enable the following instructions:",  # the tail of an INFO line about CPU features
)
_PREFIXES = (b"I0", b"W0", b"E0", b"WARNING: All log", b"To enable the following")


def _is_noise(line):
    stripped = line.rstrip(b"\r\n")
    if any(stripped.startswith(noise) for noise in _NOISE):
        return True
    match = _ABSL.match(stripped)
    if match is None:
        return False
    if match["level"] in (b"I", b"W"):
        return True
    return match["level"] == b"E" and any(text in stripped for text in _HARMLESS_ERRORS)


def _may_become_noise(fragment):
    """Could this unfinished line still turn out to be a noise line? (Then wait for its end.)"""
    return any(p.startswith(fragment[: len(p)]) or fragment.startswith(p) for p in _PREFIXES)


def _pump(read_fd, write_fd):
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        out = []
        while True:  # complete lines (a progress bar's \r counts as a line end)
            cut = min((i for i in (pending.find(b"\n"), pending.find(b"\r")) if i >= 0),
                      default=-1)
            if cut < 0:
                break
            line, pending = pending[: cut + 1], pending[cut + 1 :]
            if not _is_noise(line):
                out.append(line)
        if pending and not _may_become_noise(pending):
            out.append(pending)
            pending = b""
        if out:
            with contextlib.suppress(OSError):
                os.write(write_fd, b"".join(out))
    if pending and not _is_noise(pending):
        with contextlib.suppress(OSError):
            os.write(write_fd, pending)
    os.close(read_fd)


@contextlib.contextmanager
def quiet_native_logs(enabled=True):
    """Within the block, drop native start-up chatter from standard error (see the module)."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        read_fd, write_fd = os.pipe()
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded, closed): leave it
        yield
        return
    os.dup2(write_fd, 2)
    os.close(write_fd)
    thread = threading.Thread(target=_pump, args=(read_fd, saved), daemon=True,
                              name="hpa-sklearn-stderr-filter")
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(saved, 2)  # closes our end of the pipe: the pump drains and stops
        thread.join(timeout=5)
        os.close(saved)


def device_summary():
    """One plain line: where Keras computes (its backend, and the GPUs it sees or the CPU)."""
    import keras

    backend = keras.backend.backend()
    names = []
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            for gpu in tf.config.list_physical_devices("GPU"):
                details = tf.config.experimental.get_device_details(gpu)
                names.append(details.get("device_name", gpu.name))
        elif backend == "jax":
            import jax

            names = [d.device_kind for d in jax.devices() if d.platform == "gpu"]
    except Exception:  # a broken driver: say what we know, train on what Keras finds
        names = []
    if names:
        kinds = ", ".join(sorted(set(names)))
        plural = "s" if len(names) > 1 else ""
        return f"Computing on {len(names)} GPU{plural} ({kinds}), Keras backend {backend}."
    return (f"Computing on the CPU ({os.cpu_count()} cores; no GPU found), Keras backend "
            f"{backend}.")


def native_logs_wanted():
    return os.environ.get("HPA_SKLEARN_NATIVE_LOGS", "") not in ("", "0")


class _QuietLoader(importlib.abc.Loader):
    """Runs TensorFlow's own loader inside :func:`quiet_native_logs`, then its GPU probe."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        with quiet_native_logs():
            self.loader.exec_module(module)
            with contextlib.suppress(Exception):  # cuInit happens at the first device query
                module.config.list_physical_devices("GPU")


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` once, with :class:`_QuietLoader` around its loader."""

    def find_spec(self, name, path, target=None):
        if name != "tensorflow":
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: later imports are the module already loaded
        if native_logs_wanted():
            return None
        # INFO and WARNING lines after start-up too ("Memory patch applied", oneDNN notes); a
        # level the user set stays
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


def install_quiet_import():
    """Make the process's first import of TensorFlow quiet (unless it happened already, or
    ``HPA_SKLEARN_NATIVE_LOGS`` is set)."""
    if "tensorflow" in sys.modules or native_logs_wanted():
        return
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())

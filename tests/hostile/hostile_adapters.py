"""Hostile and careless adapters for tests/hostile/test_hostile_adapters.py (issue 14, item 10).

Each class is the float32 reference port (``reference-f32``, which passes every case) with one
misbehaviour. A ``run`` misbehaviour strikes only in case ``BAD`` (the middle of the three cases the
tests check), so that the cases before and after it show that the run went on; a ``build``
misbehaviour strikes while case ``FIRST`` is being built (the next case builds again). Loaded as
``hostile_adapters:Name`` with this folder as the working directory.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import sys
import time

import numpy as np

from samspec.conformance.adapters.reference import ReferenceAdapter

if os.environ.get("HOSTILE_IMPORTS"):  # who imports this module (tests/hostile/test_hostile_profiles.py)
    with open(os.environ["HOSTILE_IMPORTS"], "a") as _marker:
        _marker.write(f"hostile_adapters {os.getpid()} {os.getppid()}\n")

FIRST, BAD, LAST = "labels.foreground", "labels.background", "labels.not_a_point"
CASES = f"^({FIRST}|{BAD}|{LAST})$".replace(".", r"\.")
KEYS = ("prompt_sparse_embeddings", "prompt_dense_embeddings", "prompt_dense_positional_embeddings")


def segfault():
    ctypes.string_at(0)


def c_write(fd: int, text: str) -> None:
    """A write to the file descriptor itself, as native code does (no Python buffering)."""
    os.write(fd, text.encode())


class Good(ReferenceAdapter):
    """The float32 reference; subclasses override ``hostile_run`` / ``hostile_build``."""

    def __init__(self):
        super().__init__("float32")
        self.name = type(self).__name__
        self.case = None

    def begin_case(self, case_id):
        self.case = case_id

    def build(self, config, params):
        if self.case == FIRST:
            self.hostile_build(config, params)
        super().build(config, params)

    def run(self, points, labels, boxes, masks):
        if self.case == BAD:
            return self.hostile_run(dict(points=points, labels=labels, boxes=boxes, masks=masks))
        return super().run(points, labels, boxes, masks)

    def good_outputs(self, inputs):
        return super().run(**inputs)

    def hostile_build(self, config, params):
        pass

    def hostile_run(self, inputs):
        return self.good_outputs(inputs)


def _outputs_with(adapter, inputs, value):
    """The correct outputs with the sparse embedding replaced by ``value``."""
    outputs = adapter.good_outputs(inputs)
    outputs["prompt_sparse_embeddings"] = value
    return outputs


# -- exits and signals in run() and build() ----------------------------------------------------------


class RunSysExit0(Good):
    def hostile_run(self, inputs):
        sys.exit(0)


class RunSysExit1(Good):
    def hostile_run(self, inputs):
        sys.exit(1)


class RunOsExit0(Good):
    def hostile_run(self, inputs):
        os._exit(0)


class RunOsExit3(Good):
    def hostile_run(self, inputs):
        os._exit(3)


class RunSegfault(Good):
    def hostile_run(self, inputs):
        segfault()


class RunSigkill(Good):
    def hostile_run(self, inputs):
        os.kill(os.getpid(), signal.SIGKILL)


class RunAbort(Good):
    def hostile_run(self, inputs):
        os.abort()


class BuildSysExit0(Good):
    def hostile_build(self, config, params):
        sys.exit(0)


class BuildOsExit0(Good):
    def hostile_build(self, config, params):
        os._exit(0)


class BuildSegfault(Good):
    def hostile_build(self, config, params):
        segfault()


class BuildRaises(Good):
    def hostile_build(self, config, params):
        raise RuntimeError("the build step of this port is broken")


# -- hangs ------------------------------------------------------------------------------------------


class RunHang(Good):
    def hostile_run(self, inputs):
        time.sleep(600)


class RunBusyIgnoringSignals(Good):
    def hostile_run(self, inputs):
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
            signal.signal(number, signal.SIG_IGN)
        while True:
            pass


class BuildHang(Good):
    def hostile_build(self, config, params):
        time.sleep(600)


class SlowEveryCase(Good):
    """Half a second per case: the Ctrl-C test interrupts it after the first rows."""

    def run(self, points, labels, boxes, masks):
        time.sleep(0.5)
        return super().run(points, labels, boxes, masks)


# -- output on stdout / stderr ----------------------------------------------------------------------

FAKE_ROW = "pass    labels.background            sparse   float32  1.00e-07  1.00e-05   0.010  faked by the port"


class PrintsFakeRows(Good):
    def hostile_run(self, inputs):
        print(FAKE_ROW)
        print(FAKE_ROW.replace("sparse  ", "dense   "), file=sys.stderr)
        return _outputs_with(self, inputs, np.zeros((1, 2, 256), np.float32))


class CWritesFakeRows(Good):
    def hostile_run(self, inputs):
        c_write(1, FAKE_ROW + "\n")
        c_write(2, "samspec check: 87 pass\n")
        return _outputs_with(self, inputs, np.zeros((1, 2, 256), np.float32))


class PrintsForever(Good):
    def hostile_run(self, inputs):
        line = "spam " * 200 + "\n"
        while True:
            sys.stdout.write(line)


class CWritesForever(Good):
    def hostile_run(self, inputs):
        block = ("eggs " * 2000 + "\n").encode()
        while True:
            os.write(1, block)


class PrintsThenSegfaults(Good):
    def hostile_run(self, inputs):
        print("last words of the port before it crashed")
        segfault()


# -- wrong return types -----------------------------------------------------------------------------


class ReturnsNone(Good):
    def hostile_run(self, inputs):
        return None


class ReturnsList(Good):
    def hostile_run(self, inputs):
        return list(self.good_outputs(inputs).values())


class ReturnsStr(Good):
    def hostile_run(self, inputs):
        return "prompt_sparse_embeddings"


class ReturnsTuple(Good):
    def hostile_run(self, inputs):
        return tuple(self.good_outputs(inputs).values())


class ReturnsNonStringKeys(Good):
    def hostile_run(self, inputs):
        return dict(enumerate(self.good_outputs(inputs).values()))


class ReturnsGenerator(Good):
    def hostile_run(self, inputs):
        return (value for value in self.good_outputs(inputs).values())


class ReturnsMissingKey(Good):
    def hostile_run(self, inputs):
        outputs = self.good_outputs(inputs)
        del outputs["prompt_sparse_embeddings"]
        return outputs


# -- outputs that are not numeric arrays, or not the right ones --------------------------------------


class OutputString(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, "0.0")


class OutputStringArray(Good):
    def hostile_run(self, inputs):
        shape = self.good_outputs(inputs)["prompt_sparse_embeddings"].shape
        return _outputs_with(self, inputs, np.full(shape, "0.5"))


class OutputObject(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, object())


class OutputComplex(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, sparse.astype(np.complex64))


class OutputBool(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, sparse > 0)


class OutputInt(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, np.zeros(sparse.shape, np.int64))


class OutputPythonScalar(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, 0.5)


class OutputHuge(Good):
    """A (256, 1024, 1024) float32 output (1 GiB) that takes no memory here (a broadcast view)."""

    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, np.broadcast_to(np.float32(0), (256, 1024, 1024)))


class _Enormous:
    shape = (2**40, 2**40)

    def __array__(self, dtype=None, copy=None):
        raise AssertionError("samspec converted an output whose shape it should have refused")


class OutputClaimsEnormousShape(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, _Enormous())


class OutputNaN(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, np.full_like(sparse, np.nan))


class OutputInf(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"].copy()
        sparse[0, 0, 0] = np.inf
        return _outputs_with(self, inputs, sparse)


class OutputWrongShape(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, sparse[:, :-1])


class OutputStructured(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, np.zeros(3, dtype=[("x", "f4"), ("y", "f4")]))


class OutputArrayRaises(Good):
    class _Raises:
        def __array__(self, dtype=None, copy=None):
            raise RuntimeError("this output cannot be converted")

    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, self._Raises())


class TorchRequiresGrad(Good):
    def hostile_run(self, inputs):
        import torch

        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, torch.tensor(sparse, requires_grad=True))


# -- mutation -----------------------------------------------------------------------------------------


class MutatesInputs(Good):
    """Correct outputs, then every input array overwritten in place (in every case)."""

    def run(self, points, labels, boxes, masks):
        outputs = super().run(points, labels, boxes, masks)
        for array in (points, labels, boxes, masks):
            if array is not None:
                array[...] = 7
        return outputs


class MutatesParams(Good):
    """Builds correctly, then overwrites every parameter array it was given."""

    def build(self, config, params):
        super().build(config, params)
        for array in params.values():
            array[...] = 0


# -- exceptions -----------------------------------------------------------------------------------------


class CustomBaseException(BaseException):
    pass


class RaisesKeyboardInterrupt(Good):
    def hostile_run(self, inputs):
        raise KeyboardInterrupt


class RaisesBaseException(Good):
    def hostile_run(self, inputs):
        raise CustomBaseException("a BaseException subclass from the port")


class RaisesGeneratorExit(Good):
    def hostile_run(self, inputs):
        raise GeneratorExit


class RaisesMemoryError(Good):
    def hostile_run(self, inputs):
        raise MemoryError("cannot allocate 1 TiB")


class RaisesRecursionError(Good):
    def hostile_run(self, inputs):
        def deeper(n):
            return deeper(n + 1) + 1

        return deeper(0)


class RaisesHugeMessage(Good):
    def hostile_run(self, inputs):
        raise ValueError("x" * 1_000_000)


CONTROL = "bell\x07 nul\x00 esc\x1b[2K\r" + "pass    " + " form\x0c del\x7f lone\ud800surrogate \udfff end"


class RaisesControlCharacters(Good):
    def hostile_run(self, inputs):
        raise ValueError(CONTROL)


class PrintsControlCharacters(Good):
    def hostile_run(self, inputs):
        print(CONTROL.encode("utf-8", "replace").decode("utf-8"))
        os.write(1, b"invalid utf-8 and escapes: \xff\xfe\xc3\x28 \x1b[2K\rpass \xc2\x9b31m\n")
        raise ValueError("after printing control characters")


class _BadStr(Exception):
    def __str__(self):
        raise RuntimeError("__str__ of this exception raises")


class RaisesUnprintable(Good):
    def hostile_run(self, inputs):
        raise _BadStr()


# -- the adapter object itself ---------------------------------------------------------------------------


class GarbageProfileInt(Good):
    profile = 42

    def __init__(self):
        super().__init__()
        self.profile = 42


class GarbageProfileName(Good):
    def __init__(self):
        super().__init__()
        self.profile = "no-such-profile"


class GarbageProfileObject(Good):
    def __init__(self):
        super().__init__()
        self.profile = object()


class MissingRun:
    name = "missing-run"

    def build(self, config, params):
        pass


class MissingBuild:
    name = "missing-build"

    def run(self, points, labels, boxes, masks):
        return {}


class RunNotCallable(Good):
    run = "not a method"


def factory_returns_none():
    return None


def factory_sys_exit():
    sys.exit(0)


def factory_os_exit():
    os._exit(0)


def factory_segfault():
    segfault()


def factory_raises():
    raise RuntimeError("the factory cannot make this port")


def factory_keyboard_interrupt():
    raise KeyboardInterrupt


class InitRaisesBaseException(Good):
    def __init__(self):
        raise CustomBaseException("from __init__")


class TraceRaises(Good):
    def trace(self, points, labels, boxes, masks):
        raise RuntimeError("trace is broken")


class TraceSegfaults(Good):
    def trace(self, points, labels, boxes, masks):
        segfault()


class TraceReturnsGarbage(Good):
    def trace(self, points, labels, boxes, masks):
        return {"stage": object(), 3: "x"}


class SendsForgedAnswer(Good):
    """Finds the worker's connection to samspec and sends a pickle that would run code if loaded."""

    class _Payload:
        def __reduce__(self):
            return (os.system, ("echo forged > forged.txt",))

    def hostile_run(self, inputs):
        from multiprocessing.connection import Connection

        for thing in gc.get_objects():
            if isinstance(thing, Connection):
                thing.send_bytes(pickle.dumps(("ok", {"prompt_sparse_embeddings": self._Payload()})))
        time.sleep(600)


class ClosesStdio(Good):
    def hostile_run(self, inputs):
        os.close(1)
        os.close(2)
        return self.good_outputs(inputs)


class TooLargeAnswer(Good):
    """Disables samspec's size check inside its own worker, then returns 32 MB for a case that can
    need about 4 MB: the parent must refuse the answer from its length header, without reading it."""

    def hostile_run(self, inputs):
        from samspec.conformance.harness.isolation import conversion

        conversion.to_plain_outputs = lambda raw, limit: {k: np.asarray(v) for k, v in raw.items()}
        return _outputs_with(self, inputs, np.ones((8, 1024, 1024), np.float32))


class WritesMarker(Good):
    """Writes the file named by $HOSTILE_MARKER when it is created: proof that the port ran."""

    def __init__(self):
        super().__init__()
        with open(os.environ["HOSTILE_MARKER"], "w") as marker:
            marker.write("the port ran\n")


class _LoadsOnce(RunSegfault):
    pass


def loads_once():
    """A factory that works once: a fresh worker (after the segfault in case BAD) cannot load the
    port again (think of a device still held by the dead worker)."""
    marker = os.environ["HOSTILE_MARKER"]
    if os.path.exists(marker):
        raise RuntimeError("the device is still held by the previous worker")
    open(marker, "w").close()
    return _LoadsOnce()


def _record_pid(pid):
    with open(os.environ["HOSTILE_MARKER"], "a") as marker:
        marker.write(f"{pid}\n")


class ForksThenExits(Good):
    """Forks a child that sleeps (holding samspec's connection and output pipe), then exits: the
    case is an error naming the exit at once, not a timeout, and the child does not outlive the run."""

    def hostile_run(self, inputs):
        child = os.fork()
        if child == 0:
            time.sleep(600)
            os._exit(0)
        _record_pid(child)
        os._exit(0)


class SpawnsHangingProgram(Good):
    """Runs a program that never ends: the timeout kills it with the worker."""

    def hostile_run(self, inputs):
        import subprocess

        program = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        _record_pid(program.pid)
        program.wait()


class SpawnsEscapingProgram(Good):
    """Runs a program in a session of its own (setsid: outside the worker's process group) that never
    ends: it is found by the environment mark it inherited and killed with the worker."""

    def hostile_run(self, inputs):
        import subprocess

        program = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
        _record_pid(program.pid)
        program.wait()


class SendsHalfAnAnswer(Good):
    """Sends the length header of a 1 MB answer, then 10 bytes, then hangs: the timeout still holds."""

    def hostile_run(self, inputs):
        import struct
        from multiprocessing.connection import Connection

        for thing in gc.get_objects():
            if isinstance(thing, Connection):
                os.write(thing.fileno(), struct.pack("!i", 1 << 20) + b"0123456789")
        time.sleep(600)


class SendsGarbagePickle(Good):
    def hostile_run(self, inputs):
        from multiprocessing.connection import Connection

        for thing in gc.get_objects():
            if isinstance(thing, Connection):
                thing.send_bytes(b"\x80\x05this is not a pickle")
        time.sleep(600)


class OutputLongDouble(Good):
    def hostile_run(self, inputs):
        sparse = self.good_outputs(inputs)["prompt_sparse_embeddings"]
        return _outputs_with(self, inputs, sparse.astype(np.longdouble))


class OutputDatetime(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, np.zeros((1, 4, 32), "datetime64[s]"))


class OutputEmpty(Good):
    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, np.zeros((0,), np.float32))


class ManyOutputs(Good):
    """Thirty extra outputs, each within the size limit, together far beyond what the case needs."""

    def hostile_run(self, inputs):
        outputs = self.good_outputs(inputs)
        outputs.update({f"extra_{i}": np.ones(1_000_000, np.float32) for i in range(30)})
        return outputs


class _ItemsExit(dict):
    def items(self):
        sys.exit(0)


class ItemsCallsExit(Good):
    def hostile_run(self, inputs):
        return _ItemsExit(self.good_outputs(inputs))


class ForgesAnswerThenHangs(Good):
    """Answers its second run() early through samspec's connection (correct outputs), then stops
    reading it: the next case's large mask cannot be sent (there is no begin_case to time out
    first). The deadline holds for the send too."""

    begin_case = None
    runs = 0

    def run(self, points, labels, boxes, masks):
        self.runs += 1
        inputs = dict(points=points, labels=labels, boxes=boxes, masks=masks)
        return self.hostile_run(inputs) if self.runs == 2 else self.good_outputs(inputs)

    def hostile_run(self, inputs):
        from multiprocessing.connection import Connection

        outputs = self.good_outputs(inputs)
        for thing in gc.get_objects():
            if isinstance(thing, Connection):
                thing.send_bytes(pickle.dumps(("ok", (outputs, [], {}))))  # run_case's answer
        time.sleep(600)


# -- hostile profiles (module:attr): their functions run in samspec's own process -------------------

from samspec.conformance.profiles.profile import Profile  # noqa: E402


def _exit_in_from_port(outputs, config):
    sys.exit(0)


def _garbage_to_port(inputs, config):
    return ["not", "a", "dict"]


def _exit_in_to_port(inputs, config):
    sys.exit(0)


EXIT_FROM_PORT = Profile(
    name="exit_from_port", description="from_port calls sys.exit(0)", from_port_fn=_exit_in_from_port
)
EXIT_TO_PORT = Profile(name="exit_to_port", description="to_port calls sys.exit(0)", to_port_fn=_exit_in_to_port)
GARBAGE_TO_PORT = Profile(name="garbage_to_port", description="to_port returns a list", to_port_fn=_garbage_to_port)


def mock_adapter():
    """A MagicMock: every attribute exists and is callable, every call returns another mock."""
    from unittest import mock

    return mock.MagicMock()


class ReadsStdin(Good):
    def hostile_run(self, inputs):
        return {"answer": input("which output? ")}


# -- adapters in several styles against the adapter contract (docs/adapters.md, "How samspec calls an adapter") --


class RunKeywordsOnly(Good):
    """run(**inputs): takes samspec's keyword call."""

    def run(self, **inputs):
        return Good.run(self, **inputs)


class RunDefaults(Good):
    def run(self, points=None, labels=None, boxes=None, masks=None):
        return Good.run(self, points, labels, boxes, masks)


class RunStarArgs(Good):
    def run(self, *args):
        return Good.run(self, *args)


class RunOtherNames(Good):
    def run(self, pts, lbls, bxs, msks):
        return Good.run(self, pts, lbls, bxs, msks)


class BuildOneArgument(Good):
    def build(self, config):
        Good.build(self, config, {})


class TraceOtherNames(Good):
    def trace(self, coords, labels, boxes, masks):
        return {}


# -- traces that would make a report unbounded (issue 22, item 7) ------------------------------------------------


class TraceManyStages(Good):
    """200,000 junk stage names: refused in the worker (at most 200), a note beside the verdicts."""

    def trace(self, points, labels, boxes, masks):
        return {f"junk.{i}": np.zeros(1, np.float32) for i in range(200_000)}


class TraceLongName(Good):
    def trace(self, points, labels, boxes, masks):
        return {"x" * 100_000: np.zeros(1, np.float32)}


class TraceWithJunk(Good):
    """The reference's own stages (they agree) plus 150 junk names of 100 characters: the report keeps 20.
    Its sparse output in case BAD is off (x 1.5), so that the HTML report details that case's trace."""

    def hostile_run(self, inputs):
        return _outputs_with(self, inputs, self.good_outputs(inputs)["prompt_sparse_embeddings"] * 1.5)

    def trace(self, points, labels, boxes, masks):
        stages = {
            k: np.asarray(v)
            for k, v in self.encoder.trace(points=points, labels=labels, boxes=boxes, masks=masks).items()
        }
        stages.update({f"{i:03d}".ljust(100, "j"): np.zeros(1, np.float32) for i in range(150)})
        return stages

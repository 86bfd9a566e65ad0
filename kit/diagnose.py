"""Known failure signatures -> diagnoses: what happened, the evidence, and what to change.

Pure functions over an ``Observation`` (one run) or over ``RunResult`` objects (the runs of
one ``kit run``, compared).  The vocabulary is closed (``kit.outcomes.Code``) and documented
in the README with one example each:

``missing_guard``  a child died with the bootstrapping RuntimeError (no ``__main__`` guard)
``pickling``       the target, its arguments, a pool task or result could not be pickled
``worker_died``    a child or pool worker exited with an error (the same death repeated: a loop)
``top_level_reexecuted``  top-level code with effects ran in more than one process
``output_differs`` stdout or exit code differ from the reference run (default method / first target)
``fork_with_threads``  fork() of a multi-threaded process (the 3.12+ DeprecationWarning)
``leaked_resources``   the resource tracker cleaned up leaked semaphores or shared memory
``sets_own_method``    the script chose its own start method (the cell says which really ran)
``output_truncated``   the run printed more than the kit keeps (head and tail kept)
``hang``           still running at the timeout (or when the kit was stopped): where each process was
                   (its Python stacks, Linux)
``shadows_stdlib`` an import failed because the script (or a file beside it) is named like a module of the
                   standard library (``random.py``): it is imported in that module's place
"""
from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass
from collections.abc import Iterable, Sequence

from kit import oom
from kit.events import Event
from kit.observation import End, Observation
from kit.outcomes import DEFAULT, Code, Ev, Method, Role, Status, exit_code

from kit.results import Diagnosis, RunResult
from kit.source import STDLIB_MODULES, SourceFacts

BOOTSTRAP = "before the current process has finished its bootstrapping phase"
_PICKLING = re.compile(
    r"PicklingError|Can't pickle|cannot pickle|Can't get local object|Can't get attribute|MaybeEncodingError"
    r"|pickle local object")
_PICKLED_WHAT = re.compile(
    r"Can't pickle (?:local object )?(<[^<>]*(?:<[^<>]*>[^<>]*)*>|'[^']*'|\S+)"  # a repr may nest <lambda>
    r"|cannot pickle '([^']+)'|Can't get attribute '([^']+)'|Can't get local object '([^']+)'")
FORK_THREADS = "is multi-threaded, use of fork() may lead to deadlocks"
_LEAKED = re.compile(r"resource_tracker: There appear to be \d+ leaked \w+ objects")
SLOW_TOP_LEVEL_S = 0.5


@dataclass(frozen=True)
class Death:
    """A process of the run that ended with an error."""

    pid: int
    name: str  # "SpawnPoolWorker-3", "" when it died before it had one
    error: str  # the last line of its traceback
    main: bool = False


def deaths(events: Iterable[Event]) -> list[Death]:
    out = []
    for e in events:
        if e.kind in (Ev.CHILD_ERROR, Ev.CHILD_DIED):
            out.append(Death(e.pid, str(e.data.get("name") or ""), str(e.data.get("error", ""))))
        elif e.kind == Ev.SCRIPT_ERROR:
            out.append(Death(e.pid, "the main process", str(e.data.get("error", "")), main=True))
        elif e.kind == Ev.CHILD_KILLED and isinstance(e.data.get("child"), int):
            out.append(Death(int(e.data["child"]), str(e.data.get("name") or ""),
                             f"killed by {e.data.get('signal')} (exit code {e.data.get('exitcode')})"))
    return out


def _who(d: Death) -> str:
    return d.name if d.main else f"{d.name or 'child'} (pid {d.pid})"


def _some(deaths_: Sequence[Death], limit: int = 3) -> str:
    names = ", ".join(_who(d) for d in deaths_[:limit])
    return names + (f" and {len(deaths_) - limit} more" if len(deaths_) > limit else "")


def top_level_runs(obs: Observation) -> int:
    """How many processes began executing the script's top level (1 under fork)."""
    return len({e.pid for e in obs.of(Ev.TOP_LEVEL)})


def _roles(obs: Observation) -> dict[int, str]:
    return {p.pid: str(p.role) for p in obs.processes}


def _uses_pool(obs: Observation) -> bool:
    return any("PoolWorker" in str(e.data.get("name", "")) for e in obs.of(Ev.PROCESS_STARTED))


def _missing_guard(obs: Observation, dead: list[Death], facts: SourceFacts | None) -> list[Diagnosis]:
    hit = [d for d in dead if BOOTSTRAP in d.error and not d.main]
    if not hit:
        return []
    loop = " (stopped early: the pool kept replacing them)" if obs.end is End.CRASH_LOOP else ""
    no_block = " The script has no `if __name__ == \"__main__\":` block." if facts and not facts.guarded else ""
    return [Diagnosis(
        Code.MISSING_GUARD,
        f"{len(hit)} child process(es) under {obs.method} died re-importing the main module{loop}: "
        f"{_some(hit)}: RuntimeError: An attempt has been made to start a new process {BOOTSTRAP}.{no_block}",
        "Put the code that starts processes (and all other top-level work) under "
        "`if __name__ == \"__main__\":`. Spawn and forkserver children import the main module; "
        "without the guard they try to start processes themselves.")]


def _pickling(obs: Observation, dead: list[Death]) -> list[Diagnosis]:
    hit = [d for d in dead if _PICKLING.search(d.error)]
    if not hit:
        return []
    d = hit[0]
    what = _PICKLED_WHAT.search(d.error)
    obj = next((g for g in what.groups() if g), "") if what else ""
    where = "in the parent" if d.main else f"in {_who(d)}"
    pool = (" A Pool pickles its tasks and results under every start method, fork included."
            if _uses_pool(obs) or "Pool" in d.error else "")
    fix = "Define targets and pool functions at module top level (no lambdas, no nested functions); "
    if "lock" in d.error.lower():
        fix += "a threading.Lock cannot be sent to a child: pass a multiprocessing.Lock() as an argument "
        fix += "or create the lock in the child."
    elif "Can't get attribute" in d.error:
        fix += ("the child could not find it in the re-imported main module: define it at top level of "
                "the script file (not under `python -c`, not only in the main block).")
    else:
        fix += "pass only picklable arguments (no locks, sockets, open files, generators): create those in the child."
    obj_text = f" ({obj})" if obj else ""
    return [Diagnosis(Code.PICKLING, f"under {obs.method}, something could not be pickled{obj_text} {where}: "
                                     f"{d.error}.{pool}", fix)]


_SHADOWED = re.compile(r"(?:from (?:partially initialized module )?|module )'(?P<module>[\w.]+)'")
_SHADOW_FILE = re.compile(r"consider renaming '(?P<renamed>[^']+)'|\((?P<path>[^()]+\.py)\)\s*$")
_STDLIB_DIR = re.compile(r"[/\\]lib(?:[/\\]python\d+\.\d+t?)?$", re.IGNORECASE)
"""The folder the standard library's modules are in: ``.../lib/python3.12`` (POSIX), ``...\\Lib`` (Windows)."""


def _module_file(path: str) -> tuple[str, str]:
    """(module name, the folder it is in) of a module's file: ``a/b/random.py`` -> ("random", "a/b");
    a package's ``a/b/json/__init__.py`` -> ("json", "a/b")."""
    parts = path.replace("\\", "/").split("/")
    if parts[-1] == "__init__.py" and len(parts) > 1:
        parts = parts[:-1]
    name = parts[-1][:-3] if parts[-1].endswith(".py") else parts[-1]
    return name, "/".join(parts[:-1])


def shadowing_file(error: str, facts: SourceFacts | None = None) -> str:
    """The file an import found in place of a standard-library module, from an error's last line
    ("cannot import name 'Random' from 'random' (/home/me/random.py)"): its path, or the script's name
    when the line names no file and the script is named like the module; "" when it is no such error."""
    if not error.startswith(("ImportError", "AttributeError")):
        return ""
    m = _SHADOWED.search(error)
    module = m.group("module").split(".")[0] if m else ""
    if module not in STDLIB_MODULES:
        return ""
    f = _SHADOW_FILE.search(error)
    path = (f.group("renamed") or f.group("path")) if f else ""
    if path:
        name, folder = _module_file(path)
        return path if name == module and not _STDLIB_DIR.search(folder) else ""
    return f"{module}.py" if facts is not None and facts.shadows == module else ""


def _shadows_stdlib(obs: Observation, dead: list[Death], facts: SourceFacts | None) -> list[Diagnosis]:
    hit = [(d, shadowing_file(d.error, facts)) for d in dead]
    hit = [(d, f) for d, f in hit if f]
    if not hit:
        return []
    d, path = hit[0]
    module, _ = _module_file(path)
    name = path.replace("\\", "/").rsplit("/", 1)[-1] if path.endswith(f"{module}.py") else f"the folder {module}"
    whose = "the script" if facts is not None and facts.shadows == module else f"the file {path}"
    return [Diagnosis(
        Code.SHADOWS_STDLIB,
        f"under {obs.method}, {whose} is imported in place of the standard library's {module} module "
        f"(in {_some([x for x, _ in hit])}): {d.error}",
        f"Rename {name} (for example to my_{module}.py): Python puts the script's folder first on sys.path, so "
        f"every `import {module}` (the standard library's own, multiprocessing's) finds that file instead; spawn and "
        "forkserver children import afresh, so they meet it even where the parent already had the real module.")]


def _worker_died(obs: Observation, dead: list[Death], facts: SourceFacts | None) -> list[Diagnosis]:
    hit = [d for d in dead if not d.main and BOOTSTRAP not in d.error and not _PICKLING.search(d.error)
           and not shadowing_file(d.error, facts)]
    if not hit:
        return []
    counts = Counter(d.error for d in hit)
    error, n = counts.most_common(1)[0]
    same = [d for d in hit if d.error == error]
    loop = (f" The same death repeated {n} times: the run was stopped early instead of waiting for the timeout."
            if obs.end is End.CRASH_LOOP else "")
    others = f" (and {len(hit) - n} other death(s))" if len(hit) > n else ""
    fix = "Fix the error raised in the child (its traceback is in stderr)."
    if any("PoolWorker" in d.name for d in same):
        fix += (" A Pool replaces a worker that dies, forever: an initializer that raises makes the pool "
                "hang. Check the initializer's inputs in the parent, or catch and report its errors.")
    if any(d.error.startswith("killed by") for d in same):
        fix = ("A signal ended it (SIGKILL: often the OOM killer, or a kill from outside); it left no traceback. "
               + ("A Pool never learns that the task its worker held is lost: map() and get() without a timeout "
                  "wait forever. Use concurrent.futures.ProcessPoolExecutor (it raises BrokenProcessPool), or "
                  "get(timeout=...) on the results." if any("PoolWorker" in d.name for d in same) else
                  "Find who sends it (the kernel log says when the OOM killer acts), and check exitcode in the "
                  "parent."))
    return [Diagnosis(Code.WORKER_DIED, f"{n} child process(es) died under {obs.method}: {error} "
                                        f"[{_some(same)}]{others}.{loop}", fix)]


def _top_level(obs: Observation, facts: SourceFacts | None) -> list[Diagnosis]:
    pids = list(dict.fromkeys(e.pid for e in obs.of(Ev.TOP_LEVEL)))
    if len(pids) < 2 or facts is None:
        return []
    done = {e.pid: e for e in obs.of(Ev.TOP_LEVEL_DONE)}
    slow = [done[p].data.get("wall_s", 0.0) for p in pids[1:] if p in done
            and float(done[p].data.get("wall_s", 0.0)) >= SLOW_TOP_LEVEL_S]
    shown = list(facts.effects) + (list(facts.computed) if slow else [])
    if not shown:
        return []
    roles = _roles(obs)
    names = {e.pid: str(e.data.get("process", "")) for e in obs.of(Ev.TOP_LEVEL)}

    def label(pid: int) -> str:
        if pid == obs.main_pid:
            return f"main {pid}"
        role = roles.get(pid, "")
        if role == Role.FORKSERVER or (names.get(pid) == "MainProcess" and role != Role.MAIN):
            return f"the forkserver {pid}"
        return f"{names.get(pid) or 'child'} {pid}"

    lines = "; ".join(f"line {e.line}: {e.text}" for e in shown[:3]) + ("; ..." if len(shown) > 3 else "")
    cost = f" It took up to {max(slow):.1f} s in each child." if slow else ""
    return [Diagnosis(
        Code.TOP_LEVEL_REEXECUTED,
        f"the script's top level ran in {len(pids)} processes under {obs.method} "
        f"({', '.join(label(p) for p in pids[:4])}{', ...' if len(pids) > 4 else ''}): {lines}.{cost}",
        "Move that code under `if __name__ == \"__main__\":` or into a function called from there; "
        "spawn and forkserver children (and, from 3.13.8/3.14.1, the forkserver itself) import the main module.")]


def _stderr_lines(obs: Observation, needle: str) -> list[str]:
    return [line.strip()[:300] for line in obs.stderr.text.splitlines() if needle in line]


def _thread_text(t: object) -> str:
    data = t if isinstance(t, dict) else {}
    where = f" started at {data.get('started_at')}" if data.get("started_at") else ""
    return f"{data.get('name', '?')!s}{' (daemon)' if data.get('daemon') else ''}{where}"


FORK_THREADS_FIX = ("Start processes before starting threads (a Queue.put() starts a feeder thread, a Pool its "
                    "handler threads), or use the spawn or forkserver context: "
                    "multiprocessing.get_context(\"forkserver\").")


def _fork_with_threads(obs: Observation) -> list[Diagnosis]:
    """fork() while other threads ran, named by the probe on every Python (the 3.12+ warning is
    only a fallback: it needs 3.12 and warnings not filtered)."""
    forks = obs.of(Ev.FORK_WITH_THREADS)
    warned = _stderr_lines(obs, FORK_THREADS)
    if not forks:
        return [Diagnosis(Code.FORK_WITH_THREADS, f"fork() of a multi-threaded process, {len(warned)} time(s): "
                          f"{warned[0]}", FORK_THREADS_FIX)] if warned else []
    first = forks[0]
    counted = Counter(_thread_text(t) for t in first.data.get("threads") or [])  # one line per kind of thread
    threads = [f"{n} x {text}" if n > 1 else text for text, n in counted.items()]
    native = int(first.data.get("native_beyond") or 0)
    if native:
        threads.append(f"{native} native thread(s) Python did not start (a C library's)")
    pids = len({e.pid for e in forks})
    return [Diagnosis(
        Code.FORK_WITH_THREADS,
        f"fork() while other threads ran, {len(forks)} time(s) in {pids} process(es); the first, from thread "
        f"{first.data.get('forking') or '?'} of pid {first.pid}, with: {'; '.join(threads[:4])}"
        f"{' and more' if len(threads) > 4 else ''}. Only the forking thread exists in the child: a lock another "
        "thread held at that moment (logging's, stdout's, the allocator's) stays locked there forever, and the "
        "child can hang", FORK_THREADS_FIX)]


def _warnings(obs: Observation) -> list[Diagnosis]:
    out = _fork_with_threads(obs)
    leaked = [line for line in _stderr_lines(obs, "resource_tracker") if _LEAKED.search(line)]
    if leaked:
        out.append(Diagnosis(
            Code.LEAKED_RESOURCES, f"the resource tracker cleaned up after the run: {leaked[0]}",
            "join() every process before the main process exits, and close or unlink what you create "
            "(Queue.close(), SharedMemory.unlink()); a Lock or Semaphore is leaked when main exits while "
            "children still use it."))
    return out


def _own_method(obs: Observation) -> list[Diagnosis]:
    sets = [e for e in obs.of(Ev.SET_START_METHOD) if e.pid == obs.main_pid and e.data.get("ok")]
    if not sets:
        return []
    chosen = str(sets[-1].data.get("method"))
    used = sorted({str(e.data.get("method")) for e in obs.of(Ev.PROCESS_STARTED) if e.data.get("method")})
    ran = f"; its processes ran under {', '.join(used)}" if used else "; it started no process"
    return [Diagnosis(
        Code.SETS_OWN_METHOD,
        f"the script calls set_start_method({chosen!r}) itself (the kit made {obs.method} the default){ran}",
        "Nothing to fix. To compare methods with the kit, leave the method to the default, or choose it from "
        "an environment variable.")]


def _truncated(obs: Observation) -> list[Diagnosis]:
    cut = [(name, o) for name, o in (("stdout", obs.stdout), ("stderr", obs.stderr)) if o.dropped_bytes]
    if not cut:
        return []
    parts = ", ".join(f"{name} {o.total_bytes:,} bytes ({o.dropped_bytes:,} dropped)" for name, o in cut)
    return [Diagnosis(Code.OUTPUT_TRUNCATED, f"the run printed more than the kit keeps: {parts}; "
                                             "the head and the tail are kept",
                      "Print less, or write bulk output to a file.")]


@dataclass(frozen=True)
class Frame:
    path: str
    line: int
    func: str

    def short(self) -> str:
        return f"{self.func} ({self.path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{self.line})"


_THREAD = re.compile(r"^(Current thread|Thread) 0x[0-9a-fA-F]+")
_FRAME = re.compile(r'^\s+File "(.*)", line (\d+) in (.*)$')
_LIBRARY = re.compile(r"^<(frozen |string>)|[/\\]python3?\.?\d*[/\\]|[/\\]kit[/\\](probe|launcher)\.py$")
"""Frames that are not the script's: the standard library, frozen modules, ``python -c`` (a spawn
child's bootstrap), the kit's launcher and probe."""
_HELPER_ROLES = (Role.FORKSERVER, Role.RESOURCE_TRACKER)


def threads_of(stack: str) -> list[list[Frame]]:
    """A process's faulthandler dump as threads, each a list of frames, innermost first."""
    threads: list[list[Frame]] = []
    for line in stack.splitlines():
        if _THREAD.match(line):
            threads.append([])
        elif (m := _FRAME.match(line)) and threads:
            threads[-1].append(Frame(m.group(1), int(m.group(2)), m.group(3)))
    return [t for t in threads if t]


def _feeder(frames: list[Frame]) -> bool:
    """A Queue's feeder thread blocked writing to the pipe: its data is not being read."""
    return (any(f.func == "_feed" and f.path.endswith("queues.py") for f in frames)
            and frames[0].func in ("_send", "_send_bytes", "send_bytes", "write"))


def _exiting(frames: list[Frame]) -> bool:
    """The thread is in multiprocessing's exit handler (joining children, terminating daemons)."""
    return any(f.func == "_exit_function" for f in frames)


def _where(frames: list[Frame]) -> str:
    """Where a thread waits: its innermost frame, and the script's own frame that led there."""
    own = next((f for f in frames if not _LIBRARY.search(f.path)), None)
    exiting = "exiting, " if _exiting(frames) else ""
    text = f"{exiting}in {frames[0].short()}"
    return text + (f" from {own.short()}" if own is not None and own is not frames[0] else "")


def _hang(obs: Observation) -> list[Diagnosis]:
    stuck = [(p, threads_of(p.stack)) for p in obs.processes if p.stack]
    stuck = [(p, ts) for p, ts in stuck if ts and p.role not in _HELPER_ROLES]  # helpers wait by design
    if obs.end not in (End.TIMEOUT, End.INTERRUPTED) or not stuck:
        return []
    parts, feeders, main_joins, main_exits = [], [], False, False
    for p, threads in sorted(stuck, key=lambda s: (s[0].pid != obs.main_pid, s[0].pid)):
        who = "the main process" if p.pid == obs.main_pid else f"{p.role} (pid {p.pid})"
        fed = [t for t in threads if _feeder(t)]
        if fed:
            feeders.append(p)
        if p.pid == obs.main_pid:
            main_joins = any(f.func == "join" and f.path.endswith("process.py") for f in threads[-1])
            main_exits = _exiting(threads[-1])
        shown = threads[-1]  # faulthandler lists the newest thread first: the main thread, the oldest, is last
        text = f"{who} {_where(shown)}"
        if fed:
            text += f", and a Queue's feeder thread blocked writing data nobody reads, in {fed[0][0].short()}"
        parts.append(text)
    listed = "; ".join(parts[:4]) + (f"; and {len(parts) - 4} more" if len(parts) > 4 else "")
    when = (f"still running after {obs.timeout_s:g} s" if obs.end is End.TIMEOUT else
            f"stopped ({obs.stop_reason or 'interrupted'}) after {obs.wall_s:.1f} s")
    message = f"{when}; where each process was: {listed}"
    if main_joins and feeders:
        return [Diagnosis(
            Code.HANG, f"{message}.  The main process joins a child that cannot exit: the child's Queue "
                       "still holds data nobody has read",
            "Get everything a child put on a Queue before joining it (q.get() before p.join()); see "
            "'Joining processes that use queues' in the multiprocessing programming guidelines.")]
    children = [p for p, _ in stuck if p.pid != obs.main_pid]
    if main_exits and children:
        daemons = {e.data.get("child") for e in obs.of(Ev.PROCESS_STARTED) if e.data.get("daemon")}
        stubborn = [p for p in children if p.pid in daemons]
        if stubborn:
            return [Diagnosis(
                Code.HANG, f"{message}.  The main process is exiting: multiprocessing sent SIGTERM to its daemon "
                           f"children and waits for them, and the daemon (pid {stubborn[0].pid}) did not end on it",
                "A daemon child must end on SIGTERM (do not ignore it; exit from a handler), or be stopped by the "
                "script before the main process exits (an Event the child checks, then join()).")]
        return [Diagnosis(
            Code.HANG, f"{message}.  The main process is exiting and waits for a non-daemon child that never "
                       "ends: multiprocessing joins every non-daemon child at exit",
            "Tell the child to stop (an Event it checks, a sentinel on its Queue) and join() it, or make it a "
            "daemon if it may be terminated when the main process exits.")]
    return [Diagnosis(
        Code.HANG, message,
        "Each process's Python stacks at the timeout are in the JSON (processes[].stack; -v prints them): "
        "look for a join(), get(), recv() or acquire() that nothing on the other side will ever answer.")]


def diagnose(obs: Observation, facts: SourceFacts | None = None) -> list[Diagnosis]:
    """Every diagnosis of one run, in a fixed order; a process the OOM killer ended is explained by
    ``oom_killed`` alone."""
    killed = oom.victim_pids(obs)
    dead = [d for d in deaths(obs.events) if d.pid not in killed]
    return [*oom.diagnose(obs), *of_deaths(obs, dead, facts), *_top_level(obs, facts), *of_the_run(obs)]


def of_deaths(obs: Observation, dead: list[Death], facts: SourceFacts | None = None) -> list[Diagnosis]:
    """What ``dead`` (processes of ``obs`` that ended with an error) show: a missing guard, a
    pickling failure, a script shadowing the standard library, workers that died (a suite asks
    this of each test's deaths)."""
    return [*_missing_guard(obs, dead, facts), *_pickling(obs, dead), *_shadows_stdlib(obs, dead, facts),
            *_worker_died(obs, dead, facts)]


def of_the_run(obs: Observation) -> list[Diagnosis]:
    """What belongs to the whole run, not to a process: warnings, a chosen method, output cut, a hang."""
    return [*_warnings(obs), *_own_method(obs), *_truncated(obs), *_hang(obs)]


def pickling_failure(text: str) -> bool:
    """Does an error line say something could not be pickled (or unpickled)?"""
    return bool(_PICKLING.search(text))


# -- across the runs of one `kit run` ----------------------------------------------------------
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_VARIES: tuple[tuple[re.Pattern[str], str], ...] = (
    # a date, with its time and zone if given: 2026-12-06 18:19:39,123 / 2026-12-06T18:19:39.123+00:00
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b"),
     "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),  # 18:19:39, 18:19:39.123, 0:00:01.5
    (re.compile(r"\b1\d{9}\.\d+\b"), "<time>"),  # time.time(): seconds since 1970, with a fraction
    # a duration: took 0.01s, 0.012 s, pytest's "in 0.06s", 1.2ms, 3 seconds, 1.5e-05 s, 1.0 秒
    (re.compile(r"\b\d+(?:\.\d+)?(?:[eE]-?\d+)?\s?(?:ns|us|µs|μs|ms|s|secs?|seconds?|min|minutes?|毫秒|秒)(?!\w)"),
     "<duration>"),
    (_HEX, "0x..."),  # addresses: <Box object at 0x7f...>, id()s printed in hex
)
"""What changes from run to run whatever the start method, with what stands for it when outputs are compared."""
_MAX_UNMERGED_LINES = 1000
_MAX_UNMERGED_LENGTH = 300


def ignore_patterns(patterns: Iterable[str]) -> list[re.Pattern[str]]:
    """``--ignore-output`` values compiled (``^`` and ``$`` match at each line); ValueError naming a bad one."""
    out = []
    for p in patterns:
        try:
            out.append(re.compile(p, re.MULTILINE))
        except re.error as exc:
            raise ValueError(f"not a regular expression: {p!r} ({exc})") from None
    return out


def _normal(r: RunResult, pids: Iterable[int] = ()) -> list[str]:
    """stdout's lines with times, durations, addresses and ``pids`` (of both runs compared) replaced by
    a placeholder; blank lines dropped (processes that print at once can move a line's end), and each
    line's trailing space."""
    text = r.stdout
    for pattern, mark in _VARIES:
        text = pattern.sub(mark, text)
    numbers = sorted({str(p) for p in pids}, key=len, reverse=True)
    if numbers:
        text = re.sub(r"\b(" + "|".join(numbers) + r")\b", "<pid>", text)
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _kept(lines: list[str], ignore: Sequence[re.Pattern[str]]) -> list[str]:
    """``lines`` with what a user marked (``--ignore-output``) removed from each; a line left blank is dropped."""
    if not ignore:
        return lines
    out = []
    for line in lines:
        for pattern in ignore:
            line = pattern.sub("", line)
        if line.strip():
            out.append(line.rstrip())
    return out


_TOKEN = re.compile(r"\d+|\D")
_NUMBER = "\0"


def _shape(tokens: Sequence[str]) -> str:
    """A line's shape: its text with each number a wildcard ("12车通过" and "3车通过" have one shape)."""
    return "".join(_NUMBER if t[0].isdigit() else t for t in tokens)


def _split(line: str, shapes: set[str], longest: int) -> list[str] | None:
    """``line`` as two or more pieces run together, each shaped like a whole line of the outputs
    compared (most pieces wins: a line of lines is split to the lines), or None.  A number is
    never cut."""
    tokens = _TOKEN.findall(line)
    best: dict[int, tuple[int, int]] = {0: (0, 0)}  # token position -> (pieces so far, where the last began)
    for i in range(len(tokens)):
        if i not in best:
            continue
        shape = ""
        for j in range(i + 1, min(len(tokens), i + longest) + 1):
            shape += _shape(tokens[j - 1:j])
            if j - i < len(tokens) and shape in shapes and best[i][0] + 1 > best.get(j, (0, 0))[0]:
                best[j] = (best[i][0] + 1, i)
    if len(tokens) not in best or best[len(tokens)][0] < 2:
        return None
    pieces, j = [], len(tokens)
    while j:
        i = best[j][1]
        pieces.append("".join(tokens[i:j]))
        j = i
    return pieces[::-1]


def _unmerged(mine: list[str], theirs: list[str]) -> list[str]:
    """``mine``, sorted, with each line the other run lacks split into lines run together where it is
    such.  Processes that print at the same time can write one's text, then another's, before either
    writes its newline ("12车通过16车通过"): that is two lines of output, not a new one."""
    extra = Counter(mine) - Counter(theirs)
    if not extra or sum(extra.values()) > _MAX_UNMERGED_LINES:
        return sorted(mine)
    shapes = {_shape(_TOKEN.findall(w)) for w in {*mine, *theirs} if len(w) <= _MAX_UNMERGED_LENGTH}
    longest = max((len(_TOKEN.findall(w)) for w in {*mine, *theirs} if len(w) <= _MAX_UNMERGED_LENGTH), default=0)
    out = Counter(mine)
    for line, n in extra.items():
        pieces = _split(line, shapes, longest) if len(line) <= _MAX_UNMERGED_LENGTH else None
        if pieces:
            out[line] -= n
            for piece in pieces:
                out[piece] += n
    return sorted(out.elements())


def compared_lines(r: RunResult, ref: RunResult, ignore: Sequence[re.Pattern[str]] = ()) -> tuple[list[str], list[str]]:
    """The lines of ``r`` and of ``ref`` as ``compare`` compares them, sorted (processes print in any order);
    ``ignore`` applies to each line once times, durations, addresses and pids have their placeholders."""
    pids = {p.pid for p in r.processes} | {p.pid for p in ref.processes}
    mine, theirs = _normal(r, pids), _normal(ref, pids)
    # lines run together are split first, so that a marked line printed into another one is left out too
    return _kept(_unmerged(mine, theirs), ignore), _kept(_unmerged(theirs, mine), ignore)


def _label(r: RunResult) -> str:
    return f"{r.method} on {r.place}"


def reference_of(r: RunResult, results: Sequence[RunResult]) -> RunResult | None:
    """The run ``r`` is compared with: on the first target, that target's default-method run;
    on another target, the first target's run of the same method (of its default for ``default``)."""
    def default_run(t: str) -> RunResult | None:
        runs = [x for x in results if x.place == t and x.status != Status.SKIPPED]
        chosen = [x for x in runs if x.platform and x.method == x.platform.default_method]
        return (chosen or runs)[0] if (chosen or runs) else None

    first = results[0].place
    if r.place == first or r.requested_method == DEFAULT:
        ref = default_run(first)
    else:
        ref = next((x for x in results if x.place == first and x.method == r.method), None) or default_run(r.place)
    return None if ref is r else ref


def _comparable(r: RunResult) -> bool:
    return r.status in (Status.PASS, Status.FAIL) and r.exitcode is not None


def compare(results: Sequence[RunResult], facts: SourceFacts | None = None, ignore: Sequence[str] = ()) -> None:
    """Add ``output_differs`` to each run whose stdout or exit code differ from its reference
    (replacing any it had: a container's kit compares its own runs too).  Stdout is compared as
    ``compared_lines`` gives it: without what varies from run to run whatever the method (times,
    durations, addresses, the runs' pids, what matches an ``ignore`` pattern), line order and lines
    run together by concurrent prints ignored; the diff shows those compared lines."""
    patterns = ignore_patterns(ignore)
    for r in results:
        r.diagnoses = [d for d in r.diagnoses if d.code is not Code.OUTPUT_DIFFERS]
    for r in results:
        ref = reference_of(r, results) if results else None
        if ref is None or not _comparable(r) or not _comparable(ref):
            continue
        mine, theirs = compared_lines(r, ref, patterns)
        differ = mine != theirs
        if not differ and r.exitcode == ref.exitcode:
            continue
        parts = []
        if r.exitcode != ref.exitcode:
            parts.append(f"exit code {exit_code(r.exitcode)} here, {exit_code(ref.exitcode)} under {_label(ref)}")
        if differ:
            diff = [d for d in difflib.unified_diff(theirs, mine, lineterm="", n=0) if d[:1] in "+-"
                    and not d.startswith(("+++", "---"))]
            shown = " | ".join(d[:100] for d in diff[:6]) + (" | ..." if len(diff) > 6 else "")
            parts.append(f"stdout differs from {_label(ref)} ({shown})")
        r.diagnoses.append(Diagnosis(Code.OUTPUT_DIFFERS, "; ".join(parts), _differs_fix(r, ref, facts, differ)))


def _differs_fix(r: RunResult, ref: RunResult, facts: SourceFacts | None, stdout: bool) -> str:
    spawnish = r.method is not Method.FORK and ref.method is Method.FORK
    if facts and facts.main_globals and (spawnish or r.method != ref.method):
        return (f"Likely module-level state set in the main block ({', '.join(facts.main_globals[:5])}): "
                "spawn and forkserver children re-import the module and see its import-time value, fork "
                "children inherit the parent's. Pass the value to the child as an argument (or via a Pool "
                "initializer) instead of a global.")
    fix = "Make the result independent of the start method."
    if stdout:
        fix += " Lines that vary from run to run whatever the method (timings, random values) can be left out " \
               "of the comparison with --ignore-output REGEX."
    return fix


def differs(results: Sequence[RunResult]) -> bool:
    return any(r.has(Code.OUTPUT_DIFFERS) for r in results)


def started_no_process(results: Sequence[RunResult]) -> bool:
    """No run started a process (each run's ``methods_used`` comes from its ``process_started`` events)."""
    return not any(r.methods_used for r in results)


TESTS_HINT = "this looks like a test file: use `kit pytest`"


def summary_line(results: Sequence[RunResult], facts: SourceFacts | None = None) -> str:
    """"same under every method", "differs: ...", or why nothing was compared, for the runs of one
    ``kit run``; with the hint to use ``kit pytest`` when the script looks like a pytest module."""
    ran = [r for r in results if r.status != Status.SKIPPED]
    line = _summary(ran)
    return f"{line}; {TESTS_HINT}" if ran and facts is not None and facts.looks_like_tests else line


def _summary(ran: Sequence[RunResult]) -> str:
    if not ran:
        return "nothing ran"
    statuses = {str(r.status) for r in ran}
    changed = [r for r in ran if r.has(Code.OUTPUT_DIFFERS)]
    if len(statuses) == 1 and not changed:
        status = statuses.pop()
        methods = list(dict.fromkeys(str(r.method) for r in ran))
        several = len({r.place for r in ran if r.platform}) > 1
        # one method asked for (``--method default`` is one, whichever each target's default is)
        one = (f"under each target's default method ({', '.join(methods)})"
               if len(methods) > 1 and all(r.requested_method == DEFAULT for r in ran) else
               f"under {methods[0]}{' on every target' if several else ''}" if len(methods) == 1 else "")
        if started_no_process(ran) and Status(status).ok:
            return f"no process was started: nothing depends on the start method here ({status})"
        if started_no_process(ran):
            return f"{status} {one or 'under every method'} before any process was started: nothing to compare"
        if one:
            return f"{status} {one}, the only method run: nothing compared across methods"
        return f"same under every method{' and target' if several else ''} ({status})"
    parts = []
    for r in ran:
        codes = sorted(str(c) for c in r.codes())
        parts.append(f"{_label(r)}: {r.status}" + (f" ({', '.join(codes)})" if codes else ""))
    return "differs: " + "; ".join(parts)

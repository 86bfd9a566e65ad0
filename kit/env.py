"""Every environment variable the kit reads or sets, named once.

Set by the kit for a run (read by the run's processes):
    EVENTS     the folder each process appends its events to (``kit._record``)
    SCALE      the time factor of the examples' sleeps (``kit.examples._support``)
    METHOD     the start method made the default in every Python process of the run (``kit.probe``)
Set by the kit for a container it starts (read by the kit inside):
    TARGET     ``docker:X.Y``: what ``PlatformInfo.place`` says (``kit.results``)
    PIDNS      ``1``: the container's pid namespace is the run's group (``kit._platform._pidns``)
Set by the kit for a run where the platform has a signal to spare (``kit._platform.stack_signal``):
    STACK_SIGNAL  the signal on which each process of the run writes every thread's Python stack
               to ``<pid>.stacks`` in the events folder (``kit.probe``): sent at a timeout
Set by users:
    EVIDENCE   ``auto`` | ``cgroup`` | ``psutil``: which observation backend (``kit.runner``)
    DEBUG      ``1``: what the kit swallowed, and tracebacks (``kit.debug``, ``kit.cli``)
    CACHE_DIR  where built image contexts are kept (``kit.container.images``)
    DEBIAN_MIRROR  the mirror mmdebstrap builds bases from (``kit.container.images``)

Imported by every process of a run (through ``kit._record``): constants only.
"""
EVENTS = "KIT_EVENTS"
SCALE = "KIT_SCALE"
METHOD = "KIT_METHOD"
TARGET = "KIT_TARGET"
PIDNS = "KIT_PIDNS"
STACK_SIGNAL = "KIT_STACK_SIGNAL"
EVIDENCE = "KIT_EVIDENCE"
DEBUG = "KIT_DEBUG"
CACHE_DIR = "KIT_CACHE_DIR"
DEBIAN_MIRROR = "KIT_DEBIAN_MIRROR"

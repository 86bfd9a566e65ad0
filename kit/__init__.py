"""kit: see how multiprocessing really behaves under fork, spawn and forkserver.

Data flow: ``examples`` -> ``runner`` (via ``launcher``, under a start method)
-> ``observer`` (psutil) -> ``checks`` -> ``render``/``results`` (JSON).
"""
__version__ = "0.1.0"

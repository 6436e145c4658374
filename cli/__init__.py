"""The `gateway` admin command (click): one module per noun.

A command is a short process that allocates much and frees little (SQLAlchemy's
mappers at import, then an archive build's index of every message): the cycle
collector's default pace, a pass every 700 new objects, costs an archive update about
a tenth of its time. Commands collect less often; `gateway serve`, which runs for
months, and its children go back to CPython's pace (gateway.runtime.serve).
"""

import gc

gc.set_threshold(20_000, 50, 50)

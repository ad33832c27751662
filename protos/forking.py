"""gRPC's fork handlers stay off in every Patrol process (imported before gRPC, by ``agent``,
``collector`` and the test suite).

Patrol forks only to run another program at once (the agent's diagnostics and probes, the CLI's
helpers, the servers tests start). grpcio registers handlers that run around every ``fork()``; a fork
while another thread is inside gRPC logs "skipping fork() handlers" each time and can crash the child
before it runs the program. ``GRPC_ENABLE_FORK_SUPPORT=0``, read when gRPC starts, leaves them out;
a value set in the environment is kept.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "0")

"""Quarantine: upstream batches the store refused for good, kept raw with the reason, acked to the agent.

Nothing an agent sent disappears silently: ``patrol quarantine list`` shows what is held,
``export`` writes an entry's raw ``patrol.v1.AgentMessage`` bytes to a file and ``retry`` commits it
again once the cause is fixed.
"""

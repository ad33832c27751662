"""Several collectors on one state store: membership, the group lease, and taking over a dead member's work."""

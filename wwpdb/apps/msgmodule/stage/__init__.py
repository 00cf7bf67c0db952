"""Stages: which backend a site writes and reads, and how it moves between them.

- `policy`: the five stages and the flag rules (pure).
- `record`: the site's stage record and the site lock, in the archive root.
- `lifecycle`: moves from stage to stage, each one guarded step (the state machine).
- `evidence`: what validation proved, and whether it still holds.
- `reconcile`: re-copying what a dual write left behind.
- `routing`: the store of the stage in force, followed on every call; health.
"""

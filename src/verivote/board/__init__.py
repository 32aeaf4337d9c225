"""The append-only bulletin board (DESIGN.md, "Bulletin board").

- `merkle`: the RFC 6962 / RFC 9162 Merkle tree, its inclusion and consistency proofs, and an
  incremental log.
- `note`: C2SP signed notes with Ed25519 keys.
- `checkpoint`: C2SP tlog checkpoints and the faction witnesses that cosign them.
- `record`: the election record on disk (entries, checkpoint, keys) and its check.
"""

# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: fc1c0d315e71e74f7457855bd49193300e93692bd6ac5b868d4fd9afecf0bd54
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: 66073e9d22dcd7aa0fe4bd8119003e7ed6c58355ee2a002884d0390a58453a2ba03bf1dac0dd5b4740772f17a5d55ed162f8eea22b1e79abc097d309661b1100
    signed_at: 2026-12-07T20:01:01.560837Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: 2049b2c71cda53a49afb5c5cfac916773ebc9ef32f4e9d9f50261cc23815d7c9ad815ce31b57a2e2f0228507ed7dfd621a9c46888e6ac7fca90c439ad6a27008
    signed_at: 2026-12-07T20:01:01.711439Z

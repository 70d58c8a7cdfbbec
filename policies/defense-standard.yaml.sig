# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: 74bbe3c1f1fa6e11e2691d2ac12252a3929130c7e084fdd0ff8c0360a5506dfb
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: fcf7e9b9a21b96fd23fa0c32c83117fe7994f62454e48618e2821cd90a09d585587225cf13836aafb9785223622765a0b5e899308354941c2a6e9df153110b05
    signed_at: 2026-11-29T04:31:01.592544Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: c70ec8508767618a037b70ba80a5b259f82412661bcbb131c4791fec8adb6767d8c01ee79270fd99625171c1069c920f91302dc99bd079cb5b6d02fed396c30f
    signed_at: 2026-11-29T04:31:01.822391Z

# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: 0f6ed0b040fc1f81386af4db51a62d1a028b68a870c92e5288c0cc4bc583a986
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: 81c177501698d24a5c02923f36bd90b1b1bddc02654beab19792fb978f41f09fdefe68a770bfed035fc1fc3d379d4a230fbb579e76eca1e0b00d6a570c14a604
    signed_at: 2026-12-07T13:10:16.213494Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: 000f2651e7239e745572cf6987cc8f88e7d4c4f9ea1245c849154a1b99aadf22b75f9bd6cdc1d2c4d45af40ed8b4229f7211e8038d2c2d543c57cb1c3275ba04
    signed_at: 2026-12-07T13:10:16.296624Z

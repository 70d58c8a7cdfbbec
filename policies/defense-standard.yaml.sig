# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: cfefff0670e2c5eb8cceeea3527ed24da8f24fccf17231e36d39efe457f55f71
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: c2aefbc2d4d5a7ed1ada80f29f05b2f0ca30a880092eab9eb564f307d3d3a6a2320f2acf03bfaab3967269ba6cb8f65a5b01db98b593c9b897fa8601e020f00f
    signed_at: 2026-12-07T13:39:26.003917Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: 55f3f9775c61165538bf95005ad8e29ea1f987a3efc99fd97923b092bd1d9a42356f5265cf7855e6f034ff5ceeb75b7a684e384cf53eecf2f4827629d6a0f40c
    signed_at: 2026-12-07T13:39:26.084501Z

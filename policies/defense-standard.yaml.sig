# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: a54b389812d0d4e7f1931b5b1fa231885f5ff94e049e9073d1598d08f5976484
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: ae4799e98f4c6025cf418e6eb8c726b90cb1855946ee10ae8da00505e68821a1e70b98584c5beec1e080ced5287ceaa496ba1d2d1d129206233cac810c23ef03
    signed_at: 2026-12-07T14:50:12.787699Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: 302ec3faef0fd13c6e4e054627ebd1965b47ca78f608015527c27f8ffa1b2a8c9c50ebad6f928b05900f0a5c3a09f86cabc60f5269f15b71b835cd184a861c07
    signed_at: 2026-12-07T14:50:12.855644Z

# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: a33d6cabdf9da9eb028c9ca9823bba36c5f8b9d6c05ae63c4241a18a1355384a
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: dca1a3a1959678390341bc7a7b417b290d715706ac3ad860c2a8475a7851269b0f601859f44dbc36c785f027fb047fb95a5f8c2bcae9f429d64e50612c1d0a09
    signed_at: 2026-12-07T13:49:51.453361Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: df76bd183436558532678df1aa0abaccf3d00c20f9a7879daa1f407ad0bb2c19b991c1b5cc8bc9b249d8587c2993254bb0d05a6cd0cbdbc397dab406867dbb08
    signed_at: 2026-12-07T13:49:51.530186Z

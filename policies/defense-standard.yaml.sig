# Firebreak policy signatures: each party signs the bundle digest (firebreak digest)
digest: 7262cd40bce602eea893c291f1040be3d268468a286d07b547a2359e7d24158b
signatures:
  - party: ai_provider
    key_id: 69fab894d50d7d41
    algorithm: ed25519
    signature: 3ba0cd3037a420849515c35ba92d7332b0ecc9d1f0976078565bcfbf9c48be4ad98c5673d2621c211b5779df73cb6b2da8eb154e3abeb47befbdd047a51cbe01
    signed_at: 2026-12-07T13:56:21.647217Z
  - party: deploying_org
    key_id: fc6a22de84d800d1
    algorithm: ed25519
    signature: 80f741c042e5bef8cc5d9583023145ccddac7bccacff37a360c8995dc7387182143ca1e037c85f38abce2b0beed70062e7ca8523782243ba9d2e80b761324305
    signed_at: 2026-12-07T13:56:21.739854Z

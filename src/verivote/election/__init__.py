"""Running an election: publishing the manifest, the key ceremony, casting, and later the tally,
decryption and count (DESIGN.md, package `election`)."""

"""Speaking other systems' formats: NIST common data formats, ElectionGuard records."""

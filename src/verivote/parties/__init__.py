"""The programs of the trust model other than the authority: guardians and witnesses (issue 14)."""

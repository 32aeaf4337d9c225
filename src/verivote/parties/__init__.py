"""The programs of the trust model other than the authority (issue 14): guardian, witness."""

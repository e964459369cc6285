"""fundguard common package: the only code the three services share."""

"""Stand-in for the `conch` package (github.com/mahmoodlab/CONCH): not on PyPI, not installable here."""

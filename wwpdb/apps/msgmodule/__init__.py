"""wwPDB OneDep deposition messages, stored in mmCIF archive files, a database, or both."""

__version__ = "0.200.0"

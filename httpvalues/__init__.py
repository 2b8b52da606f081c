"""Values of HTTP headers that both the crawler and the digest channels read.

A leaf beside ``storage``: it imports nothing of the project, so ``crawler`` and ``digest``
(which may not import each other, nor ``scheduler``) can share it.  Only what the standard
library does not already do lives here; see each module's docstring.
"""

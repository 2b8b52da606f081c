"""Digests: what a subscription has not been told yet, rendered and delivered exactly once.

``build`` reads a window of database positions, ``render`` turns it into text, HTML, chat
Markdown or JSON, ``channels`` send it, and ``outbox`` records windows and deliveries so that
every article reaches every channel once (retries carry the same idempotency key).
Imports ``storage``, never ``crawler``.
"""

"""Async ONTAP REST client (aiohttp) and the shared error-code table."""

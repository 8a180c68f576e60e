"""ONTAP step machines: what one unit of a rotate, sync, plan, sweep or apply does to its clusters.

Every mutation goes through ``journaled``: the intent is durable before the request is sent.
"""

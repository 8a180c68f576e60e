"""Benchmarks: fleet against its peers (netapp-ontap thread pools, Ansible) on the same simulated fleet.

Outside the test run on purpose: every figure comes from real processes (the simulator in its own
process, each tool in another) so CPU and memory are the tool's, not the harness's.
``python -m bench`` runs the comparison; ``python -m bench.sim_throughput`` measures the simulator.
"""

"""Test helpers that ship with UniScale: a synthetic workload and a loopback provider server."""

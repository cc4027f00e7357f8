"""Test helpers: throwaway servers (servers.py) and the pytest fixtures around them (fixtures.py)."""
